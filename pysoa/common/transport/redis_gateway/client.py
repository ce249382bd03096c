"""The Redis client transport: requests go to `pysoa:service.<name>`, responses come back on a reply queue
owned by this transport and the calling thread (`service.<name>.<client id>!<thread id>`).

Each thread keeps the ids of the requests it awaits, until their expiry. A response to one of them is handed
out once; a second response to the same request (a failover, a redelivery) or one to a request given up on
long ago is dropped and counted (`client.transport.redis_gateway.receive.error.unexpected_response`), and the
wait goes on. One request's timeout or transport error never makes the thread forget the others.
"""

import logging
import math
import threading
import time
import uuid
from typing import Any

from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS, MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage, get_hex_thread_id
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout, TransientPySOATransportError
from pysoa.common.transport.redis_gateway import response_wait
from pysoa.common.transport.redis_gateway.constants import RESPONSE_QUEUE_SPECIFIER
from pysoa.common.transport.redis_gateway.core import RedisTransportClientCore
from pysoa.common.transport.redis_gateway.settings import RedisClientTransportSchema
from pysoa.common.transport.redis_gateway.utils import service_queue_name
from pysoa.common.wire import expiry_of
from pysoa.schema import fields

_logger = logging.getLogger(__name__)

__all__ = ('RedisClientTransport',)

_LATE_RESPONSE_SECONDS = 60.0
"""How long after a request expires a late or second response to it is still recognised (and dropped)."""


class _ThreadState(threading.local):
    """Per-thread bookkeeping: each thread has its own reply queue, so its own awaited responses."""

    reply_queue_name: str | None = None

    def __init__(self) -> None:
        self.awaited: dict[int, float] = {}  # request id -> when it expires (Unix seconds)
        self.finished: dict[int, float] = {}  # answered or given up on -> until when a response may still come
        self.unnamed = 0  # responses awaited without a known request id (1.x code sets the count directly)
        self.slow_sends: dict[int, float] = {}  # awaited, sent without a timeout -> seconds its send took, if long

    def outstanding(self) -> int:
        now = time.time()
        awaited, finished = self.awaited, self.finished
        for request_id in [key for key, expires_at in awaited.items() if expires_at < now]:
            # Its caller has given up: a response now would be too late, and is dropped when it comes.
            finished[request_id] = awaited.pop(request_id) + _LATE_RESPONSE_SECONDS
            self.slow_sends.pop(request_id, None)
        if finished:
            for request_id in [key for key, until in finished.items() if until < now]:
                del finished[request_id]
        return len(awaited) + self.unnamed

    def claim(self, request_id: int | None) -> bool:
        """Whether a response to `request_id` is to be handed on (after this, a response to it no longer is)."""
        if request_id is not None:
            if self.slow_sends:
                self.slow_sends.pop(request_id, None)
            expires_at = self.awaited.pop(request_id, None)
            if expires_at is not None:
                self.finished[request_id] = expires_at + _LATE_RESPONSE_SECONDS
                return True
            if request_id in self.finished:
                return False  # a second response, or one its caller gave up on
        if self.unnamed > 0:
            self.unnamed -= 1
            return True
        if self.awaited:
            # An id this thread never sent, or none (an unreadable response), while it awaits others: it stands
            # for the oldest response awaited, which is no longer waited for (its real answer, should it come,
            # is dropped as late). A 1.x caller that counts responses is handed it, to match by id, as 1.x did.
            oldest = next(iter(self.awaited))
            self.finished[oldest] = self.awaited.pop(oldest) + _LATE_RESPONSE_SECONDS
            return True
        return False

    def seconds_left(self) -> float | None:
        """Until just after the last awaited request expires (None if unknown; see `response_wait`)."""
        return None if self.unnamed else response_wait.seconds_left(self.awaited)

    def send_seconds(self) -> float:
        """How long a slow send of the awaited requests took, to take off the receive timeout (`response_wait`)."""
        return response_wait.send_seconds(self.awaited, self.slow_sends)

    def consumed_unreadable(self, request_id: int | None) -> None:
        """A response was taken from the queue but cannot be read: do not wait for it again."""
        self.claim(request_id)


