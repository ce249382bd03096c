"""A transport named for a log line: where its Redis is (hosts, database, TLS; never a password), else its class."""

from pysoa.common.transport.redis_gateway.options import TransportOptions
from pysoa.common.transport.redis_gateway.redis_url import describe_redis_address

__all__ = ('describe_transport',)


def describe_transport(transport: object) -> str:
    """`Redis host:6379 db 0, TLS off` for a Redis transport; the class name of any other transport."""
    options = getattr(getattr(transport, 'core', None), 'options', None)
    if isinstance(options, TransportOptions):
        return describe_redis_address(options.backend_type, options.backend_layer_kwargs)
    return f'transport {type(transport).__name__}'
