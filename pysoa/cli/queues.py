"""`pysoa queues`: every service on the Redis servers: queue depth, age of the oldest request,
live workers, requests in flight and dead letters.

Services are found with SCAN (never KEYS, which blocks Redis while it walks every key) from their keys:
the queue `pysoa:service.<service>`, which exists only while requests wait in it, and the delivery keys of
at-least-once services beside it (`...#workers`, `...#dead`: see `redis_gateway.backend.in_flight`). Keys
holding `!` are clients' reply queues and are left out. The oldest request is the head of the queue
(requests are pushed at the tail and popped from the head): its `__expiry__` is exact, its age an estimate
that takes it as sent with the default expiry (a caller's own timeout shortens it).

Live workers and requests in flight are known only for at-least-once services (their workers register and
keep a heartbeat key in Redis); for the others those columns show `-`.
"""

import dataclasses
import time
from collections.abc import Iterable
from typing import cast

import click
import redis

from pysoa.cli.errors import TransportFailure
from pysoa.cli.output import echo_json, format_seconds, render_table
from pysoa.cli.target import Target, pass_target, redis_servers
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.errors import InvalidMessageError
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys, as_int, as_text
from pysoa.common.transport.redis_gateway.constants import (
    DEFAULT_MESSAGE_EXPIRY_IN_SECONDS,
    QUEUE_NAME_PREFIX,
    RESPONSE_QUEUE_SPECIFIER,
)
from pysoa.common.transport.redis_gateway.envelope import MessageExpiredError, decode_request
from pysoa.common.transport.redis_gateway.serializers import SerializerChoice
from pysoa.common.transport.redis_gateway.utils import make_redis_queue_name
from pysoa.common.wire import expiry_of

__all__ = ('QueueState', 'queue_depth', 'queue_key', 'queues_command', 'read_queues')

NOT_KNOWN = None
"""The value of the columns that Redis cannot tell for a service (shown as `-`, `null` in JSON)."""


@dataclasses.dataclass(frozen=True)
class QueueState:
    """One service queue on one Redis server."""

    service: str
    queue: str
    redis: str
    depth: int
    oldest_age_seconds: float | None
    """How long ago the oldest request was sent, estimated from its expiry and the default expiry."""
    oldest_expires_in_seconds: float | None
    """When the oldest request expires (negative: it has, and the next worker to pop it drops it)."""
    live_workers: int | None = NOT_KNOWN
    in_flight: int | None = NOT_KNOWN  # at-least-once delivery: requests taken and not yet acknowledged
    dead_letters: int | None = NOT_KNOWN  # at-least-once delivery: requests given up on


def queue_key(service: str) -> str:
    """The Redis key of `service`'s request queue."""
    return QUEUE_NAME_PREFIX + make_redis_queue_name(service)


_SERVICE_QUEUE_PREFIX = queue_key('')
_DELIVERY_KEY_SEPARATOR = DeliveryKeys('').prefix


def service_of(key: str) -> str | None:
    """The service whose request queue, or delivery key, `key` is; None for any other key (a reply queue)."""
    if not key.startswith(_SERVICE_QUEUE_PREFIX):
        return None
    name = key[len(_SERVICE_QUEUE_PREFIX) :].partition(_DELIVERY_KEY_SEPARATOR)[0]
    if not name or RESPONSE_QUEUE_SPECIFIER in name:
        return None
    return name


def head_expiry(element: object, service: str, now: float) -> float | None:
    """The `__expiry__` of the request `element` (Unix time), read from its envelope; None when it has none."""
    serializers = SerializerChoice({'object': MsgpackSerializer, 'kwargs': {}}, service)
    try:
        received = decode_request(element, serializers.for_content_type, service, now)
    except MessageExpiredError as expired:
        return now - expired.late_by
    except InvalidMessageError:
        return None
    try:
        return expiry_of(received.meta or {})
    except ValueError:
        return None  # not a number: decode_request refuses such an envelope, so this is only for safety


