"""The receive and send of a `RedisServerTransport`, awaited on a concurrent worker's event loop.

A concurrent worker (`pysoa.server.concurrent_worker`) keeps many requests open at once, so it cannot block in BLPOP
or in a push: it receives and answers through this object, which reads the blocking transport's settings and backend
and does what the blocking path does with the same pieces: the pure envelope functions (`envelope.decode_request`,
`envelope.encode` through the core's `_encode`: size limits, signing, chunking), the same `.lua` scripts
(`backend.async_server_commands`), and for at-least-once delivery (docs/delivery.rst) the same keys, the same
heartbeat thread (`liveness`, started by the blocking core) and the same worker id, so a request held here is
recovered by other workers when this one dies. Requests that are refused (unreadable, expired, delivered too often)
never reach the worker: their senders are told, as the blocking transport tells them.

Redis failures become the transport errors the blocking path raises (`reporting.transport_failure`), so the worker
backs off the same way; every command runs under a time limit, so a frozen Redis cannot hold a job past it.
"""

import asyncio
import logging
import time
from typing import Any

import attrs
import redis

from pysoa.common.backoff import jittered_backoff
from pysoa.common.constants import ERROR_CODE_SERVER_ERROR
from pysoa.common.errors import Error
from pysoa.common.transport import errors
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.redis_gateway import envelope, reporting
from pysoa.common.transport.redis_gateway.backend import async_server_commands as commands
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys, request_digest
from pysoa.common.transport.redis_gateway.constants import POP_MARGIN_SECONDS, REPLY_SECONDS
from pysoa.common.transport.redis_gateway.delivery import (
    DELIVERY_COUNT_META_KEY,
    IN_FLIGHT_META_KEY,
    AtLeastOnceServerCore,
)
from pysoa.common.transport.redis_gateway.server import (
    RedisServerTransport,
    discard_invalid_request,
    refusal_response,
    reply_queue_of,
)

__all__ = ('AsyncRedisServerTransport', 'HeldRequest')

_logger = logging.getLogger(__name__)

_COUNTS_KEEP_SECONDS = 24 * 3600  # as the blocking core keeps them (delivery.py)


@attrs.define(eq=False)
class HeldRequest:
    """A request held in this worker's in-flight list (at-least-once delivery) until it is settled."""

    connection: commands.AsyncRedis
    element: bytes
    digest: str
    deliveries: int
    settled: bool = False
    abandoned: bool = False
    """Its answer could not be sent: unless it is acknowledged after all, it goes back to the queue."""
    acknowledging: bool = False
    """Done with, but Redis failed to take the acknowledgement: retried before the next receive."""


