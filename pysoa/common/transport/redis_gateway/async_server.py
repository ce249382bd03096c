"""The receive and send of a `RedisServerTransport`, awaited on a concurrent worker's event loop.

A concurrent worker (`pysoa.server.concurrent_worker`) keeps many requests open at once, so it cannot block in BLPOP
or in a push: it receives and answers through this object, which reads the blocking transport's settings and does
what the blocking path does with the same pieces: the servers of the asyncio client (`backend.async_rings`:
standard hosts, Sentinel masters or a Redis Cluster, one pool set per loop), the core's encoding
(`encode_message`: size limits, signing, chunking), the pure envelope functions (`envelope.decode_request`), the
same commands and `.lua` scripts (`backend.async_commands`, `in_flight.*_call`), and for at-least-once delivery
(docs/delivery.rst) the same keys, the same heartbeat thread (`liveness`, started by the blocking core) and the same
worker id, so a request held here is recovered by other workers when this one dies. Requests that are refused
(unreadable, expired, delivered too often) never reach the worker: their senders are told, as the blocking
transport tells them.

On Sentinel, a request is taken (BLPOP, BLMOVE) on a connection of its own, and run only once the blocking backend's
guard (`SentinelRedisClient.confirm_taken_at`, in a thread, its commands sent on that connection) has found the
taking safe from a failover, as the blocking worker's is (docs/delivery.rst, "Sentinel failover").

Redis failures become the transport errors the blocking path raises (`reporting.transport_failure`), so the worker
backs off the same way; every command runs under a time limit, so a frozen Redis cannot hold a job past it.
"""

import asyncio
import logging
import time
from typing import Any

import attrs
import redis
import redis.asyncio

from pysoa.common.constants import ERROR_CODE_SERVER_ERROR
from pysoa.common.errors import Error
from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS
from pysoa.common.transport import errors
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.redis_gateway import envelope, reporting
from pysoa.common.transport.redis_gateway.backend import async_commands as commands
from pysoa.common.transport.redis_gateway.backend import in_flight
from pysoa.common.transport.redis_gateway.backend.async_rings import AsyncRing, ring_for
from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError, ReplacedMasterError
from pysoa.common.transport.redis_gateway.backend.direct import remaining_seconds
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys, request_digest
from pysoa.common.transport.redis_gateway.backend.legacy import driven
from pysoa.common.transport.redis_gateway.backend.scripts import ScriptCall
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.constants import (
    POP_MARGIN_SECONDS,
    REDIS_BACKEND_TYPE_SENTINEL,
    REPLY_SECONDS,
)
from pysoa.common.transport.redis_gateway.delivery import (
    DELIVERY_COUNT_META_KEY,
    IN_FLIGHT_META_KEY,
    AtLeastOnceServerCore,
)
from pysoa.common.transport.redis_gateway.queue_full import queue_full_error
from pysoa.common.transport.redis_gateway.server import (
    RedisServerTransport,
    discard_invalid_request,
    refusal_response,
    reply_queue_of,
)

__all__ = ('AsyncRedisServerTransport', 'AsyncHeldRequest')

_logger = logging.getLogger(__name__)

_COUNTS_KEEP_SECONDS = 24 * 3600  # as the blocking core keeps them (delivery.py)


@attrs.define(eq=False, kw_only=True)
class AsyncHeldRequest(in_flight.HeldRequest):
    """A request held in this worker's in-flight list (at-least-once delivery), taken on `connection` at `place`."""

    connection: redis.asyncio.Redis
    place: object
    """Where its in-flight list lives (`AsyncRedisServerTransport._place`): after a Sentinel failover, on another
    connection than the one it was taken on."""


