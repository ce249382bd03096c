"""The Redis commands of pysoa's asyncio side, on `redis.asyncio`: the client's and the concurrent worker's alike.

They are the blocking backend's commands (`base.py`, `in_flight.py`) on the same keys: a push is `send.lua`, and
every script runs with EVALSHA (the source is sent once to a server that answers NOSCRIPT, then the call is
repeated), built by the same functions (`scripts.send_call`, `in_flight.*_call`); a pop is BLPOP, a taking into
flight BLMOVE, and what is already queued is taken with one LPOP with a count (`drain`).

Many tasks share one loop, so script runs are batched where that saves round trips: the runs asked for while an
earlier batch is on the wire go out together, pipelined on one connection (`ScriptBatcher`). Each stays its own
script run, atomic and answered on its own (a full queue, or an error, for that run alone).

Every command runs under a time limit taken from the caller's deadline (`asyncio.timeout`): a frozen or unreachable
Redis makes the command fail with `TimeoutError` once its limit has passed instead of holding the caller. redis-py
drops a connection whose command was cut short, so a reply never reaches the next command on that connection, and
it does not retry a command cut short, so a push that may already sit in Redis is not sent twice.
"""

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import redis
import redis.asyncio

from pysoa.common.transport.redis_gateway.backend.direct import CommandArgument
from pysoa.common.transport.redis_gateway.backend.scripts import ScriptCall, is_queue_full, send_call
from pysoa.common.transport.redis_gateway.queue_full import retry_delay

__all__ = (
    'DRAIN_COUNT',
    'ScriptBatcher',
    'ScriptRunner',
    'drain',
    'execute',
    'move_to_in_flight',
    'pop',
    'push',
    'push_while_full',
    'run_script',
    'run_unless_full',
)

DRAIN_COUNT = 128
"""The most elements taken in one LPOP."""

ScriptRunner = Callable[[ScriptCall, float], Awaitable[object]]
"""Runs a script call within a number of seconds: `ScriptBatcher.run`, or `run_script` bound to a connection."""


async def execute(connection: redis.asyncio.Redis, *args: CommandArgument, seconds: float) -> object:
    """Run one command on `connection`; `TimeoutError` when Redis has not answered within `seconds`."""
    command = cast('Callable[..., Awaitable[object]]', connection.execute_command)  # unannotated in redis-py
    async with asyncio.timeout(max(seconds, 0.001)):
        return await command(*args)


async def run_script(connection: redis.asyncio.Redis, call: ScriptCall, seconds: float) -> object:
    """Run `call` on `connection`'s server, loading its script there first if that server lacks it."""
    async with asyncio.timeout(max(seconds, 0.001)):
        try:
            return await execute(connection, *call.command, seconds=seconds)
        except redis.exceptions.NoScriptError:
            await execute(connection, 'SCRIPT', 'LOAD', call.script.source, seconds=seconds)
            return await execute(connection, *call.command, seconds=seconds)


async def drain(connection: redis.asyncio.Redis, queue_key: str, count: int, limit: float) -> list[object]:
    """Take up to `count` elements waiting on `queue_key` at once (no wait); [] if there are none, or if the server
    cannot (before Redis 6.2). Raises `TimeoutError` when Redis has not answered within `limit` seconds."""
    if connection.__dict__.get('_pysoa_no_count_lpop'):
        return []
    try:
        reply = await execute(connection, 'LPOP', queue_key, count, seconds=limit)
    except redis.ResponseError:
        connection.__dict__['_pysoa_no_count_lpop'] = True
        return []
    return list(cast('Sequence[object]', reply)) if reply else []


async def pop(connection: redis.asyncio.Redis, queue_key: str, timeout: float, limit: float) -> object:
    """Take the first element of `queue_key`, waiting up to `timeout` seconds (BLPOP); None if none came.

    Raises `TimeoutError` when Redis has not answered within `limit` seconds (more than `timeout`).
    """
    reply = await execute(connection, 'BLPOP', queue_key, timeout, seconds=limit)
    return cast('Sequence[object]', reply)[1] if reply else None  # a BLPOP reply is [key, element]


async def move_to_in_flight(
    connection: redis.asyncio.Redis, queue_key: str, in_flight_list: str, timeout: float, limit: float
) -> object:
    """BLMOVE the first request of `queue_key` into `in_flight_list`, waiting up to `timeout`; None when none came
    (Redis 6.2 and later). Raises `TimeoutError` when Redis has not answered within `limit` seconds."""
    return await execute(connection, 'BLMOVE', queue_key, in_flight_list, 'LEFT', 'RIGHT', timeout, seconds=limit)