class AsyncRedisServerTransport:
    """Awaitable `receive`, `send` and `acknowledge` for the requests of one `RedisServerTransport`."""

    def __init__(self, transport: RedisServerTransport) -> None:
        self._transport = transport
        self._core = transport.core
        self._metrics = transport.metrics
        self.service_name = transport.service_name
        self._queue_key = self._core.QUEUE_NAME_PREFIX + transport._receive_queue_name
        self._keys = DeliveryKeys(self._queue_key)
        self._twins: dict[int, tuple[object, commands.AsyncRedis]] = {}
        self._alo_core = self._core if isinstance(self._core, AtLeastOnceServerCore) else None
        self._open: dict[int, HeldRequest] = {}
        self._last_recovery: dict[int, float] = {}
        self._batches = True
        self._batchers: dict[int, commands.ScriptBatcher] = {}

    def start(self) -> None:
        """Check that the backend can be mirrored and, for at-least-once delivery, start the heartbeat.

        Raises ValueError naming the problem, so a worker that cannot serve concurrently stops at start-up.
        """
        self._connection(self._queue_key, for_send=False)
        if self._alo_core is not None:
            self._alo_core._ensure_heartbeat(self._keys)

    async def close(self) -> None:
        """Close the asyncio connections (the blocking transport's `close` stops the heartbeat)."""
        for _, twin in self._twins.values():
            await twin.aclose(close_connection_pool=True)
        self._twins.clear()

    def _connection(self, queue_key: str, for_send: bool) -> commands.AsyncRedis:
        # The backend picks the server of the ring (no I/O); this keeps one asyncio client per server.
        blocking = self._core._get_redis_connection(for_send, queue_key, REPLY_SECONDS)
        known = self._twins.get(id(blocking))
        if known is None or known[0] is not blocking:
            known = self._twins[id(blocking)] = (blocking, commands.async_twin(blocking))
        return known[1]

    def _batcher(self, connection: commands.AsyncRedis) -> commands.ScriptBatcher:
        batcher = self._batchers.get(id(connection))
        if batcher is None:
            batcher = self._batchers[id(connection)] = commands.ScriptBatcher(connection, REPLY_SECONDS)
        return batcher

    @property
    def _worker(self) -> str:
        return self._alo_core.worker_id if self._alo_core is not None else ''

    # ---- receiving

    async def receive(self, timeout: float, up_to: int = 1) -> list[ReceivedMessage]:
        """Up to `up_to` valid requests, waiting up to `timeout` seconds for the first; refused ones are left out.

        With at-most-once delivery, what is already queued is taken in one round trip (LPOP with a count, Redis 6.2
        and later); at-least-once delivery moves one request at a time into flight.
        """
        connection = self._connection(self._queue_key, for_send=False)
        held: HeldRequest | None = None
        try:
            if self._alo_core is not None:
                element, held = await self._move_to_in_flight(connection, timeout)
                elements = [] if element is None else [element]
            else:
                elements = await self._pop(connection, timeout, up_to)
        except Exception as error:
            raise self._core._failure(error, sending=False)
        received = []
        for element in elements:
            message = await self._open_request(element, held)
            if message is not None:
                received.append(message)
        return received

    async def _pop(self, connection: commands.AsyncRedis, timeout: float, up_to: int) -> list[object]:
        if up_to > 1 and self._batches:
            async with asyncio.timeout(REPLY_SECONDS):
                try:
                    elements = await commands.pop_queued(connection, self._queue_key, up_to)
                except redis.ResponseError:
                    self._batches = False  # a Redis before 6.2: one request per round trip
                    elements = []
            if elements:
                return elements
        async with asyncio.timeout(timeout + POP_MARGIN_SECONDS):
            element = await commands.pop(connection, self._queue_key, timeout)
        return [] if element is None else [element]

    async def _move_to_in_flight(
        self, connection: commands.AsyncRedis, timeout: float
    ) -> tuple[object, HeldRequest | None]:
        assert self._alo_core is not None
        self._alo_core._ensure_heartbeat(self._keys)  # restarts a heartbeat thread that died; cheap otherwise
        async with asyncio.timeout(REPLY_SECONDS):
            await self._settle_leftovers(connection)
            await self._recover(connection)
        in_flight_list = self._keys.in_flight(self._worker)
        async with asyncio.timeout(timeout + POP_MARGIN_SECONDS):
            element = await commands.move_to_in_flight(connection, self._queue_key, in_flight_list, timeout)
        if not isinstance(element, bytes):
            return element, None  # nothing came, or something the envelope refuses (it stays in flight)
        digest = request_digest(element)
        async with asyncio.timeout(REPLY_SECONDS):
            deliveries = await commands.count_delivery(connection, self._keys, digest, _COUNTS_KEEP_SECONDS)
        held = HeldRequest(connection, element, digest, deliveries)
        self._open[id(held)] = held
        if deliveries > 1:
            self._core._count('delivery.redelivered')
        return element, held

    async def _open_request(self, element: object, held: HeldRequest | None) -> ReceivedMessage | None:
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
        held = held if isinstance(held, HeldRequest) else None
        try:
            queue_key = core.QUEUE_NAME_PREFIX + reply_queue_of(meta, self._metrics)
            # What the blocking core's `send_message` does before it pushes, with the same envelope functions.
            expires_at, expiry = envelope.expiry_times(time.time(), None, core.message_expiry_in_seconds)
            meta['__expiry__'] = expires_at
            serializer = meta.get('serializer') or core.default_serializer
            version = envelope.reply_version(meta, core.protocol_version)
            signer = envelope.signer_for_message(meta, core.options.signer)
            elements = core._encode(envelope.wire_envelope(request_id, meta, body), serializer, version, signer)
            connection = self._connection(queue_key, for_send=True)
            await self._push_while_full(connection, queue_key, elements, expiry, held)
        except Exception:
            if held is not None and not held.settled:
                held.abandoned = True  # back to the queue, unless the worker acknowledges it after all
            raise

    async def _push_while_full(
        self,
        connection: commands.AsyncRedis,
        queue_key: str,
        elements: bytes | list[bytes],
        expiry: int,
        held: HeldRequest | None,
    ) -> None:
        core = self._core
        started = time.monotonic()
        deadline = started + REPLY_SECONDS
        attempts = 0
        while True:
            attempts += 1
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    if await self._push(connection, queue_key, elements, expiry, held):
                        return
            except Exception as error:
                raise core._failure(error, sending=True)
            delay = jittered_backoff(attempts - 1, core.EXPONENTIAL_BACK_OFF_FACTOR)
            if attempts > core.queue_full_retries or time.monotonic() + delay >= deadline:
                break
            core._count('send.queue_full_retry')
            core._count(f'send.queue_full_retry.retry_{attempts}')
            await asyncio.sleep(delay)
        core._count('send.error.redis_queue_full')
        raise errors.QueueFullError(
            f'Redis queue {queue_key} was full: {attempts} attempts over {time.monotonic() - started:.2f} seconds'
        )

    async def _push(
        self,
        connection: commands.AsyncRedis,
        queue_key: str,
        elements: bytes | list[bytes],
        expiry: int,
        held: HeldRequest | None,
    ) -> bool:
        capacity = self._core.queue_capacity
        run = self._batcher(connection).run
        if held is None or held.settled or held.connection is not connection:
            # Not held, or the reply queue lives on another server: answer, then acknowledge.
            return await commands.push(run, queue_key, elements, expiry=expiry, capacity=capacity)
        request = (held.element, held.digest)
        pushed = await commands.reply_and_acknowledge(
            run, queue_key, self._keys, self._worker, request, elements, expiry=expiry, capacity=capacity
        )
        if pushed:
            self._forget(held)
        return pushed

    async def acknowledge(self, meta: dict[str, Any]) -> None:
        """The request is done (answered, or no answer will be sent): take it out of flight, if it is held."""
        held = meta.get(IN_FLIGHT_META_KEY) if isinstance(meta, dict) else None
        if isinstance(held, HeldRequest):
            await self._settle(held)

    async def _settle(self, held: HeldRequest) -> None:
        if held.settled:
            return
        held.abandoned = False
        try:
            async with asyncio.timeout(REPLY_SECONDS):
                await commands.acknowledge(held.connection, self._keys, self._worker, held.element, held.digest)
        except Exception as error:
            # Kept open: retried before the next receive, instead of being run again.
            _logger.warning('Could not acknowledge a request of service %s: %r', self.service_name, error)
            held.acknowledging = True
            return
        self._forget(held)

    def _forget(self, held: HeldRequest) -> None:
        held.settled = True
        held.abandoned = held.acknowledging = False
        self._open.pop(id(held), None)

    async def _settle_leftovers(self, connection: commands.AsyncRedis) -> None:
        leftovers = [held for held in self._open.values() if held.connection is connection]
        for held in leftovers:
            if held.acknowledging:
                await commands.acknowledge(connection, self._keys, self._worker, held.element, held.digest)
                self._forget(held)
        leftovers = [held for held in leftovers if not held.settled]
        if not any(held.abandoned for held in leftovers):
            return
        # Every request still being served is kept; only those whose answer could not be sent go back.
        keep = [held.digest for held in leftovers if not held.abandoned]
        released = await commands.release(connection, self._keys, self._worker, keep)
        for held in leftovers:
            if held.abandoned:
                self._forget(held)
        if released:
            self._metrics.counter('server.transport.redis_gateway.delivery.released').increment(released)
            _logger.warning('Returned %d request(s) whose answer could not be sent to the queue', released)

    async def _recover(self, connection: commands.AsyncRedis) -> None:
        assert self._alo_core is not None
        now = time.monotonic()
        if now - self._last_recovery.get(id(connection), -1e9) < self._alo_core.options.heartbeat_interval_in_seconds:
            return
        self._last_recovery[id(connection)] = now
        for dead_worker, count in await commands.recover(connection, self._keys, self._worker):
            self._alo_core.report_recovered(dead_worker, count)

    async def _dead_letter(self, held: HeldRequest, reason: str, request_id: object) -> None:
        assert self._alo_core is not None
        options = self._alo_core.options
        record = self._alo_core.dead_letter_record(reason, held.deliveries, request_id)
        try:
            async with asyncio.timeout(REPLY_SECONDS):
                await commands.dead_letter(
                    held.connection,
                    self._keys,
                    held.element,
                    record,
                    keep_seconds=options.dead_letter_expiry_in_seconds,
                    capacity=options.dead_letter_capacity,
                )
        except Exception as error:
            self._alo_core.report_dead_letter(record, error)
            return
        self._forget(held)
        self._alo_core.report_dead_letter(record, None)
