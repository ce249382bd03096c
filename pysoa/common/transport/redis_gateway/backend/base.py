"""What every Redis backend offers: a connection per queue, and the one-round-trip send script.

Request queues are spread over all the backend's Redis servers (a shuffled round robin); a reply
queue always lives on the server picked by hashing its name, so a client and any server agree on
it without talking to each other.
"""

import abc
import binascii
import hashlib
import importlib.resources
import itertools
import random
from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from pysoa.common.transport.errors import ConnectionError as TransportConnectionError
from pysoa.common.transport.redis_gateway.backend.direct import execute_command, supports_direct_commands
from pysoa.common.transport.redis_gateway.constants import RESPONSE_QUEUE_SPECIFIER

__all__ = ('BaseRedisClient', 'CannotGetConnectionError', 'SendMessageToQueueCommand')

SEND_SCRIPT = importlib.resources.files('pysoa.common.transport.redis_gateway').joinpath('send.lua').read_text()
"""The Lua source of the send command, read once at import."""

SEND_SCRIPT_SHA = hashlib.sha1(SEND_SCRIPT.encode('utf-8')).hexdigest()
"""What Redis calls the send script once loaded (EVALSHA)."""


class CannotGetConnectionError(TransportConnectionError):
    """No Redis connection could be had for a queue (for example, no master during a Sentinel failover)."""


class SendMessageToQueueCommand:
    """The send script, registered once; each call runs it on the given connection (EVALSHA, loading if needed)."""

    def __init__(self, redis_connection: redis.Redis) -> None:
        # The connection only lends its encoder to the script object; calls always pass their own.
        self._script = redis_connection.register_script(SEND_SCRIPT)

    def __call__(
        self,
        queue_key: str,
        message: bytes | Sequence[bytes],
        expiry: int,
        capacity: int,
        connection: redis.Redis,
    ) -> None:
        """Push `message` (or every element of a sequence of chunks, contiguously) onto `queue_key`.

        Raises `redis.ResponseError('queue full')` when the queue holds `capacity` elements or more.
        """
        if isinstance(message, (bytes, bytearray, memoryview)):
            arguments: Sequence[Any] = (expiry, capacity, message)
        else:
            arguments = (expiry, capacity, *message)
        if supports_direct_commands(connection):
            try:
                execute_command(connection, 'EVALSHA', SEND_SCRIPT_SHA, 1, queue_key, *arguments)
            except redis.exceptions.NoScriptError:
                # A server that restarted, or was never sent the script: load it and run it, as EVALSHA users do.
                execute_command(connection, 'SCRIPT', 'LOAD', SEND_SCRIPT)
                execute_command(connection, 'EVALSHA', SEND_SCRIPT_SHA, 1, queue_key, *arguments)
        else:
            self._script(keys=[queue_key], args=arguments, client=connection)


class BaseRedisClient(abc.ABC):
    """A ring of Redis servers (hosts, or Sentinel masters) that queues are placed on."""

    DEFAULT_RECEIVE_TIMEOUT = 5
    RESPONSE_QUEUE_SPECIFIER = RESPONSE_QUEUE_SPECIFIER

    def __init__(self, ring_size: int) -> None:
        if ring_size < 1:
            raise ValueError('A Redis backend needs at least one server')
        self._ring_size = ring_size
        self._request_queue_indexes = itertools.cycle(random.sample(range(ring_size), k=ring_size))
        self.send_message_to_queue = SendMessageToQueueCommand(self._script_host_connection())

    def _script_host_connection(self) -> redis.Redis:
        """A connection object to register the script with; it is never used to talk to Redis."""
        return redis.Redis()

    def get_connection(self, queue_key: str) -> redis.Redis:
        """The connection for `queue_key`: hashed for a reply queue, the next in the rotation for a request queue."""
        if self.RESPONSE_QUEUE_SPECIFIER in queue_key:
            return self._get_connection(self._get_consistent_hash_index(queue_key))
        return self._get_connection(next(self._request_queue_indexes))

    @abc.abstractmethod
    def _get_connection(self, index: int) -> redis.Redis:
        """The connection to server number `index` of the ring."""

    def _get_consistent_hash_index(self, value: str | bytes) -> int:
        """Map a queue name to a ring index: CRC-32 down to 0..4095, scaled to the ring size.

        The float arithmetic is deliberate: it is the formula PySOA 1.x peers use, so both sides pick
        the same server even at the bucket edges.
        """
        data = value.encode('utf-8') if isinstance(value, str) else value
        return int((binascii.crc32(data) & 0xFFF) / (4096.0 / self._ring_size))

    def reset_clients(self) -> None:
        """Forget cached connections after an error; a backend whose servers never move has nothing to forget."""
        return None

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self._ring_size:
            raise ValueError(f'There are only {self._ring_size} hosts, but you asked for connection {index}.')

    def close(self) -> None:
        """Close every connection this backend holds."""
        return None

    def __repr__(self) -> str:
        return f'<{type(self).__name__} ring_size={self._ring_size}>'

    @staticmethod
    def _with_default_connection_kwargs(connection_kwargs: dict[str, Any] | None) -> dict[str, Any]:
        kwargs = dict(connection_kwargs or {})
        # Without a connect timeout a dead host would hang a worker forever during a failover.
        kwargs.setdefault('socket_connect_timeout', 5.0)
        kwargs.setdefault('socket_keepalive', True)
        # redis-py (6 and later) reads with a 5 s socket timeout unless told otherwise, which cuts short every BLPOP
        # of 5 s or more (the default receive timeout) with a TimeoutError; blocking reads must wait as long as asked.
        kwargs.setdefault('socket_timeout', None)
        # redis-py's own default (ten retries with back-off) would stall a dead host for seconds per command;
        # one quick retry rides out a dropped connection, and the transport's callers handle the rest.
        if 'retry' not in kwargs:
            kwargs['retry'] = Retry(ExponentialBackoff(cap=0.2, base=0.02), 1)
        return kwargs
