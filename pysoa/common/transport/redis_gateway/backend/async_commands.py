"""The Redis commands of the asyncio client transport, on `redis.asyncio`: push a request, pop a reply.

The same commands as the blocking backend (`base.py`): a push is `send.lua` run with EVALSHA (the source is sent
once to a server that answers NOSCRIPT, then the call is repeated), which checks the queue's capacity, pushes every
element contiguously and refreshes the queue's expiry in one atomic step; a pop is BLPOP.

Every command runs under a time limit taken from the caller's deadline (`asyncio.timeout`): a frozen or unreachable
Redis makes the command fail with `TimeoutError` once its limit has passed instead of holding the caller. redis-py
drops a connection whose command was cut short, so a reply never reaches the next command on that connection, and
it does not retry a command cut short, so a push that may already sit in Redis is not sent twice.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import redis
import redis.asyncio

from pysoa.common.backoff import jittered_backoff
from pysoa.common.transport.redis_gateway.backend.direct import CommandArgument
from pysoa.common.transport.redis_gateway.backend.scripts import SEND_SCRIPT, LuaScript

__all__ = ('pop', 'push', 'push_while_full', 'run_script')


def _command(connection: redis.asyncio.Redis) -> Callable[..., Awaitable[object]]:
    # redis-py leaves `execute_command` unannotated; every reply here is read as an object.
    return cast('Callable[..., Awaitable[object]]', connection.execute_command)


async def run_script(
    connection: redis.asyncio.Redis, script: LuaScript, keys: Sequence[str], args: Sequence[CommandArgument]
) -> object:
    """Run `script` on `connection`'s server, loading it there first if that server lacks it."""
    try:
        return await _command(connection)('EVALSHA', script.sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        await _command(connection)('SCRIPT', 'LOAD', script.source)
        return await _command(connection)('EVALSHA', script.sha, len(keys), *keys, *args)


async def push(
    connection: redis.asyncio.Redis,
    queue_key: str,
    elements: bytes | Sequence[bytes],
    *,
    expiry: int,
    capacity: int,
    seconds: float,
) -> bool:
    """Push one element, or every element of a sequence contiguously, onto `queue_key` within `seconds`.

    The queue then expires after `expiry` seconds. Returns False, pushing nothing, when the queue already holds
    `capacity` elements; raises `TimeoutError` when Redis has not answered in time, else what redis-py raises.
    """
    arguments = (elements,) if isinstance(elements, bytes | bytearray | memoryview) else tuple(elements)
    try:
        async with asyncio.timeout(max(seconds, 0.001)):
            await run_script(connection, SEND_SCRIPT, (queue_key,), (expiry, capacity, *arguments))
    except redis.ResponseError as error:
        if 'queue full' in str(error):
            return False
        raise
    return True


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