def _services_on(connection: redis.Redis) -> set[str]:
    services = set()
    for raw_key in connection.scan_iter(match=f'{_SERVICE_QUEUE_PREFIX}*', count=500):
        service = service_of(as_text(raw_key))
        if service is not None:
            services.add(service)
    return services


def _delivery_state(connection: redis.Redis, keys: DeliveryKeys) -> tuple[int | None, int | None, int | None]:
    """Live workers, requests in flight and dead letters; None for those an exactly-once service does not keep."""
    # A set reply (redis-py's annotation also allows the asyncio client's awaitable).
    workers = sorted(as_text(worker) for worker in cast('set[object]', connection.smembers(keys.workers)))
    dead = as_int(connection.llen(keys.dead))
    if not workers:
        return None, None, dead or None
    live = sum(as_int(connection.exists(keys.heartbeat(worker))) for worker in workers)
    in_flight = sum(as_int(connection.llen(keys.in_flight(worker))) for worker in workers)
    return live, in_flight, dead


def _queue_state(address: str, connection: redis.Redis, service: str, default_expiry: int) -> QueueState:
    keys = DeliveryKeys(queue_key(service))
    depth = as_int(connection.llen(keys.queue))
    head = connection.lindex(keys.queue, 0) if depth else None
    now = time.time()
    expiry = head_expiry(head, service, now) if head is not None else None
    expires_in = None if expiry is None else expiry - now
    age = None if expires_in is None else max(0.0, default_expiry - expires_in)
    return QueueState(service, keys.queue, address, depth, age, expires_in, *_delivery_state(connection, keys))


def _scan_server(address: str, connection: redis.Redis, default_expiry: int) -> list[QueueState]:
    return [_queue_state(address, connection, service, default_expiry) for service in _services_on(connection)]


def read_queues(target: Target, default_expiry: int = DEFAULT_MESSAGE_EXPIRY_IN_SECONDS) -> list[QueueState]:
    """Every service queue on every Redis server of `target`, sorted by service."""
    states: list[QueueState] = []
    for address, connection in redis_servers(target):
        try:
            states.extend(_scan_server(address, connection, default_expiry))
        except redis.RedisError as error:
            raise TransportFailure(f'Cannot reach {address} (from {target.source}): {error}') from None
    return sorted(states, key=lambda state: (state.service, state.redis))


def queue_depth(target: Target, service: str) -> int | None:
    """How many requests wait in `service`'s queue across the target's servers; None when Redis cannot tell."""
    try:
        return sum(int(connection.llen(queue_key(service))) for _, connection in redis_servers(target))
    except (redis.RedisError, ValueError):
        return None


def _rows(states: Iterable[QueueState]) -> list[list[object]]:
    def known(value: int | None) -> str:
        return '-' if value is None else str(value)

    return [
        [
            state.queue,
            state.depth,
            format_seconds(state.oldest_age_seconds),
            format_seconds(state.oldest_expires_in_seconds),
            known(state.live_workers),
            known(state.in_flight),
            known(state.dead_letters),
            state.redis,
        ]
        for state in states
    ]


@click.command('queues')
@click.option('--json', 'as_json', is_flag=True, help='Print JSON instead of a table.')
@click.option(
    '--default-expiry',
    type=click.IntRange(min=1),
    default=DEFAULT_MESSAGE_EXPIRY_IN_SECONDS,
    show_default=True,
    help="The senders' message_expiry_in_seconds, from which a request's age is read.",
)
@pass_target
def queues_command(target: Target, as_json: bool, default_expiry: int) -> None:
    """Every service on Redis: queue depth, oldest request, live workers, in flight, dead letters."""
    states = read_queues(target, default_expiry)
    if as_json:
        echo_json([dataclasses.asdict(state) for state in states])
        return
    if not states:
        click.echo(f'No service queues on {target.address()}.')
        return
    headers = ['QUEUE', 'DEPTH', 'OLDEST', 'EXPIRES IN', 'WORKERS', 'IN FLIGHT', 'DEAD LETTERS', 'REDIS']
    click.echo(render_table(headers, _rows(states)))
    click.echo('-: not known (live workers and requests in flight are kept for at-least-once services only).')
