"""The Redis commands of the asyncio client transport, on `redis.asyncio`: push a request, pop replies.

The same commands as the blocking backend (`base.py`): a push is `send.lua` run with EVALSHA (the source is sent
once to a server that answers NOSCRIPT, then the call is repeated), which checks the queue's capacity, pushes every
element contiguously and refreshes the queue's expiry in one atomic step; a pop is BLPOP.

Many calls share one loop, so their commands are batched where that saves round trips: the pushes of all the
calls that send while an earlier batch is on the wire go out together, pipelined on one connection (`Pusher`), and a
reader that finds replies waiting takes up to `DRAIN_COUNT` of them with one LPOP (`drain`). Each push stays its
own script run, atomic and answered on its own (queue full, or an error, for that push alone).

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

from pysoa.common.backoff import jittered_backoff
from pysoa.common.transport.redis_gateway.backend.direct import CommandArgument
from pysoa.common.transport.redis_gateway.backend.scripts import SEND_SCRIPT

__all__ = ('DRAIN_COUNT', 'Pusher', 'drain', 'pop', 'push_while_full')


def _command(connection: redis.asyncio.Redis) -> Callable[..., Awaitable[object]]:
    # redis-py leaves `execute_command` unannotated; every reply here is read as an object.
    return cast('Callable[..., Awaitable[object]]', connection.execute_command)


DRAIN_COUNT = 128
"""The most replies a reader takes in one LPOP after a BLPOP has found one."""


async def drain(connection: redis.asyncio.Redis, queue_key: str, count: int, limit: float) -> list[object]:
    """Take up to `count` elements waiting on `queue_key` at once (no wait); [] if there are none, or if the server
    cannot (before Redis 6.2). Raises `TimeoutError` when Redis has not answered within `limit` seconds."""
    if connection.__dict__.get('_pysoa_no_count_lpop'):
        return []
    try:
        async with asyncio.timeout(max(limit, 0.001)):
            reply = await _command(connection)('LPOP', queue_key, count)
    except redis.ResponseError:
        connection.__dict__['_pysoa_no_count_lpop'] = True
        return []
    return list(cast('Sequence[object]', reply)) if reply else []


_Push = tuple[tuple[CommandArgument, ...], float, 'asyncio.Future[bool]']
"""One push waiting for a batch: the EVALSHA arguments, its monotonic deadline, and its outcome."""


class Pusher:
    """Pushes for one Redis client, batched: one pipeline per round trip (see the module docstring)."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client
        self._pending: list[_Push] = []
        self._flusher: asyncio.Task[None] | None = None

    async def push(
        self, queue_key: str, elements: bytes | Sequence[bytes], *, expiry: int, capacity: int, seconds: float
    ) -> bool:
        """Push one element, or every element of a sequence contiguously, onto `queue_key` within `seconds`.

        The queue then expires after `expiry` seconds. Returns False, pushing nothing, when the queue already holds
        `capacity` elements; raises `TimeoutError` when Redis has not answered in time, else what redis-py raises.
        """
        arguments = (elements,) if isinstance(elements, bytes | bytearray | memoryview) else tuple(elements)
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[bool] = loop.create_future()
        command = ('EVALSHA', SEND_SCRIPT.sha, 1, queue_key, expiry, capacity, *arguments)
        self._pending.append((command, time.monotonic() + seconds, outcome))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        async with asyncio.timeout(max(seconds, 0.001)):
            return await outcome  # cancelled by the time limit: a batch not yet sent leaves it out

    async def _flush(self) -> None:
        while self._pending:
            batch = [push for push in self._pending if not push[2].done()]
            self._pending = []
            if not batch:
                continue
            try:
                async with asyncio.timeout(max(max(push[1] for push in batch) - time.monotonic(), 0.001)):
                    results = await _run_pushes(self._client, [push[0] for push in batch])
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
                    continue
                if isinstance(result, redis.ResponseError) and 'queue full' in str(result):
                    outcome.set_result(False)
                elif isinstance(result, Exception):
                    outcome.set_exception(result)
                else:
                    outcome.set_result(True)


async def _run_pushes(client: redis.asyncio.Redis, commands: list[tuple[CommandArgument, ...]]) -> list[object]:
    """Run `commands` (EVALSHA of the send script) pipelined on one connection; each result or its error reply."""
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]  # unannotated in redis-py
    try:
        results = await _pipeline(connection, commands)
        missing = [i for i, result in enumerate(results) if isinstance(result, redis.exceptions.NoScriptError)]
        if missing:
            (loaded,) = await _pipeline(connection, [('SCRIPT', 'LOAD', SEND_SCRIPT.source)])
            if isinstance(loaded, Exception):
                raise loaded
            for index, result in zip(missing, await _pipeline(connection, [commands[i] for i in missing]), strict=True):
                results[index] = result
        return results
    finally:
        await pool.release(connection)


async def _pipeline(connection: Any, commands: list[tuple[CommandArgument, ...]]) -> list[object]:
    """Send every command in one write, then read each reply; an error reply is returned in its place."""
    await connection.send_packed_command(connection.pack_commands(commands))
    results: list[object] = []
    for _ in commands:
        try:
            results.append(await connection.read_response())
        except redis.ResponseError as error:  # the whole error reply was read: the connection is in step
            results.append(error)
    return results


async def pop(connection: redis.asyncio.Redis, queue_key: str, timeout: float, limit: float) -> object:
    """Take the first element of `queue_key`, waiting up to `timeout` seconds (BLPOP); None if none came.

    Raises `TimeoutError` when Redis has not answered within `limit` seconds (more than `timeout`).
    """
    async with asyncio.timeout(max(limit, 0.001)):
        reply = await _command(connection)('BLPOP', queue_key, timeout)
    return cast('Sequence[object]', reply)[1] if reply else None  # a BLPOP reply is [key, element]


async def push_while_full(
    push_once: Callable[[float], Awaitable[bool]],
    deadline: float,
    retries: int,
    factor: float,
    count: Callable[[str], None],
) -> tuple[bool, int]:
    """Run `push_once(seconds left)` (False: the queue was full) until it succeeds, `retries` retries are spent or
    the monotonic `deadline` would pass; return whether it was pushed and how many attempts were made.

    The awaiting twin of `queue_full.push_while_full`, with the same metrics; what `push_once` raises propagates.
    """
    attempts = 0
    while True:
        attempts += 1
        if await push_once(deadline - time.monotonic()):
            return True, attempts
        delay = jittered_backoff(attempts - 1, factor)
        if attempts > retries or time.monotonic() + delay >= deadline:
            return False, attempts
        count('send.queue_full_retry')
        count(f'send.queue_full_retry.retry_{attempts}')
        await asyncio.sleep(delay)