async def push(
    run: ScriptRunner, queue_key: str, elements: bytes | Sequence[bytes], *, expiry: int, capacity: int, seconds: float
) -> bool:
    """Push one element, or every element of a sequence contiguously, onto `queue_key` within `seconds`.

    The queue then expires after `expiry` seconds. Returns False, pushing nothing, when the queue already holds
    `capacity` elements; raises `TimeoutError` when Redis has not answered in time, else what redis-py raises.
    """
    return await run_unless_full(run, send_call(queue_key, elements, expiry, capacity), seconds)


async def run_unless_full(run: ScriptRunner, call: ScriptCall, seconds: float) -> bool:
    """Run a script that pushes onto a queue (`send_call`, `in_flight.reply_and_acknowledge_call`) within `seconds`;
    False, having done nothing, when the queue was full. Other errors raise."""
    try:
        await run(call, seconds)
    except redis.ResponseError as error:
        if is_queue_full(error):
            return False
        raise
    return True


async def push_while_full(
    push_once: Callable[[float], Awaitable[bool]],
    deadline: float,
    retries: int,
    factor: float,
    count: Callable[[str], None],
) -> tuple[bool, int]:
    """Run `push_once(seconds left)` (False: the queue was full) until it succeeds or `queue_full.retry_delay` gives
    up; return whether it was pushed and how many attempts were made. What `push_once` raises propagates."""
    attempts = 0
    while True:
        attempts += 1
        if await push_once(deadline - time.monotonic()):
            return True, attempts
        delay = retry_delay(attempts, deadline, retries, factor, count)
        if delay is None:
            return False, attempts
        await asyncio.sleep(delay)


_Pending = tuple[ScriptCall, float, 'asyncio.Future[object]']
"""One script run waiting for a batch: the call, its monotonic deadline, and its outcome."""


class ScriptBatcher:
    """Script runs on one Redis client, batched: one pipeline per round trip (see the module docstring)."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, call: ScriptCall, seconds: float) -> object:
        """Run `call` with the runs other tasks ask for meanwhile, within `seconds`; its reply, or its error raised.

        Raises `TimeoutError` when Redis has not answered in time (a batch not yet sent then leaves it out).
        """
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[object] = loop.create_future()
        self._pending.append((call, time.monotonic() + seconds, outcome))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        async with asyncio.timeout(max(seconds, 0.001)):
            return await outcome

    async def _flush(self) -> None:
        while self._pending:
            batch = [pending for pending in self._pending if not pending[2].done()]
            self._pending = []
            if not batch:
                continue
            try:
                async with asyncio.timeout(max(max(pending[1] for pending in batch) - time.monotonic(), 0.001)):
                    results = await _run_pipelined(self._client, [pending[0] for pending in batch])
            except BaseException as error:
                for _, _, outcome in batch:
                    if not outcome.done():
                        # A copy each: one exception raised in several tasks would collect all their tracebacks.
                        outcome.set_exception(copy.copy(error) if isinstance(error, Exception) else TimeoutError())
                if not isinstance(error, Exception):
                    raise
                continue
            for (_, _, outcome), result in zip(batch, results, strict=True):
                if outcome.done():
                    continue  # its caller gave up waiting
                if isinstance(result, Exception):
                    outcome.set_exception(result)
                else:
                    outcome.set_result(result)


async def _run_pipelined(client: redis.asyncio.Redis, calls: list[ScriptCall]) -> list[object]:
    """Run `calls` pipelined on one connection; each reply or its error reply. A script the server lacks is loaded
    and its runs repeated."""
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]  # unannotated in redis-py
    try:
        results = await _pipeline(connection, [call.command for call in calls])
        missing = [i for i, result in enumerate(results) if isinstance(result, redis.exceptions.NoScriptError)]
        if missing:
            scripts = {calls[i].script.sha: calls[i].script for i in missing}
            loads = [('SCRIPT', 'LOAD', script.source) for script in scripts.values()]
            for loaded in await _pipeline(connection, loads):
                if isinstance(loaded, Exception):
                    raise loaded
            again = await _pipeline(connection, [calls[i].command for i in missing])
            for index, result in zip(missing, again, strict=True):
                results[index] = result
        return results
    finally:
        await pool.release(connection)


async def _pipeline(connection: Any, commands: Sequence[tuple[CommandArgument, ...]]) -> list[object]:
    """Send every command in one write, then read each reply; an error reply is returned in its place."""
    await connection.send_packed_command(connection.pack_commands(commands))
    results: list[object] = []
    for _ in commands:
        try:
            results.append(await connection.read_response())
        except redis.ResponseError as error:  # the whole error reply was read: the connection is in step
            results.append(error)
    return results
