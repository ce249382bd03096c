"""The Redis commands of at-least-once delivery, and the keys they use.

Each script run is built once here (`*_call`, a `scripts.ScriptCall`): the blocking functions below run it on one
server's connection, the asyncio worker (`async_server`) awaits the same call (`async_commands`).

For a service queue `Q` (`pysoa:service.<name>`), every Redis server of the ring holds, beside `Q`:

- `Q#in-flight:<worker>`: the requests a worker has taken from `Q` on that server and not yet acknowledged
  (a list; BLMOVE puts them there);
- `Q#heartbeat:<worker>`: present while the worker lives (a key with a time to live, refreshed in the background);
- `Q#workers`: the workers that may hold in-flight requests there (a set);
- `Q#deliveries`: how often each request has been delivered (a hash: SHA-1 of the request's bytes -> count);
- `Q#dead` and `Q#dead:<id>`: the dead letters, oldest first (a list of ids), each a hash (see `dead_letters`).

The request's bytes are never changed: everything about its delivery lives in these keys.
"""

import hashlib
import math
from collections.abc import Sequence

import attrs
import redis

from pysoa.common.transport.redis_gateway.backend.direct import (
    CommandArgument,
    execute_command,
    supports_direct_commands,
)
from pysoa.common.transport.redis_gateway.backend.scripts import ScriptCall, load_script

__all__ = (
    'DeadLetterRecord',
    'DeliveryKeys',
    'HeldRequest',
    'acknowledge',
    'acknowledge_call',
    'as_int',
    'as_list',
    'as_text',
    'count_delivery',
    'count_delivery_call',
    'dead_letter',
    'dead_letter_arguments',
    'dead_letter_call',
    'heartbeat',
    'move_to_in_flight',
    'recover',
    'recover_call',
    'recovered',
    'release',
    'release_call',
    'reply_and_acknowledge_call',
    'request_digest',
)

_COUNT = load_script('count_delivery')
_ACKNOWLEDGE = load_script('acknowledge')
_REPLY_AND_ACKNOWLEDGE = load_script('reply_and_acknowledge')
_HEARTBEAT = load_script('heartbeat')
_RECOVER = load_script('recover')
_RELEASE = load_script('release')
_DEAD_LETTER = load_script('dead_letter')


@attrs.frozen
class DeliveryKeys:
    """The names of the delivery keys of one service queue (the same on every server of the ring)."""

    queue: str
    """The service queue, `pysoa:service.<name>`."""

    @property
    def prefix(self) -> str:
        """What every delivery key of this queue starts with."""
        return self.queue + '#'

    def in_flight(self, worker: str) -> str:
        """The in-flight list of `worker`."""
        return f'{self.prefix}in-flight:{worker}'

    def heartbeat(self, worker: str) -> str:
        """The heartbeat key of `worker`."""
        return f'{self.prefix}heartbeat:{worker}'

    @property
    def workers(self) -> str:
        """The set of workers that may hold in-flight requests."""
        return self.prefix + 'workers'

    @property
    def deliveries(self) -> str:
        """The delivery counts."""
        return self.prefix + 'deliveries'

    @property
    def dead(self) -> str:
        """The list of dead-letter ids, oldest first."""
        return self.prefix + 'dead'

    def dead_letter(self, letter_id: str) -> str:
        """The hash of one dead letter."""
        return f'{self.prefix}dead:{letter_id}'


@attrs.frozen
class DeadLetterRecord:
    """What is kept of a request that will not be delivered again."""

    letter_id: str
    reason: str
    time: float
    deliveries: int
    request_id: object
    worker: str


@attrs.define(eq=False, kw_only=True)
class HeldRequest:
    """A request a worker holds in its in-flight list until it is settled: what the blocking worker
    (`delivery.InFlightRequest`) and the concurrent one (`async_server.AsyncHeldRequest`) record of it, beside the
    connection it was taken on."""

    element: bytes
    digest: str
    deliveries: int
    settled: bool = False
    """Acknowledged or dead-lettered: nothing left to do in Redis."""
    abandoned: bool = False
    """Its answer could not be sent: unless it is acknowledged after all, it goes back to the queue."""
    acknowledging: bool = False
    """Done with, but Redis failed to take the acknowledgement: it is retried before the next receive."""

    def mark_settled(self) -> None:
        """Nothing is left to do for it in Redis."""
        self.settled = True
        self.abandoned = self.acknowledging = False


def request_digest(element: bytes) -> str:
    """The SHA-1 (hex) of a request's bytes: its name in the delivery counts (Lua's `redis.sha1hex` agrees)."""
    return hashlib.sha1(element).hexdigest()


def move_to_in_flight(connection: redis.Redis, queue: str, in_flight: str, timeout: float) -> object:
    """Take the first request of `queue` into the `in_flight` list atomically (BLMOVE), waiting up to `timeout`.

    Returns the request's bytes, or None when none came in time. Needs Redis 6.2 or later.
    """
    if supports_direct_commands(connection):
        return execute_command(connection, 'BLMOVE', queue, in_flight, 'LEFT', 'RIGHT', timeout)
    return connection.blmove(queue, in_flight, math.ceil(timeout), 'LEFT', 'RIGHT')  # a test double's own method


def count_delivery_call(keys: DeliveryKeys, digest: str, keep_seconds: int) -> ScriptCall:
    """Count one more delivery of the request named `digest` (the reply, `as_int`: how often it has been delivered)."""
    return ScriptCall(_COUNT, (keys.deliveries,), (digest, keep_seconds))


