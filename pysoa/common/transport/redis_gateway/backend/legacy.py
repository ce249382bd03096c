"""A backend written for PySOA 1.x's transport core, driven through the `push`/`pop` interface of ours.

1.x tests (and some users' code) replace a core's backend with an object of their own that offers what the 1.x
core called: `get_connection(queue_key)`, `send_message_to_queue(queue_key=, message=, expiry=, capacity=,
connection=)` (raising `ResponseError('queue full')`), and a connection with `blpop([key], timeout=)`. Such an
object keeps working: the core wraps it in `LegacyBackend` and calls it the 1.x way.
"""

from collections.abc import Sequence
from typing import Protocol, cast

import redis

from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient

__all__ = ('LegacyBackend', 'driven')


class _OneXConnection(Protocol):
    def blpop(self, keys: list[str], timeout: float) -> Sequence[object] | None: ...


class _OneXBackend(Protocol):
    def get_connection(self, queue_key: str) -> object: ...

    def send_message_to_queue(
        self, *, queue_key: str, message: bytes, expiry: int, capacity: int, connection: object
    ) -> None: ...


class LegacyBackend:
    """Adapts a duck-typed 1.x backend to the methods the core calls on its own backends."""

    __slots__ = ('_backend',)

    def __init__(self, backend: _OneXBackend) -> None:
        self._backend = backend

    def get_connection(self, queue_key: str) -> redis.Redis:
        """The backend's connection for `queue_key`."""
        # A stand-in of the backend's choosing: the core only hands it back to `push` and `pop` below.
        return cast(redis.Redis, self._backend.get_connection(queue_key))

    def push(
        self,
        connection: object,
        queue_key: str,
        elements: bytes | Sequence[bytes],
        *,
        expiry: int,
        capacity: int,
    ) -> bool:
        """Each element through `send_message_to_queue`, in order; False when the backend says the queue is full."""
        for element in (elements,) if isinstance(elements, bytes) else elements:
            try:
                self._backend.send_message_to_queue(
                    queue_key=queue_key,
                    message=element,
                    expiry=expiry,
                    capacity=capacity,
                    connection=connection,
                )
            except redis.ResponseError as error:
                if 'queue full' in str(error):
                    return False
                raise
        return True

    def pop(self, connection: object, queue_key: str, timeout: float) -> object:
        """The first element of `queue_key` through the connection's `blpop`; None if none came in time."""
        reply = cast(_OneXConnection, connection).blpop([queue_key], timeout=timeout)
        return reply[1] if reply else None

    def reset_clients(self) -> None:
        """Forwarded when the backend has it (1.x backends did; a test double may not)."""
        reset = getattr(self._backend, 'reset_clients', None)
        if callable(reset):
            reset()


def driven(backend: object) -> 'BaseRedisClient | LegacyBackend':
    """`backend` itself when it is one of ours, else the 1.x-style object wrapped so that it is driven the 1.x way."""
    if isinstance(backend, BaseRedisClient):
        return backend
    return LegacyBackend(cast(_OneXBackend, backend))  # duck-typed, as the 1.x core took it
