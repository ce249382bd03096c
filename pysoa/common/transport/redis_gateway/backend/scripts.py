"""The Lua scripts the backends run: one `.lua` file each beside this module, read by one loader.

A script runs with EVALSHA; a Redis server that does not know it yet (new, restarted, or flushed) is sent
the source once, on its NOSCRIPT answer, and the call is repeated. That is per server, so it holds for
every connection of every backend, standard, Sentinel or later Cluster, without registering anything.
"""

import functools
import hashlib
import importlib.resources
from collections.abc import Sequence

import attrs
import redis

from pysoa.common.transport.redis_gateway.backend.direct import (
    CommandArgument,
    execute_command,
    supports_direct_commands,
)

__all__ = (
    'SEND_MARKED_SCRIPT',
    'SEND_SCRIPT',
    'SEND_SCRIPT_SHA',
    'LuaScript',
    'ScriptCall',
    'is_queue_full',
    'load_script',
    'run_unless_full',
    'send_call',
    'send_marked_call',
)


@attrs.frozen
class LuaScript:
    """A Lua script, by name, with its source and the SHA-1 digest Redis knows it by."""

    name: str
    source: str
    sha: str

    def run(self, connection: redis.Redis, keys: Sequence[str], args: Sequence[CommandArgument]) -> object:
        """Run the script on `connection`'s server, loading it there first if that server lacks it."""
        if not supports_direct_commands(connection):
            # A subclass or a test double: through its own scripting, as 1.x ran the script.
            script = connection.register_script(self.source)
            return script(keys=list(keys), args=list(args))
        try:
            return execute_command(connection, 'EVALSHA', self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            execute_command(connection, 'SCRIPT', 'LOAD', self.source)
            return execute_command(connection, 'EVALSHA', self.sha, len(keys), *keys, *args)


@attrs.frozen
class ScriptCall:
    """One run of a script with its keys and arguments: what the blocking (`run`) and the asyncio commands
    (`async_commands`) send alike."""

    script: LuaScript
    keys: tuple[str, ...]
    args: tuple[CommandArgument, ...]

    def run(self, connection: redis.Redis) -> object:
        """Run it on `connection`'s server (see `LuaScript.run`)."""
        return self.script.run(connection, self.keys, self.args)

    @property
    def command(self) -> tuple[CommandArgument, ...]:
        """The EVALSHA command that runs it."""
        return ('EVALSHA', self.script.sha, len(self.keys), *self.keys, *self.args)


@functools.cache
def load_script(name: str) -> LuaScript:
    """The script in `<name>.lua` beside this module, read once per process."""
    source = importlib.resources.files(__name__.rpartition('.')[0]).joinpath(f'{name}.lua').read_text(encoding='utf-8')
    return LuaScript(name, source, hashlib.sha1(source.encode('utf-8')).hexdigest())


SEND_SCRIPT = load_script('send')
"""Push one message (or every chunk of one, contiguously) onto a queue below its capacity, and refresh its expiry."""

SEND_SCRIPT_SHA = SEND_SCRIPT.sha
"""What Redis calls the send script (`SCRIPT EXISTS`, EVALSHA)."""


SEND_MARKED_SCRIPT = load_script('send_marked')
"""`SEND_SCRIPT`, recording the request's id in its sender's set of sent requests in the same step."""


def _chunks(elements: bytes | Sequence[bytes]) -> tuple[CommandArgument, ...]:
    if isinstance(elements, bytes | bytearray | memoryview):
        return (elements if isinstance(elements, bytes) else bytes(elements),)
    return tuple(elements)


def send_call(queue_key: str, elements: bytes | Sequence[bytes], expiry: int, capacity: int) -> ScriptCall:
    """The run of `send.lua` that pushes one element, or every element of a sequence contiguously, onto `queue_key`
    below `capacity`, then makes the queue expire after `expiry` seconds."""
    return ScriptCall(SEND_SCRIPT, (queue_key,), (expiry, capacity, *_chunks(elements)))


def send_marked_call(
    queue_key: str,
    elements: bytes | Sequence[bytes],
    expiry: int,
    capacity: int,
    sent_key: str,
    request_id: int,
    forget_below: int,
) -> ScriptCall:
    """`send_call`, also adding `request_id` to the sorted set `sent_key` and dropping the ids below `forget_below`
    from it (`send_marked.lua`)."""
    args = (expiry, capacity, request_id, forget_below, *_chunks(elements))
    return ScriptCall(SEND_MARKED_SCRIPT, (queue_key, sent_key), args)


def is_queue_full(error: BaseException) -> bool:
    """Whether `error` is the refusal of `send.lua` (or `reply_and_acknowledge.lua`) to push onto a full queue."""
    return isinstance(error, redis.ResponseError) and 'queue full' in str(error)


def run_unless_full(call: ScriptCall, connection: redis.Redis) -> bool:
    """Run a script that pushes onto a queue (`send_call`, `in_flight.reply_and_acknowledge_call`) on `connection`;
    False, having done nothing, when the queue was full. Other errors raise."""
    try:
        call.run(connection)
    except redis.ResponseError as error:
        if is_queue_full(error):
            return False
        raise
    return True
