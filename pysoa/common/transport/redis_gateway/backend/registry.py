"""Which class serves each `backend_type`, and the backends shared by transports with equal settings.

A new backend is one module subclassing `BaseRedisClient` and one line in
`BACKEND_CLASSES`; the settings schema and the transports take their list of types from here.
"""

import threading
from collections.abc import Callable, Hashable, Mapping

from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient
from pysoa.common.transport.redis_gateway.backend.cluster import ClusterRedisClient
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.backend.standard import StandardRedisClient
from pysoa.common.transport.redis_gateway.constants import (
    REDIS_BACKEND_TYPE_CLUSTER,
    REDIS_BACKEND_TYPE_SENTINEL,
    REDIS_BACKEND_TYPE_STANDARD,
)
from pysoa.utils import dict_to_hashable

__all__ = ('BACKEND_CLASSES', 'SHARED_BACKENDS', 'backend_class_for', 'shared_backend')

BACKEND_CLASSES: Mapping[str, type[BaseRedisClient]] = {
    REDIS_BACKEND_TYPE_STANDARD: StandardRedisClient,
    REDIS_BACKEND_TYPE_SENTINEL: SentinelRedisClient,
    REDIS_BACKEND_TYPE_CLUSTER: ClusterRedisClient,
}
"""`backend_type` (as settings name it) to the class that serves it."""

SHARED_BACKENDS: dict[tuple[str, Hashable], BaseRedisClient] = {}
"""Backends hold connection pools; transports with equal backend settings share one (even across services)."""

_shared_backends_lock = threading.Lock()


def backend_class_for(backend_type: str) -> type[BaseRedisClient]:
    """The class serving `backend_type`; ValueError naming the known types if there is none."""
    backend_class = BACKEND_CLASSES.get(backend_type) if isinstance(backend_type, str) else None
    if backend_class is None:
        raise ValueError(f'backend_type must be one of {tuple(BACKEND_CLASSES)}, got {backend_type!r}')
    return backend_class


def shared_backend(
    backend_type: str,
    backend_layer_kwargs: Mapping[str, object],
    create: Callable[[], BaseRedisClient],
    cache: dict[tuple[str, Hashable], BaseRedisClient] = SHARED_BACKENDS,
) -> BaseRedisClient:
    """The backend already built for these settings, or a new one from `create`, kept in `cache` for the next caller."""
    settings: dict[Hashable, object] = {name: value for name, value in backend_layer_kwargs.items()}
    key: tuple[str, Hashable] | None
    try:
        key = (backend_type, dict_to_hashable(settings))
        hash(key)
    except TypeError:  # settings holding unhashable objects just do not share a backend
        key = None
    with _shared_backends_lock:
        backend = cache.get(key) if key else None
        if backend is None:
            backend = create()
            if key:
                cache[key] = backend
    return backend
