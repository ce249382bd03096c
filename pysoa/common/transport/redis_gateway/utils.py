"""Queue naming shared by the Redis client and server transports."""

from pysoa.common.transport.redis_gateway.backend.registry import BACKEND_CLASSES

__all__ = ('make_redis_queue_name', 'service_queue_name')


def make_redis_queue_name(service_name: str, *, hash_tag: bool = False) -> str:
    """The name (without the `pysoa:` prefix) of the queue a service receives its requests on.

    With `hash_tag` (Redis Cluster) it is `{service.<name>}`: every key named after it hashes to one slot.
    """
    return '{service.' + service_name + '}' if hash_tag else 'service.' + service_name


def service_queue_name(service_name: str, backend_type: object = None) -> str:
    """The queue name of a service on a backend of `backend_type` (hash-tagged on Redis Cluster).

    None (not given) is the standard backend; an unknown type gets the plain name: the transport's settings
    refuse it, with their own message.
    """
    backend_class = BACKEND_CLASSES.get(backend_type) if isinstance(backend_type, str) else None
    return make_redis_queue_name(service_name, hash_tag=backend_class is not None and backend_class.QUEUE_HASH_TAG)
