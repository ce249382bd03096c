"""The Redis commands of a concurrent worker's server transport, awaited on its event loop (redis-py's asyncio client).

Each is the awaitable twin of a blocking command in `direct`, `scripts` or `in_flight`, on the same keys and the same
`.lua` scripts (`scripts.load_script`), so both kinds of worker serve one queue together. `async_twin` opens an
asyncio client on the server that a blocking client of the backend talks to, so the ring of servers (which queue
lives where) stays the backend's business. Time limits are the caller's (`asyncio.timeout`): the connections have
no socket timeout of their own, so a blocking pop waits as long as it was asked to.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.connection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from pysoa.common.transport.redis_gateway.backend import in_flight
from pysoa.common.transport.redis_gateway.backend.direct import CommandArgument
from pysoa.common.transport.redis_gateway.backend.scripts import SEND_SCRIPT, LuaScript, load_script

__all__ = (
    'AsyncRedis',
    'ScriptBatcher',
    'ScriptRunner',
    'acknowledge',
    'async_twin',
    'count_delivery',
    'dead_letter',
    'move_to_in_flight',
    'pop',
    'pop_queued',
    'push',
    'recover',
    'release',
    'reply_and_acknowledge',
    'run_script',
)

AsyncRedis = redis.asyncio.Redis
"""redis-py's asyncio client."""

_ASYNC_CONNECTION_CLASSES: dict[str, type[redis.asyncio.connection.AbstractConnection]] = {
    'Connection': redis.asyncio.connection.Connection,
    'SSLConnection': redis.asyncio.connection.SSLConnection,
    'UnixDomainSocketConnection': redis.asyncio.connection.UnixDomainSocketConnection,
}

# Keys the blocking pool holds that have no asyncio meaning (its own retry object, its own timeouts, bookkeeping).
_NOT_COPIED = frozenset({'retry', 'socket_timeout'})

_COUNTS = load_script('count_delivery')
_ACKNOWLEDGE = load_script('acknowledge')
_REPLY_AND_ACKNOWLEDGE = load_script('reply_and_acknowledge')
_RECOVER = load_script('recover')
_RELEASE = load_script('release')
_DEAD_LETTER = load_script('dead_letter')


def _parameters(connection_class: type) -> set[str]:
    names: set[str] = set()
    for klass in connection_class.__mro__:
        init = klass.__dict__.get('__init__')
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return names


def async_twin(client: redis.Redis) -> AsyncRedis:
    """An asyncio client of the server (and database, credentials, TLS) that the blocking `client` talks to.

    Raises ValueError when the blocking client's connections are of a kind this module cannot mirror.
    """
    pool = client.connection_pool
    connection_class = _ASYNC_CONNECTION_CLASSES.get(pool.connection_class.__name__)
    if connection_class is None:
        raise ValueError(
            f'A concurrent worker cannot talk to Redis through {pool.connection_class.__name__} connections; '
            f'expected one of {", ".join(sorted(_ASYNC_CONNECTION_CLASSES))}'
        )
    accepted = _parameters(connection_class) - _NOT_COPIED
    kwargs: dict[str, Any] = {k: v for k, v in pool.connection_kwargs.items() if k in accepted}
    # The blocking backend's policy: one quick retry rides out a dropped connection.
    kwargs['retry'] = Retry(ExponentialBackoff(cap=0.2, base=0.02), 1)
    kwargs['socket_timeout'] = None
    async_pool = redis.asyncio.ConnectionPool(connection_class=connection_class, **kwargs)
    return redis.asyncio.Redis(connection_pool=async_pool)


async def _execute(connection: AsyncRedis, *args: object) -> object:
    result: object = await connection.execute_command(*args)  # type: ignore[no-untyped-call]  # untyped in redis-py
    return result


