"""Redis commands on a connection that the calling thread keeps, bypassing redis-py's per-command machinery.

A `redis.Redis` method checks a connection out of the pool and back in for every command, and wraps the
command in retry closures, event dispatch and observability recording: about 60 µs of CPU per command in
redis-py 8, more than Redis itself spends on a push or a pop, and a pysoa call makes four commands. A
transport thread issues its commands one after another, so each thread keeps one connection of each pool
for itself and drives it directly (send, then read). What the client would do is kept: the connection's
own retry policy (so a dropped connection is retried as before), reconnection after a failure, and a fresh
connection in a forked child. Anything that is not a plain `redis.Redis` (a subclass, a test double) is left
to its own methods (`blpop`, `register_script`), which is how PySOA 1.x called every client: doubles written for
1.x need not offer `execute_command`.

Inside `time_limit(seconds)` every command of the thread (connecting included) gives up with `redis.TimeoutError`
once the block's deadline (`seconds` from its start) has passed, and a timed-out command is not retried: a frozen or
unreachable Redis cannot hold a caller past its own deadline, and a push that may already sit in Redis's input is
not sent twice. Blocks nest: an inner block never reaches past the deadline of the block around it, so a call that
makes several commands (a Sentinel lookup, then a push) is bounded as a whole (`remaining_seconds` tells what is left).
"""

import contextlib
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.client import Redis
from redis.connection import ConnectionPool
from redis.retry import Retry

_pack_command: Callable[[tuple[Any, ...]], bytes] | None
try:
    import hiredis

    _pack_command = hiredis.pack_command
except ImportError:  # hiredis is optional: without it, the connection packs (in Python)
    _pack_command = None

__all__ = ('CommandArgument', 'execute_command', 'remaining_seconds', 'supports_direct_commands', 'time_limit')

CommandArgument = str | bytes | int | float
"""What pysoa passes as a Redis command argument (RESP has one encoding for each of these)."""

_HELD_ATTRIBUTE = '_pysoa_held_connections'
"""The pool attribute holding each thread's connection: it lives and dies with the pool (Sentinel replaces pools)."""

_RETRYABLE = (redis.ConnectionError, redis.TimeoutError)
_GET_CONNECTION_NEEDS_NAME = (
    inspect.signature(ConnectionPool.get_connection).parameters['command_name'].default is inspect.Parameter.empty
)
"""redis-py before 5.3 wants a command name to check a connection out; later versions warn when given one."""


class _HeldConnection(threading.local):
    connection: Any = None
    pid = 0
    timeout: float | None = None  # the socket timeout last set on `connection`


class _Limit(threading.local):
    deadline: float | None = None  # time.monotonic() by which every command of the thread must be done


_limit = _Limit()

_LEAST_SECONDS = 0.001
"""What a command is given once the deadline has passed: it fails at once instead of waiting without bound."""


@contextlib.contextmanager
def time_limit(seconds: float, *, within_outer: bool = True) -> Iterator[None]:
    """Within the block, this thread's Redis commands end `seconds` from now at the latest (see the docstring).

    Without `within_outer` the block ignores the deadline of the blocks around it: for work that has its own
    budget whoever waits outside (a worker confirming a request it took, which no caller is waiting on).
    """
    previous = _limit.deadline
    deadline = time.monotonic() + max(seconds, 0.0)
    _limit.deadline = deadline if previous is None or not within_outer else min(previous, deadline)
    try:
        yield
    finally:
        _limit.deadline = previous


def remaining_seconds() -> float | None:
    """How long this thread's commands may still take (at least 1 ms), or None outside any `time_limit` block."""
    deadline = _limit.deadline
    return None if deadline is None else max(deadline - time.monotonic(), _LEAST_SECONDS)


def supports_direct_commands(client: object) -> bool:
    """Whether `client` is a plain redis-py client over a connection pool (not a test double or a subclass)."""
    return (
        type(client) is Redis
        and client.connection is None  # a single-connection client serializes its commands with a lock
        and isinstance(client.connection_pool, ConnectionPool)
    )


