"""The client side: call actions on services by name (`Client`), with middleware and expansions."""

from pysoa.client.client import Client

__all__ = ('Client',)
