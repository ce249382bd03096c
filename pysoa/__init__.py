"""pysoa: RPC between Python microservices over Redis."""

from pysoa.version import __version__, __version_info__

__all__ = ['__version__', '__version_info__']
