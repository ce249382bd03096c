"""The Redis client transport: requests go to `pysoa:service.<name>`, responses come back on a reply queue
owned by this transport and the calling thread (`service.<name>.<client id>!<thread id>`).
"""

import threading
import uuid
from typing import Any

from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS, MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage, get_hex_thread_id
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout, TransientPySOATransportError
from pysoa.common.transport.redis_gateway.constants import RESPONSE_QUEUE_SPECIFIER
from pysoa.common.transport.redis_gateway.core import RedisTransportClientCore
from pysoa.common.transport.redis_gateway.settings import RedisClientTransportSchema
from pysoa.common.transport.redis_gateway.utils import make_redis_queue_name
from pysoa.schema import fields

__all__ = ('RedisClientTransport',)


class _ThreadState(threading.local):
    """Per-thread bookkeeping: each thread has its own reply queue, so its own count of awaited responses."""

    requests_outstanding = 0
    previous_error_was_transport_problem = False
    reply_queue_name: str | None = None


@fields.ClassConfigurationSchema.provider(RedisClientTransportSchema)
class RedisClientTransport(ClientTransport):
    """Sends job requests to a service over Redis and receives the responses; see the settings schema for kwargs."""

    def __init__(self, service_name: str, metrics: MetricsRecorder, **kwargs: Any) -> None:
        super().__init__(service_name, metrics)
        self.client_id = uuid.uuid4().hex
        self._send_queue_name = make_redis_queue_name(service_name)
        self._receive_queue_name = f'{self._send_queue_name}.{self.client_id}{RESPONSE_QUEUE_SPECIFIER}'
        self._thread_state = _ThreadState()
        self._send_timer_name = 'client.transport.redis_gateway.send'
        self._receive_timer_name = 'client.transport.redis_gateway.receive'
        self.core = RedisTransportClientCore(service_name=service_name, metrics=metrics, **kwargs)

    @property
    def requests_outstanding(self) -> int:
        """How many responses the current thread still awaits; below 1, receiving returns `(None, None, None)`."""
        return self._thread_state.requests_outstanding

    @property
    def _requests_outstanding(self) -> int:
        return self._thread_state.requests_outstanding

    @_requests_outstanding.setter
    def _requests_outstanding(self, value: int) -> None:
        self._thread_state.requests_outstanding = value

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
        with self.metrics.timer(self._send_timer_name, **MICROSECOND_TIMER_KWARGS):
            try:
                self.core.send_message(self._send_queue_name, request_id, meta, body, message_expiry_in_seconds)
            except TransientPySOATransportError:
                state.previous_error_was_transport_problem = True
                self.metrics.counter('client.transport.redis_gateway.send.error.transient').increment()
                raise
        # Counted only once sent: a failed send must not leave the client waiting for a response forever.
        state.requests_outstanding += 1

    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        """Receive the next response for the calling thread, or `(None, None, None)` when none is outstanding."""
        state = self._thread_state
        if state.requests_outstanding < 1:
            state.previous_error_was_transport_problem = False
            return ReceivedMessage(None, None, None)
        with self.metrics.timer(self._receive_timer_name, **MICROSECOND_TIMER_KWARGS):
            try:
                received = self.core.receive_message(self._reply_queue_name(state), receive_timeout_in_seconds)
            except MessageReceiveTimeout:
                if state.previous_error_was_transport_problem:
                    # After a failover the responses we await were most likely lost with the old master.
                    state.requests_outstanding = 0
                    state.previous_error_was_transport_problem = False
                self.metrics.counter('client.transport.redis_gateway.receive.error.timeout').increment()
                raise
            except TransientPySOATransportError:
                state.previous_error_was_transport_problem = True
                self.metrics.counter('client.transport.redis_gateway.receive.error.transient').increment()
                raise
            except InvalidMessageError:
                # A response was consumed even though it could not be read; do not wait for it again.
                state.requests_outstanding -= 1
                raise
        state.requests_outstanding -= 1
        return received
