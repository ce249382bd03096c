"""What every Redis backend offers: a connection per queue, and the commands pysoa sends on it.

Request queues are spread over all the backend's Redis servers (a shuffled round robin); a reply
queue always lives on the server picked by hashing its name, so a client and any server agree on
it without talking to each other. Every Redis command pysoa issues is a method here (`push`, `pop`),
sent on the calling thread's own connection (`direct`) when the client is a plain redis-py one.
"""

import abc
import binascii
import itertools
import random
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from pysoa.common.transport.errors import ConnectionError as TransportConnectionError
from pysoa.common.transport.redis_gateway.backend.direct import execute_command, supports_direct_commands
from pysoa.common.transport.redis_gateway.backend.scripts import run_unless_full, send_call, send_marked_call
from pysoa.common.transport.redis_gateway.constants import RESPONSE_QUEUE_SPECIFIER

__all__ = (
    'BaseRedisClient',
    'CannotGetConnectionError',
    'ClusterNodeError',
    'ReplacedMasterError',
    'consistent_hash_index',
)


def consistent_hash_index(value: str | bytes, ring_size: int) -> int:
    """The ring index of a reply queue: CRC-32 down to 0..4095, scaled to `ring_size` (see
    `BaseRedisClient._get_consistent_hash_index`; the asyncio backends place queues with it too)."""
    data = value.encode('utf-8') if isinstance(value, str) else value
    return int((binascii.crc32(data) & 0xFFF) / (4096.0 / ring_size))


class CannotGetConnectionError(TransportConnectionError):
    """No Redis connection could be had for a queue (for example, no master during a Sentinel failover)."""


class ClusterNodeError(redis.ResponseError):
    """A Redis Cluster node answered MOVED to a backend that does not know Redis Cluster (a settings mistake)."""


def _cluster_node_error(error: redis.exceptions.MovedError) -> ClusterNodeError:
    return ClusterNodeError(
        f'This Redis is a Redis Cluster node (it answered MOVED {error.args[0] if error.args else ""}): a service on '
        "Redis Cluster needs backend_type 'redis.cluster' on every client and server (docs/cluster.rst)"
    )


class ReplacedMasterError(redis.ConnectionError):
    """A request was taken from a Redis master that a failover replaced: it is not run here (the new master has it)."""