def execute_command(client: Redis, *args: CommandArgument) -> object:
    """Send one command on this thread's connection of `client`'s pool and return the raw reply.

    Raises what redis-py raises (`ResponseError` for an error reply, with the connection still usable;
    `ConnectionError` or `TimeoutError` once the connection's retry policy is exhausted). Replies are not
    post-processed: BLPOP gives `[key, value]` or None.
    """
    pool = client.connection_pool
    connection = _held_connection(pool)
    limit = remaining_seconds()
    _apply_timeout(pool, connection, limit)
    if limit is None:
        try:
            return _round_trip(connection, args)
        except _RETRYABLE as error:
            return _retry(connection, args, error)
    deadline = time.monotonic() + limit
    try:
        if connection._sock is None:
            _connect_once(connection)
        return _round_trip(connection, args)
    except redis.ConnectionError as error:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise
        # The retry (a dropped connection, say) shares what is left of the limit.
        _apply_timeout(pool, connection, remaining)
        return _retry(connection, args, error)


def _apply_timeout(pool: ConnectionPool, connection: Any, limit: float | None) -> None:
    """Give `connection` the socket timeouts of the limit in force (or those configured when there is none)."""
    held: _HeldConnection = pool.__dict__[_HELD_ATTRIBUTE]
    configured = pool.connection_kwargs.get('socket_timeout')
    timeout = configured if limit is None else limit
    if held.timeout == timeout and (connection._sock is None or connection._sock.gettimeout() == timeout):
        return
    held.timeout = timeout
    # Read when (re)connecting, for the connect itself and the handshake after it.
    connection.socket_timeout = timeout
    connect_timeout = pool.connection_kwargs.get('socket_connect_timeout')
    if limit is not None and (connect_timeout is None or connect_timeout > limit):
        connect_timeout = limit
    connection.socket_connect_timeout = connect_timeout
    sock = connection._sock
    if sock is not None:
        sock.settimeout(timeout)


def _round_trip(connection: Any, args: tuple[CommandArgument, ...]) -> object:
    try:
        if _pack_command is not None:
            # What redis-py's own hiredis packer produces (RESP has one encoding of our str, bytes and int
            # arguments), without its per-argument conversions.
            connection.send_packed_command([_pack_command(args)])
        else:
            connection.send_command(*args)
        return connection.read_response()
    except redis.ResponseError:
        raise  # the whole error reply was read: the connection is in step
    except BaseException:
        # Interrupted between sending and reading (a harakiri alarm, say): the reply would be read by the next
        # command, so the connection must start again.
        connection.disconnect()
        raise


def _retry(connection: Any, args: tuple[CommandArgument, ...], first_error: Exception) -> object:
    """Apply the connection's retry policy, counting the failure that already happened as the first attempt."""
    pending: list[Exception] = [first_error]

    def attempt() -> object:
        if pending:
            raise pending.pop()
        return _round_trip(connection, args)

    return connection.retry.call_with_retry(attempt, lambda _error: connection.disconnect())


def _connect_once(connection: Any) -> None:
    """Connect (and shake hands) once, under the socket timeouts just applied: the connection's retry policy would
    make that twice the time limit."""
    retry, connection.retry = connection.retry, _NO_RETRY
    try:
        connection.connect()
    finally:
        connection.retry = retry


_NO_RETRY = Retry(NoBackoff(), 0)


def _held_connection(pool: ConnectionPool) -> Any:
    held: _HeldConnection | None = pool.__dict__.get(_HELD_ATTRIBUTE)
    if held is None:
        held = pool.__dict__.setdefault(_HELD_ATTRIBUTE, _HeldConnection())
    connection = held.connection
    pid = os.getpid()
    if connection is None or held.pid != pid:
        # A connection inherited through fork belongs to the parent; the pool makes the child its own.
        connection = _new_connection(pool)
        held.connection = connection
        held.pid = pid
    return connection


def _new_connection(pool: Any) -> Any:
    """A connection of `pool`'s, not yet connected: it connects on its first command, under that command's time
    limit (`ConnectionPool.get_connection` would connect at once, with the configured timeouts: none for reads)."""
    lock = getattr(pool, '_lock', None)
    in_use = getattr(pool, '_in_use_connections', None)
    if lock is None or not isinstance(in_use, set):  # another redis-py: let it connect as it does
        return pool.get_connection('_') if _GET_CONNECTION_NEEDS_NAME else pool.get_connection()
    check_pid = getattr(pool, '_checkpid', None)
    if callable(check_pid):
        check_pid()  # a pool inherited through fork starts again in the child
    with lock:
        connection = pool.make_connection()
        in_use.add(connection)  # so that the pool's `disconnect()` closes it, as it did when checked out
    return connection