async def run_script(connection: AsyncRedis, script: LuaScript, keys: Sequence[str], args: Sequence[object]) -> object:
    """Run `script` on `connection`'s server, loading it there first if that server lacks it."""
    try:
        return await _execute(connection, 'EVALSHA', script.sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        await _execute(connection, 'SCRIPT', 'LOAD', script.source)
        return await _execute(connection, 'EVALSHA', script.sha, len(keys), *keys, *args)


ScriptRunner = Callable[[LuaScript, Sequence[str], Sequence[object]], Awaitable[object]]
"""Runs a script with its keys and arguments: `ScriptBatcher.run`, or `functools.partial(run_script, connection)`."""


class ScriptBatcher:
    """Runs the scripts that the tasks of one turn of the event loop ask for on one server in one round trip.

    A concurrent worker answers many jobs at once: sending each answer alone costs a system call and a connection
    each. The scripts go out as a pipeline (not a transaction: each script is atomic on its own, as when run alone),
    and each caller gets its own script's result or error. A server that lacks a script is sent it, and that
    script is run again, alone.
    """

    def __init__(self, connection: AsyncRedis, time_limit: float) -> None:
        self._connection = connection
        self._time_limit = time_limit
        self._pending: list[tuple[tuple[LuaScript, Sequence[str], Sequence[object]], asyncio.Future[object]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[object]) -> object:
        """Run `script` with the scripts the other tasks of this turn run, and return its result (or raise)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush_soon)  # after the tasks already ready in this turn have asked too
        self._pending.append(((script, keys, args), future))
        return await future

    def _flush_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self) -> None:
        batch, self._pending = [call for call in self._pending if not call[1].done()], []
        try:
            async with asyncio.timeout(self._time_limit):
                results = await self._send([call for call, _ in batch])
        except Exception as error:
            results = [error] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # its caller gave up waiting
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _send(self, calls: list[tuple[LuaScript, Sequence[str], Sequence[object]]]) -> list[object]:
        if len(calls) == 1:
            try:
                return [await run_script(self._connection, *calls[0])]
            except redis.ResponseError as error:
                return [error]
        pipeline = self._connection.pipeline(transaction=False)
        for script, keys, args in calls:
            pipeline.execute_command('EVALSHA', script.sha, len(keys), *keys, *args)
        results: list[object] = await pipeline.execute(raise_on_error=False)
        for index, result in enumerate(results):
            if isinstance(result, redis.exceptions.NoScriptError):
                try:
                    results[index] = await run_script(self._connection, *calls[index])
                except redis.ResponseError as error:
                    results[index] = error
        return results


async def pop(connection: AsyncRedis, queue: str, timeout: float) -> object:
    """BLPOP one element of `queue`, waiting up to `timeout` seconds; None when none came."""
    reply = await _execute(connection, 'BLPOP', queue, timeout)
    if not isinstance(reply, list | tuple) or len(reply) != 2:
        return None
    return reply[1]


async def pop_queued(connection: AsyncRedis, queue: str, count: int) -> list[object]:
    """Up to `count` elements already in `queue` (LPOP with a count, Redis 6.2 and later), without waiting."""
    reply = await _execute(connection, 'LPOP', queue, count)
    return list(reply) if isinstance(reply, list | tuple) else []


async def push(run: 'ScriptRunner', queue: str, elements: bytes | list[bytes], *, expiry: int, capacity: int) -> bool:
    """Push one message (or all its chunks) below `capacity` through `send.lua`; False when the queue was full."""
    chunks: list[CommandArgument] = [elements] if isinstance(elements, bytes) else list(elements)
    try:
        await run(SEND_SCRIPT, (queue,), (expiry, capacity, *chunks))
    except redis.ResponseError as error:
        if 'queue full' in str(error):
            return False
        raise
    return True


async def move_to_in_flight(connection: AsyncRedis, queue: str, in_flight_list: str, timeout: float) -> object:
    """BLMOVE the first request of `queue` into `in_flight_list`, waiting up to `timeout`; None when none came."""
    return await _execute(connection, 'BLMOVE', queue, in_flight_list, 'LEFT', 'RIGHT', timeout)


async def count_delivery(connection: AsyncRedis, keys: in_flight.DeliveryKeys, digest: str, keep_seconds: int) -> int:
    """Count one more delivery of the request named `digest`; returns how often it has now been delivered."""
    return in_flight.as_int(await run_script(connection, _COUNTS, (keys.deliveries,), (digest, keep_seconds)))


async def acknowledge(
    connection: AsyncRedis, keys: in_flight.DeliveryKeys, worker: str, element: bytes, digest: str
) -> None:
    """Remove the request from `worker`'s in-flight list and forget its delivery count."""
    await run_script(connection, _ACKNOWLEDGE, (keys.in_flight(worker), keys.deliveries), (element, digest))


async def reply_and_acknowledge(
    run: 'ScriptRunner',
    reply_queue: str,
    keys: in_flight.DeliveryKeys,
    worker: str,
    request: tuple[bytes, str],
    response: bytes | list[bytes],
    *,
    expiry: int,
    capacity: int,
) -> bool:
    """Push `response` and acknowledge `request` in one atomic step (`reply_and_acknowledge.lua`); False if full."""
    elements = [response] if isinstance(response, bytes) else list(response)
    keys_used = (reply_queue, keys.in_flight(worker), keys.deliveries)
    try:
        await run(_REPLY_AND_ACKNOWLEDGE, keys_used, (expiry, capacity, *request, *elements))
    except redis.ResponseError as error:
        if 'queue full' in str(error):
            return False
        raise
    return True


async def recover(connection: AsyncRedis, keys: in_flight.DeliveryKeys, worker: str) -> list[tuple[str, int]]:
    """Return the in-flight requests of workers whose heartbeat lapsed to the front of the queue (`recover.lua`)."""
    flat = in_flight.as_list(await run_script(connection, _RECOVER, (keys.queue, keys.workers), (keys.prefix, worker)))
    return [(in_flight.as_text(flat[i]), in_flight.as_int(flat[i + 1])) for i in range(0, len(flat) - 1, 2)]


async def release(connection: AsyncRedis, keys: in_flight.DeliveryKeys, worker: str, keep: Sequence[str]) -> int:
    """Return `worker`'s in-flight requests except those in `keep` (digests) to the front of the queue."""
    return in_flight.as_int(await run_script(connection, _RELEASE, (keys.in_flight(worker), keys.queue), tuple(keep)))


async def dead_letter(
    connection: AsyncRedis,
    keys: in_flight.DeliveryKeys,
    element: bytes,
    record: in_flight.DeadLetterRecord,
    *,
    keep_seconds: int,
    capacity: int,
) -> None:
    """Move the request from its worker's in-flight list to the dead letters, described by `record`."""
    await run_script(
        connection, _DEAD_LETTER, *in_flight.dead_letter_arguments(keys, element, record, keep_seconds, capacity)
    )