class AsyncRedisServerTransport:
    """Awaitable `receive`, `send` and `acknowledge` for the requests of one `RedisServerTransport`."""

    def __init__(self, transport: RedisServerTransport) -> None:
        self._transport = transport
        self._core = transport.core
        self._metrics = transport.metrics
        self.service_name = transport.service_name
        self._queue_key = self._core.QUEUE_NAME_PREFIX + transport._receive_queue_name
        self._keys = DeliveryKeys(self._queue_key)
        self._ring: AsyncRing | None = None
        self._sentinel = self._core.backend_type == REDIS_BACKEND_TYPE_SENTINEL
        self._takers: dict[int, tuple[redis.asyncio.Redis, redis.asyncio.Redis]] = {}
        self._alo_core = self._core if isinstance(self._core, AtLeastOnceServerCore) else None
        self._open: dict[int, AsyncHeldRequest] = {}
        self._last_recovery: dict[int, float] = {}
        self._unknown_in_flight: set[object] = set()  # places whose in-flight list may hold what `_open` does not
        # On Sentinel: requests settled on a connection since the guard last confirmed a taking there (see `_settled`),
        # each with its number in the order of settling, which tells which ones a confirmation covers.
        self._unconfirmed: list[tuple[int, redis.asyncio.Redis, AsyncHeldRequest]] = []
        self._settlings = 0

    def start(self) -> None:
        """For at-least-once delivery, start the heartbeat."""
        if self._alo_core is not None:
            self._alo_core._ensure_heartbeat(self._keys)

    async def close(self) -> None:
        """Give back the taking connections (the rings close with the loop; the blocking transport's `close` stops
        the heartbeat)."""
        takers, self._takers = list(self._takers.values()), {}
        for _, taker in takers:
            await taker.aclose()

    async def _client(self, queue_key: str) -> redis.asyncio.Redis:
        # The ring of the running loop (a dict look-up): a ring, like its connections, belongs to one loop.
        self._ring = await ring_for(self._core.backend_type, self._core.backend_layer_kwargs)
        return await self._ring.connection_within(queue_key, REPLY_SECONDS)

    def _run(self, client: redis.asyncio.Redis) -> commands.ScriptRunner:
        assert self._ring is not None  # a client is had from the ring first
        return self._ring.script_runner(client)

    def _taker(self, client: redis.asyncio.Redis) -> redis.asyncio.Redis:
        """Where requests are taken: on Sentinel a connection of its own, since `WAIT` counts what it wrote."""
        if not self._sentinel:
            return client
        known = self._takers.get(id(client))
        if known is None or known[0] is not client:
            known = self._takers[id(client)] = (client, client.client())
        return known[1]

    def _place(self, client: redis.asyncio.Redis) -> object:
        """What names the server that holds this worker's in-flight list behind `client`: on Sentinel, the service,
        whichever master serves it now (a failover replicated the list there), else the client itself."""
        master = self._ring.master_of(client) if self._ring is not None else None
        return master[0] if master is not None else id(client)

    def _failure(self, error: Exception, sending: bool) -> errors.TransientPySOATransportError:
        if isinstance(error, CannotGetConnectionError):
            return reporting.connection_failure(error, sending, self._core._count)
        ring = self._ring
        reset = ring.reset_clients if ring is not None else _nothing
        return reporting.transport_failure(error, sending, self.service_name, self._core._count, reset)

    @property
    def _worker(self) -> str:
        return self._alo_core.worker_id if self._alo_core is not None else ''

    # ---- receiving

    async def receive(self, timeout: float, up_to: int = 1) -> list[ReceivedMessage]:
        """Up to `up_to` valid requests, waiting up to `timeout` seconds for the first; refused ones are left out.

        With at-most-once delivery, what is already queued is taken in one round trip (LPOP with a count, Redis 6.2
        and later); at-least-once delivery moves one request at a time into flight.
        """
        held: AsyncHeldRequest | None = None
        client: redis.asyncio.Redis | None = None
        try:
            client = await self._client(self._queue_key)
            if self._alo_core is not None:
                element, held = await self._move_to_in_flight(client, timeout)
                elements = [] if element is None else [element]
            else:
                settled_before = self._settlings
                elements = await self._pop(client, timeout, up_to)
                if elements:
                    await self._check_taken(client, settled_before)
        except Exception as error:
            if client is not None:
                await self._drop_taker(client)
            raise self._failure(error, sending=False)
        received = []
        for element in elements:
            message = await self._open_request(element, held)
            if message is not None:
                received.append(message)
        return received

    async def _pop(self, client: redis.asyncio.Redis, timeout: float, up_to: int) -> list[object]:
        taker = self._taker(client)
        if up_to > 1:
            elements = await commands.drain(taker, self._queue_key, up_to, REPLY_SECONDS)
            if elements:
                return elements
        element = await commands.pop(taker, self._queue_key, timeout, timeout + POP_MARGIN_SECONDS)
        return [] if element is None else [element]

    async def _move_to_in_flight(
        self, client: redis.asyncio.Redis, timeout: float
    ) -> tuple[object, AsyncHeldRequest | None]:
        assert self._alo_core is not None
        self._alo_core._ensure_heartbeat(self._keys)  # restarts a heartbeat thread that died; cheap otherwise
        place = self._place(client)
        await self._settle_leftovers(client, place)
        await self._recover(client)
        in_flight_list = self._keys.in_flight(self._worker)
        limit = timeout + POP_MARGIN_SECONDS
        settled_before = self._settlings
        element = await commands.move_to_in_flight(self._taker(client), self._queue_key, in_flight_list, timeout, limit)
        if not isinstance(element, bytes):
            return element, None  # nothing came, or something the envelope refuses (it stays in flight)
        try:
            await self._check_taken(client, settled_before)
            digest = request_digest(element)
            call = in_flight.count_delivery_call(self._keys, digest, _COUNTS_KEEP_SECONDS)
            deliveries = in_flight.as_int(await self._run(client)(call, REPLY_SECONDS))
        except Exception:
            # It may sit in this worker's in-flight list with no record here (on Sentinel, on the master a failover
            # promoted, if the guard refused it): the next receive at this place returns it to the queue.
            self._unknown_in_flight.add(place)
            raise
        held = AsyncHeldRequest(connection=client, place=place, element=element, digest=digest, deliveries=deliveries)
        self._open[id(held)] = held
        if deliveries > 1:
            self._core._count('delivery.redelivered')
        return element, held

    async def _check_taken(self, client: redis.asyncio.Redis, settled_before: int) -> None:
        """On Sentinel, raise `ReplacedMasterError` unless what was just taken is safe from a failover (module).

        `settled_before` is `_settlings` as it was before the taking command was sent: those settlements ran on the
        server before the taking did, so the replicas acknowledging the taking acknowledged them too. Later ones may
        have run after it (other tasks settle while a taking waits) and stay unconfirmed."""
        if not self._sentinel or self._ring is None:
            return
        master = self._ring.master_of(client)  # None: dropped since (the Sentinels named another master)
        if master is None:
            raise ReplacedMasterError('A request was taken from a Redis master that the Sentinels no longer name')
        service, address = master
        taker, loop = self._taker(client), asyncio.get_running_loop()

        def command(*args: Any) -> object:
            # Run from the guard's thread, on the loop, under the guard's own time limit for this command.
            seconds = remaining_seconds() or REPLY_SECONDS
            running = asyncio.run_coroutine_threadsafe(commands.execute(taker, *args, seconds=seconds), loop)
            try:
                return running.result()
            except TimeoutError as error:
                raise redis.TimeoutError(f'Redis did not answer {args[0]} in time') from error

        def confirmed() -> bool:
            guard = driven(self._core.backend_layer)  # made on first use, asking the Sentinels: in this thread
            return not isinstance(guard, SentinelRedisClient) or guard.confirm_taken_at(service, address, command)

        if not await asyncio.to_thread(confirmed):
            raise ReplacedMasterError(
                'A request was taken from a Redis master that a failover has replaced (or is replacing); it is left '
                'to be served from the new master'
            )
        # The replicas acknowledged everything this master ran before the taking: the settlements made on it before
        # then are on every replica a failover could promote.
        self._unconfirmed = [
            entry for entry in self._unconfirmed if entry[1] is not client or entry[0] >= settled_before
        ]

    async def _drop_taker(self, client: redis.asyncio.Redis) -> None:
        known = self._takers.pop(id(client), None)
        if known is not None:
            try:
                await known[1].aclose()
            except Exception:  # a broken connection: nothing to give back
                _logger.debug('Could not close a taking connection', exc_info=True)

    async def _open_request(self, element: object, held: AsyncHeldRequest | None) -> ReceivedMessage | None:
        core = self._core
        try:
            message = envelope.decode_request(
                element,
                core._serializers.for_content_type,
                self.service_name,
                time.time(),
                maximum_size=core.maximum_message_size_in_bytes,
                signer=core.options.signer,
            )
        except envelope.MessageExpiredError as error:
            reporting.report_refused_message(error, self.service_name, core._count)
            if held is not None:
                await self._dead_letter(held, 'expired', error.request_id)
            return None
        except errors.InvalidMessageError as error:
            if isinstance(error, envelope.UnreadableMessageError | envelope.InvalidEnvelopeError):
                reporting.report_refused_message(error, self.service_name, core._count)
            if held is not None:
                # Unreadable now, unreadable on every redelivery: discarded as in at-most-once delivery.
                await self._settle(held)
            await self._reject(error)
            return None
        meta = message.meta if message.meta is not None else {}
        if meta.get('signed') is False:
            core._count('receive.unsigned')
        if held is None:
            return message
        meta[IN_FLIGHT_META_KEY] = held
        meta[DELIVERY_COUNT_META_KEY] = held.deliveries
        maximum = core.options.max_deliveries
        if held.deliveries > maximum:
            await self._dead_letter(held, 'max_deliveries', message.request_id)
            text = (
                f'Request {message.request_id!r} for service {self.service_name} was delivered {held.deliveries} '
                f'times (max_deliveries is {maximum}) without being answered, and is now a dead letter'
            )
            await self._tell_sender(message.request_id, meta, Error(code=ERROR_CODE_SERVER_ERROR, message=text))
            return None
        return message

    async def _reject(self, error: errors.InvalidMessageError) -> None:
        sender = discard_invalid_request(error, self.service_name, self._metrics)
        if sender is not None:
            await self._tell_sender(*sender)

    async def _tell_sender(self, request_id: Any, meta: dict[str, Any], error: Error) -> None:
        response = refusal_response(meta, error)
        if response is None:
            return
        try:
            await self.send(request_id, meta, response)
        except Exception as send_error:
            _logger.warning(
                'Could not tell the sender of request %r that it will not be run: %s', request_id, send_error
            )

    # ---- sending and settling

    async def send(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Send `body` to the request's reply queue, acknowledging the request in the same step when it is held.

        Raises what `RedisServerTransport.send_response_message` raises (InvalidMessageError, MessageTooLarge,
        QueueFullError, MessageSendError, ...).
        """
        core = self._core
        held = meta.get(IN_FLIGHT_META_KEY)
        held = held if isinstance(held, AsyncHeldRequest) else None
        try:
            queue_name = reply_queue_of(meta, self._metrics)
            with self._metrics.timer('server.transport.redis_gateway.send', **MICROSECOND_TIMER_KWARGS):
                elements, expiry = core.encode_message(request_id, meta, body, None)
                envelope.note_sent_size(meta, elements)
                await self._push_while_full(queue_name, elements, expiry, held)
        except Exception:
            if held is not None and not held.settled:
                held.abandoned = True  # back to the queue, unless the worker acknowledges it after all
            raise

    async def _push_while_full(
        self, queue_name: str, elements: bytes | list[bytes], expiry: int, held: AsyncHeldRequest | None
    ) -> None:
        core = self._core
        queue_key = core.QUEUE_NAME_PREFIX + queue_name
        started = time.monotonic()
        try:
            client = await self._client(queue_key)
            run = self._run(client)

            async def push_once(seconds: float) -> bool:
                return await self._push(run, client, queue_key, elements, expiry, held, seconds)

            factor = core.EXPONENTIAL_BACK_OFF_FACTOR
            pushed, attempts = await commands.push_while_full(
                push_once, started + REPLY_SECONDS, core.queue_full_retries, factor, core._count
            )
        except errors.InvalidMessageError:
            raise  # a reply queue the cluster backend refuses (no hash tag): the blocking path raises it too
        except Exception as error:
            raise self._failure(error, sending=True)
        if not pushed:
            raise queue_full_error(queue_name, attempts, started, core._count)

    async def _push(
        self,
        run: commands.ScriptRunner,
        client: redis.asyncio.Redis,
        queue_key: str,
        elements: bytes | list[bytes],
        expiry: int,
        held: AsyncHeldRequest | None,
        seconds: float,
    ) -> bool:
        capacity = self._core.queue_capacity
        if held is None or held.settled or held.connection is not client:
            # Not held, or the reply queue lives on another server: answer, then acknowledge.
            return await commands.push(run, queue_key, elements, expiry=expiry, capacity=capacity, seconds=seconds)
        request = (held.element, held.digest)
        call = in_flight.reply_and_acknowledge_call(
            queue_key, self._keys, self._worker, request, elements, expiry=expiry, capacity=capacity
        )
        pushed = await commands.run_unless_full(run, call, seconds)
        if pushed:
            self._settled(held, client)
        return pushed

    async def acknowledge(self, meta: dict[str, Any]) -> None:
        """The request is done (answered, or no answer will be sent): take it out of flight, if it is held."""
        held = meta.get(IN_FLIGHT_META_KEY) if isinstance(meta, dict) else None
        if isinstance(held, AsyncHeldRequest):
            await self._settle(held)

    async def _script(self, client: redis.asyncio.Redis, call: ScriptCall) -> object:
        return await self._run(client)(call, REPLY_SECONDS)

    def _acknowledge_call(self, held: AsyncHeldRequest) -> ScriptCall:
        return in_flight.acknowledge_call(self._keys, self._worker, held.element, held.digest)

    async def _settle(self, held: AsyncHeldRequest) -> None:
        if held.settled:
            return
        held.abandoned = False
        try:
            await self._script(held.connection, self._acknowledge_call(held))
        except Exception as error:
            # Kept open: retried before the next receive, instead of being run again.
            _logger.warning('Could not acknowledge a request of service %s: %r', self.service_name, error)
            held.acknowledging = True
            return
        self._settled(held, held.connection)

    def _settled(self, held: AsyncHeldRequest, client: redis.asyncio.Redis) -> None:
        """`held` was taken out of the in-flight list on `client`. On Sentinel, a failover before the replicas have
        that would leave it in the list on the promoted master, to be run again once this worker stops: it is
        remembered until the guard confirms a later taking on `client`, and acknowledged again where its place is
        served, should that change meanwhile (`_settle_leftovers`)."""
        self._forget(held)
        if self._sentinel:
            self._unconfirmed.append((self._settlings, client, held))
            self._settlings += 1

    def _forget(self, held: AsyncHeldRequest) -> None:
        held.mark_settled()
        self._open.pop(id(held), None)

    async def _settle_again(self, client: redis.asyncio.Redis, place: object) -> None:
        """Acknowledge on `client` what was settled at `place` on another connection, unconfirmed (`_settled`): the
        master a failover promoted may still hold it in flight. Its answer, if it went to the old master, is not
        sent again: the caller may have read it there (as the blocking core's `_answer_again`)."""
        moved = [held for _, on, held in self._unconfirmed if on is not client and held.place == place]
        if not moved:
            return
        for held in moved:
            await self._script(client, self._acknowledge_call(held))
            self._core._count('delivery.settled_again_after_failover')  # per request, as the blocking core counts
        done = {id(held) for held in moved}
        self._unconfirmed = [entry for entry in self._unconfirmed if id(entry[2]) not in done]
        for held in moved:
            # Unconfirmed on `client` in turn: mid-failover it may be another client of the master being replaced
            # (the Sentinels named it again), and the next switch must acknowledge these once more.
            self._settled(held, client)
        _logger.info('Acknowledged again %d request(s) settled on a replaced Redis master', len(moved))

    async def _settle_leftovers(self, client: redis.asyncio.Redis, place: object) -> None:
        leftovers = [held for held in self._open.values() if held.place == place]
        for held in leftovers:
            # First, before any await: what the tasks still serving settle from now on goes to the server of its
            # place now (as the blocking core's `_server_of`), not to a master a failover replaced.
            held.connection = client
        await self._settle_again(client, place)
        for held in leftovers:
            if held.acknowledging and not held.settled:
                await self._script(client, self._acknowledge_call(held))
                self._settled(held, client)
        leftovers = [held for held in leftovers if not held.settled]
        if place not in self._unknown_in_flight and not any(held.abandoned for held in leftovers):
            return
        # Only what this worker holds, but could not answer, goes back to the queue. Kept: every request still being
        # served, and every one settled elsewhere and not yet acknowledged again here (tasks settle while this
        # coroutine awaits, some on the replaced master): the next receive acknowledges those (`_settle_again`).
        here = [held for held in self._open.values() if held.place == place]
        returned = [held for held in here if held.abandoned]
        keep = [held.digest for held in here if not held.abandoned]
        keep += [held.digest for _, on, held in self._unconfirmed if on is not client and held.place == place]
        call = in_flight.release_call(self._keys, self._worker, keep)
        # On the taking connection, and trusted only once the guard confirms it (Sentinel): a release on a master
        # being replaced would be lost with it, and the promoted one would keep the requests in flight for good.
        settled_before = self._settlings
        released = in_flight.as_int(await commands.run_script(self._taker(client), call, REPLY_SECONDS))
        await self._check_taken(client, settled_before)
        self._unknown_in_flight.discard(place)
        for held in returned:
            self._forget(held)
        if released:
            self._metrics.counter('server.transport.redis_gateway.delivery.released').increment(released)
            _logger.warning('Returned %d request(s) whose answer could not be sent to the queue', released)

    async def _recover(self, client: redis.asyncio.Redis) -> None:
        assert self._alo_core is not None
        now = time.monotonic()
        if now - self._last_recovery.get(id(client), -1e9) < self._alo_core.options.heartbeat_interval_in_seconds:
            return
        self._last_recovery[id(client)] = now
        recovered = in_flight.recovered(await self._script(client, in_flight.recover_call(self._keys, self._worker)))
        for dead_worker, count in recovered:
            self._alo_core.report_recovered(dead_worker, count)

    async def _dead_letter(self, held: AsyncHeldRequest, reason: str, request_id: object) -> None:
        assert self._alo_core is not None
        options = self._alo_core.options
        record = self._alo_core.dead_letter_record(reason, held.deliveries, request_id)
        call = in_flight.dead_letter_call(
            self._keys,
            held.element,
            record,
            keep_seconds=options.dead_letter_expiry_in_seconds,
            capacity=options.dead_letter_capacity,
        )
        try:
            await self._script(held.connection, call)
        except Exception as error:
            self._alo_core.report_dead_letter(record, error)
            return
        self._settled(held, held.connection)
        self._alo_core.report_dead_letter(record, None)


def _nothing() -> None:
    return None
