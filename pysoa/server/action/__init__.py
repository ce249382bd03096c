"""Actions: the units of work a service exposes (`Action`, plus status, introspection and switched actions)."""

from pysoa.server.action.base import Action

__all__ = ('Action',)
