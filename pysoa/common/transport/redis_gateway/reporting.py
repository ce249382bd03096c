"""How the Redis core reports trouble: Redis failures as transport errors, oversized messages as log lines.

Transient failures (`MessageSendError`, `MessageReceiveError`) make the backend look its servers up again, since a
master may have moved; a queue whose key is not a list is that queue's problem and resets nothing.
"""

import logging
from collections.abc import Callable, Mapping

import redis

from pysoa.common.redaction import RecursivelyCensoredDictWrapper
from pysoa.common.transport import errors
from pysoa.common.transport.redis_gateway import envelope
from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError

__all__ = ('connection_failure', 'log_oversized_message', 'report_refused_message', 'transport_failure')

_logger = logging.getLogger('pysoa.common.transport.redis_gateway.core')
_oversized_message_logger = logging.getLogger('pysoa.transport.oversized_message')

Count = Callable[[str], None]
"""Counts one occurrence of a metric, by its name below the transport's prefix."""


def transport_failure(
    error: Exception, sending: bool, service_name: str, count: Count, reset_clients: Callable[[], None]
) -> errors.TransientPySOATransportError:
    """The transport error for `error`, raised by Redis (or the connection) while sending or receiving."""
    if sending and isinstance(error, redis.ResponseError):
        if str(error).startswith('WRONGTYPE'):
            # The queue's key holds something else: that queue's problem, not Redis's (nothing to reset).
            count('send.error.wrong_type')
            return errors.UnusableQueueError(f'Redis queue for service {service_name} is not a list')
        reset_clients()
        count('send.error.response')
        return errors.MessageSendError(f'Redis error sending message for service {service_name}', *error.args)
    reset_clients()
    count('send.error.unknown' if sending else 'receive.error.unknown')
    if sending and not isinstance(error, redis.RedisError | OSError):
        _logger.exception('Unknown error sending message in Redis transport core')
    text = f'Unknown error {"sending" if sending else "receiving"} message for service {service_name}'
    failure = errors.MessageSendError if sending else errors.MessageReceiveError
    return failure(text, type(error).__name__, *error.args)


def connection_failure(
    error: CannotGetConnectionError, sending: bool, count: Count
) -> errors.TransientPySOATransportError:
    """The transport error when the backend has no connection to give (no master known, say)."""
    count('send.error.connection' if sending else 'receive.error.connection')
    failure = errors.MessageSendError if sending else errors.MessageReceiveError
    return failure(f'Cannot get connection: {error.args[0]}')


def log_oversized_message(message: Mapping[str, object], size: int, threshold: int, service_name: str) -> None:
    """Warn (censored) about a message larger than `log_messages_larger_than_bytes`."""
    data = {
        'message': RecursivelyCensoredDictWrapper(message),
        'serialized_length_in_bytes': size,
        'threshold': threshold,
    }
    _oversized_message_logger.warning('Oversized message sent for PySOA service %s', service_name, extra={'data': data})


def report_refused_message(
    error: envelope.MessageExpiredError | envelope.UnreadableMessageError | envelope.InvalidEnvelopeError,
    service_name: str,
    count: Count,
) -> None:
    """Count a received message that is refused, by its reason; an expired one is also logged."""
    if error.reason:
        count(f'receive.error.{error.reason}')
    if isinstance(error, envelope.MessageExpiredError):
        # Nobody waits for it any more (protocol §4), but a backlog that makes requests expire must show.
        late = (error.request_id, service_name, error.late_by)
        _logger.warning('Discarding message %r for service %s: expired %.3f seconds ago', *late)