def acknowledge_call(keys: DeliveryKeys, worker: str, element: bytes, digest: str) -> ScriptCall:
    """Remove the request from `worker`'s in-flight list and forget its delivery count."""
    return ScriptCall(_ACKNOWLEDGE, (keys.in_flight(worker), keys.deliveries), (element, digest))


def reply_and_acknowledge_call(
    reply_queue: str,
    keys: DeliveryKeys,
    worker: str,
    request: tuple[bytes, str],
    response: bytes | Sequence[bytes],
    *,
    expiry: int,
    capacity: int,
) -> ScriptCall:
    """Push `response` onto `reply_queue` and acknowledge `request` (its bytes and digest) in one atomic step.

    Both keys must live on one server. Redis refuses it, doing nothing, when the reply queue is full: run it with
    `scripts.run_unless_full` (or `async_commands.run_unless_full`).
    """
    elements = (response,) if isinstance(response, bytes) else tuple(response)
    keys_used = (reply_queue, keys.in_flight(worker), keys.deliveries)
    return ScriptCall(_REPLY_AND_ACKNOWLEDGE, keys_used, (expiry, capacity, *request, *elements))


def recover_call(keys: DeliveryKeys, worker: str) -> ScriptCall:
    """Return the in-flight requests of the workers whose heartbeat lapsed (never `worker`'s) to the front of the
    queue; `recovered` reads the reply."""
    return ScriptCall(_RECOVER, (keys.queue, keys.workers), (keys.prefix, worker))


def recovered(reply: object) -> list[tuple[str, int]]:
    """`(worker id, requests returned)` for each worker recovered by `recover_call`."""
    flat = as_list(reply)
    return [(as_text(flat[i]), as_int(flat[i + 1])) for i in range(0, len(flat) - 1, 2)]


def release_call(keys: DeliveryKeys, worker: str, keep: Sequence[str]) -> ScriptCall:
    """Return `worker`'s in-flight requests except those named in `keep` (digests) to the front of the queue (the
    reply, `as_int`: how many)."""
    return ScriptCall(_RELEASE, (keys.in_flight(worker), keys.queue), tuple(keep))


def dead_letter_call(
    keys: DeliveryKeys, element: bytes, record: DeadLetterRecord, *, keep_seconds: int, capacity: int
) -> ScriptCall:
    """Move the request from its worker's in-flight list to the dead letters, described by `record`."""
    return ScriptCall(_DEAD_LETTER, *dead_letter_arguments(keys, element, record, keep_seconds, capacity))


def count_delivery(connection: redis.Redis, keys: DeliveryKeys, digest: str, keep_seconds: int) -> int:
    """Count one more delivery of the request named `digest`; returns how often it has now been delivered."""
    return as_int(count_delivery_call(keys, digest, keep_seconds).run(connection))


def acknowledge(connection: redis.Redis, keys: DeliveryKeys, worker: str, element: bytes, digest: str) -> None:
    """Remove the request from `worker`'s in-flight list and forget its delivery count."""
    acknowledge_call(keys, worker, element, digest).run(connection)


def heartbeat(connection: redis.Redis, keys: DeliveryKeys, worker: str, ttl_milliseconds: int) -> None:
    """Say that `worker` lives, for `ttl_milliseconds`, and that it may hold in-flight requests on this server."""
    _HEARTBEAT.run(connection, (keys.heartbeat(worker), keys.workers), (ttl_milliseconds, worker))


def recover(connection: redis.Redis, keys: DeliveryKeys, worker: str) -> list[tuple[str, int]]:
    """Return the in-flight requests of the workers whose heartbeat lapsed to the front of the queue.

    `worker` (the caller) is never recovered. Returns `(worker id, requests returned)` for each worker recovered.
    """
    return recovered(recover_call(keys, worker).run(connection))


def release(connection: redis.Redis, keys: DeliveryKeys, worker: str, keep: Sequence[str]) -> int:
    """Return `worker`'s in-flight requests except those named in `keep` (digests) to the front of the queue."""
    return as_int(release_call(keys, worker, keep).run(connection))


def dead_letter(
    connection: redis.Redis,
    keys: DeliveryKeys,
    element: bytes,
    record: DeadLetterRecord,
    *,
    keep_seconds: int,
    capacity: int,
) -> None:
    """Move the request from its worker's in-flight list to the dead letters, described by `record`."""
    dead_letter_call(keys, element, record, keep_seconds=keep_seconds, capacity=capacity).run(connection)


def dead_letter_arguments(
    keys: DeliveryKeys, element: bytes, record: DeadLetterRecord, keep_seconds: int, capacity: int
) -> tuple[tuple[str, ...], tuple[CommandArgument, ...]]:
    """The keys and arguments of `dead_letter.lua` (for the blocking and the asyncio command alike)."""
    return (
        (keys.in_flight(record.worker), keys.deliveries, keys.dead, keys.dead_letter(record.letter_id)),
        (
            element,
            request_digest(element),
            record.letter_id,
            record.reason,
            repr(record.time),
            record.deliveries,
            keep_seconds,
            capacity,
            '' if record.request_id is None else str(record.request_id),
            record.worker,
        ),
    )


def as_text(value: object) -> str:
    """A bulk string reply as text (bytes unless the connection decodes replies)."""
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def as_int(reply: object) -> int:
    """An integer reply, checked."""
    if not isinstance(reply, int):
        raise TypeError(f'Expected an integer reply from Redis, got {reply!r}')
    return reply


def as_list(reply: object) -> list[object]:
    """An array reply, checked."""
    if not isinstance(reply, list):
        raise TypeError(f'Expected a list reply from Redis, got {reply!r}')
    return reply