@fields.ClassConfigurationSchema.provider(RedisClientTransportSchema)
class RedisClientTransport(ClientTransport):
    """Sends job requests to a service over Redis and receives the responses; see the settings schema for kwargs."""

    def __init__(self, service_name: str, metrics: MetricsRecorder, **kwargs: Any) -> None:
        super().__init__(service_name, metrics)
        self.client_id = uuid.uuid4().hex
        self._send_queue_name = service_queue_name(service_name, kwargs.get('backend_type'))
        self._receive_queue_name = f'{self._send_queue_name}.{self.client_id}{RESPONSE_QUEUE_SPECIFIER}'
        self._thread_state = _ThreadState()
        self._send_timer_name = 'client.transport.redis_gateway.send'
        self._receive_timer_name = 'client.transport.redis_gateway.receive'
        self.core = RedisTransportClientCore(service_name=service_name, metrics=metrics, **kwargs)

    @property
    def requests_outstanding(self) -> int:
        """How many responses the current thread still awaits; below 1, receiving returns `(None, None, None)`."""
        return self._thread_state.outstanding()

    @property
    def _requests_outstanding(self) -> int:
        return self._thread_state.outstanding()

    @_requests_outstanding.setter
    def _requests_outstanding(self, value: int) -> None:
        state = self._thread_state
        state.unnamed = max(value - len(state.awaited), 0)

    def _reply_queue_name(self, state: _ThreadState) -> str:
        # Per thread, so computed once per thread (a thread's id never changes while it runs).
        name = state.reply_queue_name
        if name is None:
            name = state.reply_queue_name = self._receive_queue_name + get_hex_thread_id()
        return name

    def send_request_message(
        self,
        request_id: int,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: int | None = None,
    ) -> None:
        """Send a job request; its response will arrive on the calling thread's reply queue."""
        state = self._thread_state
        meta['reply_to'] = self._reply_queue_name(state)
        started = time.monotonic()
        with self.metrics.timer(self._send_timer_name, **MICROSECOND_TIMER_KWARGS):
            try:
                self.core.send_message(self._send_queue_name, request_id, meta, body, message_expiry_in_seconds)
            except TransientPySOATransportError:
                self.metrics.counter('client.transport.redis_gateway.send.error.transient').increment()
                raise
        # Awaited only once sent: a failed send must not leave the client waiting for a response forever.
        # The core sets `__expiry__`; a stand-in core (1.x tests mock it) may not: then it is awaited until answered.
        try:
            expires_at = expiry_of(meta)
        except ValueError:
            expires_at = None
        state.awaited[request_id] = math.inf if expires_at is None else expires_at
        if (spent := response_wait.slow_send_seconds(message_expiry_in_seconds, started)) is not None:
            state.slow_sends[request_id] = spent

    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        """Receive the next awaited response for the calling thread, or `(None, None, None)` when none is awaited."""
        state = self._thread_state
        if state.outstanding() < 1:
            return ReceivedMessage(None, None, None)
        started = time.monotonic()
        with self.metrics.timer(self._receive_timer_name, **MICROSECOND_TIMER_KWARGS):
            # The caller's timeout goes to the core as given (None: the transport's own, less the time a slow send
            # took), as 1.x passed it, unless every awaited request expires sooner.
            timeout: float | None = receive_timeout_in_seconds
            spent = 0.0 if receive_timeout_in_seconds else state.send_seconds()
            budget = float(receive_timeout_in_seconds or self.core.receive_timeout_in_seconds) - spent
            if spent:
                timeout = max(budget, 0.01)
            while True:
                left = state.seconds_left()
                if left is not None and left < (timeout or self.core.receive_timeout_in_seconds):
                    timeout = left
                received = self._receive(state, timeout)
                request_id = received[0]  # a 1.x core (or a test's stand-in) may return a plain tuple
                if state.claim(request_id):
                    forget_sent = getattr(self.core, 'forget_sent', None)  # absent from a 1.x test's stand-in core
                    if forget_sent is not None:
                        forget_sent(request_id)
                    return ReceivedMessage(*received)
                self.metrics.counter('client.transport.redis_gateway.receive.error.unexpected_response').increment()
                _logger.warning(
                    'Dropped a response to request %r from service %s: it was already answered or given up on',
                    request_id,
                    self.service_name,
                )
                waited = time.monotonic() - started
                timeout = budget - waited
                if timeout <= 0:
                    self.metrics.counter('client.transport.redis_gateway.receive.error.timeout').increment()
                    raise MessageReceiveTimeout(f'No message received for service {self.service_name}')

    def _receive(self, state: _ThreadState, timeout: float | None) -> ReceivedMessage:
        try:
            return self.core.receive_message(self._reply_queue_name(state), timeout)
        except MessageReceiveTimeout:
            self.metrics.counter('client.transport.redis_gateway.receive.error.timeout').increment()
            raise
        except TransientPySOATransportError:
            self.metrics.counter('client.transport.redis_gateway.receive.error.transient').increment()
            raise
        except InvalidMessageError as error:
            state.consumed_unreadable(getattr(error, 'request_id', None))
            raise
