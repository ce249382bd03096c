"""`backend.async_commands.ScriptBatcher`: script runs asked for while a batch is on the wire go out together,
and each caller gets its own result or error; a server that lacks a script is sent it."""

import asyncio
import hashlib
import uuid

import redis
import redis.asyncio

from pysoa.common.transport.redis_gateway.backend.async_commands import ScriptBatcher
from pysoa.common.transport.redis_gateway.backend.scripts import LuaScript, ScriptCall


def script(source: str) -> LuaScript:
    # A comment no other test uses: the server has never seen this script, so the first run meets NOSCRIPT.
    source = f'-- {uuid.uuid4().hex}\n{source}'
    return LuaScript('test', source, hashlib.sha1(source.encode()).hexdigest())


def test_each_caller_gets_its_own_result_or_error(redis_url: str) -> None:
    echo = script('return ARGV[1]')
    refuse = script("return redis.error_reply('refused ' .. ARGV[1])")

    async def main() -> list[object]:
        connection = redis.asyncio.Redis.from_url(redis_url)
        try:
            batcher = ScriptBatcher(connection)
            first = await asyncio.gather(
                batcher.run(ScriptCall(echo, (), ('a',)), 5.0),
                batcher.run(ScriptCall(refuse, (), ('b',)), 5.0),
                batcher.run(ScriptCall(echo, (), ('c',)), 5.0),
                return_exceptions=True,
            )
            # Now known to the server: the batch runs in one pipeline without falling back.
            second = await asyncio.gather(
                batcher.run(ScriptCall(echo, (), ('d',)), 5.0), batcher.run(ScriptCall(echo, (), ('e',)), 5.0)
            )
            alone = await batcher.run(ScriptCall(echo, (), ('f',)), 5.0)
            return [*first, *second, alone]
        finally:
            await connection.aclose()

    a, b, c, d, e, f = asyncio.run(main())
    assert (a, c, d, e, f) == (b'a', b'c', b'd', b'e', b'f')
    assert isinstance(b, redis.ResponseError) and 'refused b' in str(b)


def test_a_caller_that_gave_up_does_not_disturb_the_others(redis_url: str) -> None:
    echo = script('return ARGV[1]')

    async def main() -> object:
        connection = redis.asyncio.Redis.from_url(redis_url)
        try:
            batcher = ScriptBatcher(connection)
            impatient = asyncio.ensure_future(batcher.run(ScriptCall(echo, (), ('x',)), 5.0))
            patient = asyncio.ensure_future(batcher.run(ScriptCall(echo, (), ('y',)), 5.0))
            await asyncio.sleep(0)  # both have asked; the batch has not gone out yet
            impatient.cancel()
            result = await patient
            assert impatient.cancelled()
            return result
        finally:
            await connection.aclose()

    assert asyncio.run(main()) == b'y'
