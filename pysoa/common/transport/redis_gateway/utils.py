"""Queue naming shared by the Redis client and server transports."""

__all__ = ('make_redis_queue_name',)


def make_redis_queue_name(service_name: str) -> str:
    """The name (without the `pysoa:` prefix) of the queue a service receives its requests on."""
    return 'service.' + service_name