class BaseRedisClient(abc.ABC):
    """A ring of Redis servers (hosts, or Sentinel masters) that queues are placed on."""

    DEFAULT_PORT: ClassVar[int]
    """The port of a `hosts` entry given as a bare host name."""
    ACCEPTS_URLS: ClassVar[bool] = False
    """Whether `hosts` entries may be redis://, rediss:// or unix:// URLs."""
    QUEUE_HASH_TAG: ClassVar[bool] = False
    """Whether queue names carry a hash tag (`{service.<name>}`), so that all keys of a service share a slot."""
    DEFAULT_RECEIVE_TIMEOUT = 5
    RESPONSE_QUEUE_SPECIFIER = RESPONSE_QUEUE_SPECIFIER

    def __init__(self, ring_size: int) -> None:
        if ring_size < 1:
            raise ValueError('A Redis backend needs at least one server')
        self._ring_size = ring_size
        self._request_queue_indexes = itertools.cycle(random.SystemRandom().sample(range(ring_size), k=ring_size))

    @classmethod
    def check_settings(cls, **backend_layer_kwargs: Any) -> None:
        """Raise ValueError if this backend could not be built from these arguments; no I/O, nothing kept."""
        return None

    def get_connection(self, queue_key: str) -> redis.Redis:
        """The connection for `queue_key`: hashed for a reply queue, the next in the rotation for a request queue."""
        if self.RESPONSE_QUEUE_SPECIFIER in queue_key:
            return self._get_connection(self._get_consistent_hash_index(queue_key))
        return self._get_connection(next(self._request_queue_indexes))

    def all_connections(self) -> list[redis.Redis]:
        """A connection to each server of the ring, in ring order (each holds its own share of a service's queue)."""
        return [self._get_connection(index) for index in range(self._ring_size)]

    def connections_for(self, queue_key: str) -> list[redis.Redis]:
        """The connections to every server that may hold keys of the service queue `queue_key` (all of the ring)."""
        return self.all_connections()

    @abc.abstractmethod
    def _get_connection(self, index: int) -> redis.Redis:
        """The connection to server number `index` of the ring."""

    def push(
        self,
        connection: redis.Redis,
        queue_key: str,
        elements: bytes | Sequence[bytes],
        *,
        expiry: int,
        capacity: int,
    ) -> bool:
        """Push one element, or every element of a sequence contiguously, onto `queue_key` in one round trip.

        The queue then expires after `expiry` seconds. Returns False, pushing nothing, when the queue already
        holds `capacity` elements; a Redis failure raises what redis-py raises.
        """
        try:
            return run_unless_full(send_call(queue_key, elements, expiry, capacity), connection)
        except redis.exceptions.MovedError as error:
            if self.QUEUE_HASH_TAG:
                raise
            raise _cluster_node_error(error) from error

    @property
    def marks_sends(self) -> bool:
        """Whether a client should record each request it sends beside it (`push_marked`): where a failover can
        lose a pushed request and the client must find out whether the new master has it (`failover_resend`)."""
        return False

    def push_marked(
        self,
        connection: redis.Redis,
        queue_key: str,
        elements: bytes | Sequence[bytes],
        *,
        expiry: int,
        capacity: int,
        sent_key: str,
        request_id: int,
        forget_below: int,
    ) -> bool:
        """`push`, also adding `request_id` to the sorted set `sent_key` on the same server in the same step (and
        forgetting the ids below `forget_below`); False, doing nothing, when the queue is full."""
        call = send_marked_call(queue_key, elements, expiry, capacity, sent_key, request_id, forget_below)
        return run_unless_full(call, connection)

    def was_pushed(self, connection: redis.Redis, sent_key: str, request_id: int) -> bool:
        """Whether the server of `connection` holds the record `push_marked` left of `request_id` in `sent_key`."""
        if supports_direct_commands(connection):
            return execute_command(connection, 'ZSCORE', sent_key, request_id) is not None
        return connection.zscore(sent_key, request_id) is not None

    def pop(self, connection: redis.Redis, queue_key: str, timeout: float) -> object:
        """Take the first element of `queue_key`, waiting up to `timeout` seconds (BLPOP); None if none came.

        The element is bytes, unless the connection was configured to decode responses.
        """
        try:
            if supports_direct_commands(connection):
                reply = execute_command(connection, 'BLPOP', queue_key, timeout)
            else:
                reply = connection.blpop([queue_key], timeout=timeout)
        except redis.exceptions.MovedError as error:
            if self.QUEUE_HASH_TAG:
                raise
            raise _cluster_node_error(error) from error
        if reply and self.RESPONSE_QUEUE_SPECIFIER not in queue_key:
            self.check_taken(connection)  # a request: run only if no failover can bring it back
        return cast('Sequence[object]', reply)[1] if reply else None  # a BLPOP reply is [key, element]

    def confirm_taken(self, connection: redis.Redis) -> bool:
        """Whether a request just taken (or an answer just written) on `connection` is safe from a failover.

        Servers that never fail over have nothing to check; the Sentinel backend asks (see `failover_guard`).
        """
        return True

    def check_taken(self, connection: redis.Redis) -> None:
        """`confirm_taken`, raising `ReplacedMasterError` for a no (a transient error: the worker tries again)."""
        if not self.confirm_taken(connection):
            raise ReplacedMasterError(
                'A request was taken from a Redis master that a failover has replaced (or is replacing); it is left '
                'to be served from the new master'
            )

    def current_connection(self, connection: redis.Redis) -> redis.Redis:
        """The connection that now serves the place of the ring `connection` was handed out for (after a failover,
        the new master's); where servers never move, `connection` itself."""
        return connection

    def send_message_to_queue(
        self,
        queue_key: str,
        message: bytes | Sequence[bytes],
        expiry: int,
        capacity: int,
        connection: redis.Redis,
    ) -> None:
        """`push` under its 1.x name; raises `redis.ResponseError('queue full')` when the queue is full."""
        if not self.push(connection, queue_key, message, expiry=expiry, capacity=capacity):
            raise redis.ResponseError('queue full')

    def _get_consistent_hash_index(self, value: str | bytes) -> int:
        """Map a queue name to a ring index: CRC-32 down to 0..4095, scaled to the ring size.

        The float arithmetic is deliberate: it is the formula PySOA 1.x peers use, so both sides pick
        the same server even at the bucket edges.
        """
        return consistent_hash_index(value, self._ring_size)

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
