"""Queue naming shared by the Redis client and server transports."""

from pysoa.common.transport.redis_gateway.backend.registry import backend_class_for

__all__ = ('make_redis_queue_name', 'service_queue_name')


def make_redis_queue_name(service_name: str, *, hash_tag: bool = False) -> str:
    """The name (without the `pysoa:` prefix) of the queue a service receives its requests on.

    With `hash_tag` (Redis Cluster) it is `{service.<name>}`: every key named after it hashes to one slot.
    """
    return '{service.' + service_name + '}' if hash_tag else 'service.' + service_name


def service_queue_name(service_name: str, backend_type: str) -> str:
    """The queue name of a service on a backend of `backend_type` (hash-tagged on Redis Cluster)."""
    return make_redis_queue_name(service_name, hash_tag=backend_class_for(backend_type).QUEUE_HASH_TAG)
