"""At-least-once delivery on the server side: the core that a `RedisServerTransport` uses with `'delivery':
'at-least-once'` (docs/delivery.rst).

A request is moved atomically from the service queue into the worker's in-flight list (BLMOVE), its delivery is
counted, and it stays there until the worker has answered it (the answer and the acknowledgement are one atomic
script when the reply queue lives on the same Redis server) or decided to send none. Workers keep a heartbeat key
(`liveness`); a live worker returns the in-flight requests of a worker whose heartbeat lapsed to the front of the
queue. A request delivered more than `max_deliveries` times, or found expired, becomes a dead letter
(`dead_letters` reads them). The bytes of requests and responses are exactly those of at-most-once delivery.

The request's handle and its delivery count travel in the received meta, under keys that never go on the wire
(`envelope.LOCAL_META_KEYS`): `meta['delivery_count']` is how often the request has been delivered (1 the first time).
"""

import functools
import logging
import threading
import time
import uuid
from typing import Any

import attrs
import redis

from pysoa.common.transport import errors
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.redis_gateway import envelope
from pysoa.common.transport.redis_gateway.backend import in_flight
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient
from pysoa.common.transport.redis_gateway.backend.direct import CommandArgument, time_limit
from pysoa.common.transport.redis_gateway.backend.legacy import driven
from pysoa.common.transport.redis_gateway.backend.scripts import load_script, run_unless_full
from pysoa.common.transport.redis_gateway.constants import POP_MARGIN_SECONDS, REPLY_SECONDS
from pysoa.common.transport.redis_gateway.core import RedisTransportServerCore
from pysoa.common.transport.redis_gateway.liveness import WorkerHeartbeat, new_worker_id

__all__ = (
    'DELIVERY_COUNT_META_KEY',
    'IN_FLIGHT_META_KEY',
    'AtLeastOnceServerCore',
    'DeadLetteredError',
    'InFlightRequest',
)

_logger = logging.getLogger(__name__)

IN_FLIGHT_META_KEY = 'in_flight'
"""The received meta's key for the request's `InFlightRequest` (local: never sent)."""

DELIVERY_COUNT_META_KEY = 'delivery_count'
"""The received meta's key for how often the request has been delivered, 1 the first time (local: never sent)."""

_COUNTS_KEEP_SECONDS = 24 * 3600
"""How long delivery counts outlive their last change (they are deleted with their request; this is a backstop)."""

_REPLY_IF_HELD = load_script('reply_if_held')


def _as_elements(elements: bytes | list[bytes]) -> tuple[bytes, ...]:
    return (elements,) if isinstance(elements, bytes) else tuple(elements)


def _address_of(connection: redis.Redis) -> object:
    """Which Redis server `connection` talks to (after a failover, a new client may talk to the same one)."""
    pool = getattr(connection, 'connection_pool', None)
    kwargs = getattr(pool, 'connection_kwargs', None)
    if not isinstance(kwargs, dict):
        return id(connection)
    return kwargs.get('host'), kwargs.get('port'), kwargs.get('path'), kwargs.get('db')


@attrs.define(eq=False, kw_only=True)
class InFlightRequest(in_flight.HeldRequest):
    """A request in this worker's in-flight list on the server of `connection`, until it is settled."""

    connection: redis.Redis
    keys: in_flight.DeliveryKeys
    answer: tuple[str, bytes | list[bytes], int, object] | None = None
    """The reply queue, elements and expiry of its answer, and the server it was sent to, while it is being sent."""
    answer_in_doubt: bool = False
    """Its answer may not have reached the master that now serves it (a failover, an outage): settled before the next
    receive (`_answer_again`), never by running the request again."""


class DeadLetteredError(errors.MessageReceiveTimeout):
    """A request was delivered too often and is now a dead letter; its sender should be told if it waits."""

    def __init__(self, message: str, request_id: object, meta: dict[str, Any]) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.meta = meta


