"""The Redis server transport: requests come from `pysoa:service.<name>`, each response goes to the
request's `reply_to` queue in the serializer and protocol version the request came in.

A request that cannot be read never reaches the server loop: it is logged, its sender is told when its
reply queue is known, and `receive_request_message` raises `MessageReceiveTimeout` so the loop simply
moves on to the next request.
"""

import logging
from typing import Any

from pysoa.common.constants import ERROR_CODE_INVALID, ERROR_CODE_SERVER_ERROR
from pysoa.common.errors import Error
from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS, MetricsRecorder
from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.constants import RESPONSE_QUEUE_SPECIFIER
from pysoa.common.transport.redis_gateway.core import RedisTransportServerCore
from pysoa.common.transport.redis_gateway.delivery import (
    IN_FLIGHT_META_KEY,
    AtLeastOnceServerCore,
    DeadLetteredError,
    InFlightRequest,
)
from pysoa.common.transport.redis_gateway.envelope import InvalidEnvelopeError
from pysoa.common.transport.redis_gateway.options import DELIVERY_AT_LEAST_ONCE
from pysoa.common.transport.redis_gateway.settings import RedisServerTransportSchema
from pysoa.common.transport.redis_gateway.utils import make_redis_queue_name, service_queue_name
from pysoa.common.wire import error_to_dict, knows_caller_errors
from pysoa.schema import fields

__all__ = ('RedisServerTransport', 'discard_invalid_request', 'refusal_response', 'reply_queue_of')

_logger = logging.getLogger(__name__)

_SERVICE_QUEUE_PREFIXES = (make_redis_queue_name(''), make_redis_queue_name('', hash_tag=True)[:-1])


def reply_queue_of(meta: dict[str, Any], metrics: MetricsRecorder) -> str:
    """The reply queue a request names in its meta; InvalidMessageError (counted) when it names none or a bad one."""
    queue_name = meta.get('reply_to')
    if not isinstance(queue_name, str) or not queue_name:
        metrics.counter('server.transport.redis_gateway.send.error.missing_reply_queue').increment()
        raise InvalidMessageError('Missing reply queue name' if queue_name is None else 'Invalid reply queue name')
    if queue_name.startswith(_SERVICE_QUEUE_PREFIXES) and RESPONSE_QUEUE_SPECIFIER not in queue_name:
        # A service's request queue: the answer would be taken for a request there, and a worker whose own
        # queue it is would answer its own answers for ever. Reply queues carry the `!` marker.
        metrics.counter('server.transport.redis_gateway.send.error.missing_reply_queue').increment()
        raise InvalidMessageError(f'Invalid reply queue name {queue_name!r}: it is a service request queue')
    return queue_name


def discard_invalid_request(
    error: InvalidMessageError, service_name: str, metrics: MetricsRecorder
) -> tuple[Any, dict[str, Any], Error] | None:
    """Count and log a request that cannot be read; who to tell, with what error, when its sender is known."""
    metrics.counter('server.transport.redis_gateway.receive.error.invalid_request').increment()
    _logger.error('Discarding invalid request for service %s: %s', service_name, error)
    if not isinstance(error, InvalidEnvelopeError) or error.request_id is None or not error.meta:
        return None
    invalid = Error(code=ERROR_CODE_INVALID, message=f'Invalid request: {error}', is_caller_error=True)
    return error.request_id, error.meta, invalid


def refusal_response(meta: dict[str, Any], error: Error) -> dict[str, Any] | None:
    """The response telling the sender of a request that will not be run why; None when it names no reply queue."""
    if not isinstance(meta.get('reply_to'), str):
        return None
    with_caller_error = knows_caller_errors(meta.get('client_version'))
    return {'errors': [error_to_dict(error, with_caller_error)], 'context': {}, 'actions': []}


@fields.ClassConfigurationSchema.provider(RedisServerTransportSchema)
class RedisServerTransport(ServerTransport):
    """Receives job requests for a service over Redis and sends the responses; see the settings schema for kwargs."""

    def __init__(self, service_name: str, metrics: MetricsRecorder, instance_index: int = 1, **kwargs: Any) -> None:
        super().__init__(service_name, metrics, instance_index)
        at_least_once = kwargs.get('delivery') == DELIVERY_AT_LEAST_ONCE
        core_class = AtLeastOnceServerCore if at_least_once else RedisTransportServerCore
        self._receive_queue_name = service_queue_name(service_name, kwargs.get('backend_type'))
        self.core = core_class(service_name=service_name, metrics=metrics, **kwargs)

    def close(self) -> None:
        """Stop this worker's heartbeat (at-least-once delivery); the worker holds no request any more."""
        if isinstance(self.core, AtLeastOnceServerCore):
            self.core.stop_heartbeat()

    def receive_request_message(self) -> ReceivedMessage:
        """Block up to the receive timeout for the next valid request (MessageReceiveTimeout if none)."""
        timer = self.metrics.timer('server.transport.redis_gateway.receive', **MICROSECOND_TIMER_KWARGS)
        timer.start()
        received = False
        try:
            message = self.core.receive_message(self._receive_queue_name)
            received = True
            return message
        except InvalidMessageError as error:
            received = True
            self._reject(error)
            raise MessageReceiveTimeout(f'Invalid request discarded for service {self.service_name}: {error}')
        except DeadLetteredError as error:
            received = True
            self._tell_sender(error.request_id, error.meta, Error(code=ERROR_CODE_SERVER_ERROR, message=str(error)))
            raise
        finally:
            # Time spent waiting for nothing is idle time, not receive time.
            if received:
                timer.stop()

    def _reject(self, error: InvalidMessageError) -> None:
        """Log an unreadable request and, when its reply queue is known, send its sender an error response."""
        sender = discard_invalid_request(error, self.service_name, self.metrics)
        if sender is not None:
            self._tell_sender(*sender)

    def _tell_sender(self, request_id: Any, meta: dict[str, Any], error: Error) -> None:
        """Answer a request that will not be run with `error`, if its sender can be reached; never raises."""
        response = refusal_response(meta, error)
        if response is None:
            return
        try:
            self.send_response_message(request_id, meta, response)
        except Exception as send_error:
            # Whatever the sender put in its envelope, answering it must never take the worker down.
            _logger.warning(
                'Could not tell the sender of request %r that it will not be run: %s', request_id, send_error
            )

    def send_response_message(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Send `body` to the request's reply queue (InvalidMessageError if `meta` has none).

        Raises MessageTooLarge when the response is over the size limit, or needs chunking that the
        client cannot read; the server then answers RESPONSE_TOO_LARGE through this same method.
        """
        queue_name = reply_queue_of(meta, self.metrics)
        with self.metrics.timer('server.transport.redis_gateway.send', **MICROSECOND_TIMER_KWARGS):
            try:
                self.core.send_message(queue_name, request_id, meta, body)
            except Exception as error:
                in_flight = meta.get(IN_FLIGHT_META_KEY)
                if isinstance(self.core, AtLeastOnceServerCore) and isinstance(in_flight, InFlightRequest):
                    # Sent again later if Redis failed, else back to the queue (unless acknowledged after all).
                    self.core.abandon(in_flight, error)
                raise

    def acknowledge_request_message(self, request_id: int, meta: dict[str, Any]) -> None:
        """At-least-once delivery: the request is done (answered, or no answer will be sent); take it out of flight."""
        in_flight = meta.get(IN_FLIGHT_META_KEY) if isinstance(meta, dict) else None
        if isinstance(self.core, AtLeastOnceServerCore) and isinstance(in_flight, InFlightRequest):
            self.core.acknowledge(in_flight)