class AtLeastOnceServerCore(RedisTransportServerCore):
    """The server core with requests held in flight until acknowledged (see the module docstring)."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._heartbeat: WorkerHeartbeat | None = None
        self._open: dict[int, InFlightRequest] = {}  # by id(): a worker may one day serve several at once
        self._last_recovery: dict[int, float] = {}
        self._unknown_in_flight: set[object] = set()  # see `_pop` and `_server_token`
        self._received = threading.local()

    @property
    def worker_id(self) -> str:
        """This worker's id in Redis ('' before the first receive; a new one in a forked child)."""
        return self._heartbeat.worker if self._heartbeat is not None else ''

    def _backend(self) -> BaseRedisClient:
        backend = driven(self.backend_layer)
        if not isinstance(backend, BaseRedisClient):
            raise errors.MessageReceiveError("At-least-once delivery needs one of pysoa's own Redis backends")
        return backend

    def _ensure_heartbeat(self, keys: in_flight.DeliveryKeys) -> None:
        heartbeat = self._heartbeat
        if heartbeat is None or heartbeat.keys != keys or not heartbeat.is_current_process():
            if heartbeat is not None:
                heartbeat.stop()
            self._open.clear()
            heartbeat = self._heartbeat = WorkerHeartbeat(
                keys,
                new_worker_id(),
                functools.partial(self._backend().connections_for, keys.queue),
                interval=self.options.heartbeat_interval_in_seconds,
                expiry=self.options.heartbeat_expiry_in_seconds,
            )
        heartbeat.ensure_running()

    def stop_heartbeat(self) -> None:
        """Stop refreshing this worker's heartbeat (its key lapses by itself; in-flight requests then go back)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()

    # ---- receiving

    def receive_message(self, queue_name: str, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        """Receive a request as the base core does, holding it in this worker's in-flight list (see the module)."""
        keys = in_flight.DeliveryKeys(self.QUEUE_NAME_PREFIX + queue_name)
        self._ensure_heartbeat(keys)
        self._received.request = None
        try:
            message = super().receive_message(queue_name, receive_timeout_in_seconds)
        except envelope.MessageExpiredError as error:
            self._dead_letter(self._received.request, 'expired', error.request_id)
            raise
        except errors.InvalidMessageError:
            if self._received.request is not None:
                # Unreadable now, unreadable on every redelivery: it is discarded as in at-most-once delivery.
                self.acknowledge(self._received.request)
            raise
        request: InFlightRequest = self._received.request
        meta = message.meta if message.meta is not None else {}
        meta[IN_FLIGHT_META_KEY] = request
        meta[DELIVERY_COUNT_META_KEY] = request.deliveries
        if request.deliveries > self.options.max_deliveries:
            self._dead_letter(request, 'max_deliveries', message.request_id)
            raise DeadLetteredError(
                f'Request {message.request_id!r} for service {self.service_name} was delivered {request.deliveries} '
                f'times (max_deliveries is {self.options.max_deliveries}) without being answered, and is now a '
                'dead letter',
                message.request_id,
                meta,
            )
        return message

    def _pop(self, connection: redis.Redis, queue_key: str, timeout: float) -> object:
        keys = in_flight.DeliveryKeys(queue_key)
        worker = self.worker_id
        request: InFlightRequest | None = None
        try:
            with time_limit(REPLY_SECONDS):
                self._settle_leftovers(connection, keys)
                self._recover(connection, keys, worker)
            with time_limit(timeout + POP_MARGIN_SECONDS):
                element = in_flight.move_to_in_flight(connection, queue_key, keys.in_flight(worker), timeout)
            if element is None:
                raise errors.MessageReceiveTimeout(f'No message received for service {self.service_name}')
            if not isinstance(element, bytes):
                return element  # the envelope refuses it; it stays in flight and goes back if ever
            digest = in_flight.request_digest(element)
            request = InFlightRequest(connection=connection, keys=keys, element=element, digest=digest, deliveries=0)
            self._open[id(request)] = request
            # Not run if a failover may bring it back (Sentinel; `failover_guard`): it goes back to the queue of
            # whichever master serves next, if that one holds it at all.
            self._backend().check_taken(connection)
            with time_limit(REPLY_SECONDS):
                request.deliveries = in_flight.count_delivery(connection, keys, request.digest, _COUNTS_KEEP_SECONDS)
        except errors.MessageReceiveTimeout:
            raise
        except Exception as error:
            # BLMOVE may have moved a request into the in-flight list before the failure (its reply lost, or the
            # count refused by a master that just failed over): nothing here knows it, so no answer would ever
            # acknowledge it. The next receive returns what this worker holds without a record to the queue.
            self._unknown_in_flight.add(self._server_token(connection))
            if request is not None:
                request.abandoned = True
            raise self._failure(error, sending=False)
        self._received.request = request
        if request.deliveries > 1:
            self._count('delivery.redelivered')
        return element

    def _recover(self, connection: redis.Redis, keys: in_flight.DeliveryKeys, worker: str) -> None:
        """Every heartbeat interval (per server), return dead workers' in-flight requests to the queue."""
        now = time.monotonic()
        if now - self._last_recovery.get(id(connection), -1e9) < self.options.heartbeat_interval_in_seconds:
            return
        self._last_recovery[id(connection)] = now
        for dead_worker, count in in_flight.recover(connection, keys, worker):
            self.report_recovered(dead_worker, count)

    def report_recovered(self, dead_worker: str, count: int) -> None:
        """Count and log the `count` in-flight requests of `dead_worker` returned to the queue."""
        self._count('delivery.workers_recovered')
        self.metrics.counter(self._metric_prefix + 'delivery.requeued').increment(count)
        _logger.warning(
            'Worker %s of service %s stopped its heartbeat: returned its %d in-flight request(s) to the front of '
            'the queue',
            dead_worker,
            self.service_name,
            count,
        )

    def dead_letter_record(self, reason: str, deliveries: int, request_id: object) -> in_flight.DeadLetterRecord:
        """What this worker keeps of a request it makes a dead letter now."""
        return in_flight.DeadLetterRecord(uuid.uuid4().hex, reason, time.time(), deliveries, request_id, self.worker_id)

    def report_dead_letter(self, record: in_flight.DeadLetterRecord, error: Exception | None) -> None:
        """Count and log a request made a dead letter (`error`: why it could not be kept as one)."""
        if error is not None:
            _logger.error(
                'Could not keep request %r of service %s as a dead letter: %r',
                record.request_id,
                self.service_name,
                error,
            )
            return
        self._count(f'delivery.dead_letter.{record.reason}')
        _logger.error(
            'Request %r of service %s is now dead letter %s (reason %s, delivered %d times)',
            record.request_id,
            self.service_name,
            record.letter_id,
            record.reason,
            record.deliveries,
        )

    def _settle_leftovers(self, connection: redis.Redis, keys: in_flight.DeliveryKeys) -> None:
        """Acknowledgements that failed are retried, answers in doubt sent again where the request still is, and
        requests whose answer could not be sent go back to the queue (on the server that now holds them); so do
        those in this worker's in-flight list that it has no record of (after a failed receive)."""
        leftovers = [request for request in self._open.values() if self._server_of(request) is connection]
        for request in leftovers:
            request.connection = connection
            if request.acknowledging:
                in_flight.acknowledge(connection, request.keys, self.worker_id, request.element, request.digest)
                self._forget(request)
            elif request.answer_in_doubt:
                self._answer_again(request)
        leftovers = [request for request in leftovers if not request.settled]
        token = self._server_token(connection)
        if token not in self._unknown_in_flight and not any(request.abandoned for request in leftovers):
            return
        keep = [request.digest for request in leftovers if not request.abandoned]
        released = in_flight.release(connection, keys, self.worker_id, keep)
        self._unknown_in_flight.discard(token)
        for request in leftovers:
            if request.abandoned:
                self._forget(request)
        if released:
            self.metrics.counter(self._metric_prefix + 'delivery.released').increment(released)
            _logger.warning('Returned %d request(s) that this worker could not answer to the queue', released)

    def _answer_again(self, request: InFlightRequest) -> None:
        """Settle a request whose answer is in doubt, on the master that now serves it, without running it again.

        On the server the answer went to (Redis was unreachable, or slow to replicate), it is sent again if and
        only if the request is still in flight there (`reply_if_held.lua`): never twice. On another server (a
        failover), the caller may have read the first answer from the old master, so the request is only
        acknowledged there: at worst its caller gets a timeout, never a second answer.
        """
        if request.answer is None:
            request.answer_in_doubt, request.abandoned = False, True
            return
        reply_queue, elements, expiry, server = request.answer
        if _address_of(request.connection) == server:
            keys = (reply_queue, request.keys.in_flight(self.worker_id), request.keys.deliveries)
            arguments: list[CommandArgument] = [expiry, self.queue_capacity, request.element, request.digest]
            arguments.extend(_as_elements(elements))
            outcome = _REPLY_IF_HELD.run(request.connection, keys, arguments)
            name = {1: 'answer_resent', 0: 'answer_already_there', -1: 'answer_dropped_reply_queue_full'}[
                in_flight.as_int(outcome)
            ]
        else:
            in_flight.acknowledge(request.connection, request.keys, self.worker_id, request.element, request.digest)
            name = 'answer_left_on_old_master'
        if not self._backend().confirm_taken(request.connection):
            return  # in doubt still (the Sentinels are switching): again before the next receive
        self._forget(request)
        self._count(f'delivery.{name}')
        _logger.warning('Settled a request of service %s whose answer was in doubt (%s)', self.service_name, name)

    # ---- settling

    def _push(
        self,
        connection: redis.Redis,
        queue_key: str,
        elements: bytes | list[bytes],
        expiry: int,
        meta: dict[str, Any],
        request_id: object,
    ) -> bool:
        request = meta.get(IN_FLIGHT_META_KEY)
        if isinstance(request, InFlightRequest) and not request.settled:
            # Kept first: should anything below fail, the request has run, and its answer is settled, not rerun.
            request.answer = (queue_key, elements, expiry, _address_of(request.connection))
            # After a failover the request is answered (and acknowledged) on the server that now holds it.
            request.connection = self._server_of(request)
            request.answer = (queue_key, elements, expiry, _address_of(request.connection))
        if not isinstance(request, InFlightRequest) or request.settled or request.connection is not connection:
            # Another server holds the reply queue: answer, then acknowledge (a crash in between answers twice).
            return super()._push(connection, queue_key, elements, expiry, meta, request_id)
        call = in_flight.reply_and_acknowledge_call(
            queue_key,
            request.keys,
            self.worker_id,
            (request.element, request.digest),
            elements,
            expiry=expiry,
            capacity=self.queue_capacity,
        )
        pushed = run_unless_full(call, connection)
        if pushed and not self._backend().confirm_taken(connection):
            # The master may have been replaced before the answer reached its replicas: sent again (once) later.
            request.answer_in_doubt = True
            return True
        if pushed:
            self._forget(request)
        return pushed

    def acknowledge(self, request: InFlightRequest) -> None:
        """Take `request` out of the in-flight list (unless already settled); a failure is retried later."""
        if request.settled or request.answer_in_doubt:
            return  # an answer in doubt is settled before the next receive (`_answer_again`)
        request.abandoned = False
        try:
            with time_limit(REPLY_SECONDS):
                request.connection = self._server_of(request)
                in_flight.acknowledge(request.connection, request.keys, self.worker_id, request.element, request.digest)
        except Exception as error:
            # Kept open: retried before the next receive on that server, instead of being run again.
            _logger.warning('Could not acknowledge a request of service %s: %r', self.service_name, error)
            request.acknowledging = True
            return
        self._forget(request)

    def abandon(self, request: InFlightRequest, error: Exception | None = None) -> None:
        """The answer to `request` could not be sent: unless acknowledged after all, it goes back to the queue.

        When Redis failed (`MessageSendError`: unreachable, or a master demoted by a failover) the request has run:
        instead of running it again, its answer is sent again before the next receive, where the request is held.
        """
        if request.settled:
            return
        redis_failed = isinstance(error, errors.MessageSendError | errors.ConnectionError)
        if redis_failed and not isinstance(error, errors.QueueFullError | errors.UnusableQueueError) and request.answer:
            request.answer_in_doubt = True
        else:
            request.abandoned = True

    def _server_token(self, connection: redis.Redis) -> object:
        """What names the server behind `connection` in `_unknown_in_flight`: on Redis Cluster, the one master of
        the service's slot, whichever it is now; else the connection's server."""
        return 'slot master' if self._backend().QUEUE_HASH_TAG else id(connection)

    def _server_of(self, request: InFlightRequest) -> redis.Redis:
        """The connection to the server holding `request` in flight now.

        That is the server it was taken from, unless a failover moved it: on Redis Cluster, the master of its queue's
        slot now; with Sentinel, the master that now serves the place it was taken from (the in-flight list was
        replicated there with the queue).
        """
        backend = self._backend()
        if backend.QUEUE_HASH_TAG:
            return backend.get_connection(request.keys.queue)
        return backend.current_connection(request.connection)

    def _forget(self, request: InFlightRequest) -> None:
        request.mark_settled()
        request.answer_in_doubt, request.answer = False, None
        self._open.pop(id(request), None)

    def _dead_letter(self, request: InFlightRequest | None, reason: str, request_id: object) -> None:
        if request is None:
            return
        record = self.dead_letter_record(reason, request.deliveries, request_id)
        options = self.options
        try:
            with time_limit(REPLY_SECONDS):
                in_flight.dead_letter(
                    self._server_of(request),
                    request.keys,
                    request.element,
                    record,
                    keep_seconds=options.dead_letter_expiry_in_seconds,
                    capacity=options.dead_letter_capacity,
                )
        except Exception as error:
            self.report_dead_letter(record, error)
            return
        self._forget(request)
        self.report_dead_letter(record, None)
