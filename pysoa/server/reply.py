"""The reply to a served request: its job response as a wire dict, sent unless the caller asked for none.

A response that cannot go out as it is (too large for the transport, or not serializable) is replaced by an
error response saying so, which is sent instead; when even that cannot be sent, or the request names no reply
queue, the failure is logged and counted, as there is nobody left to tell. So is a reply queue that cannot take
the response (full for longer than the transport waits, or not a list): that is the request's problem, not an
outage of the transport, and the worker goes on serving.
"""

from typing import TYPE_CHECKING, Any, cast

from pysoa.common.constants import ERROR_CODE_RESPONSE_NOT_SERIALIZABLE, ERROR_CODE_RESPONSE_TOO_LARGE
from pysoa.common.serializer.errors import InvalidField
from pysoa.common.transport.errors import InvalidMessageError, MessageTooLarge, QueueFullError, UnusableQueueError
from pysoa.common.types import JobResponse
from pysoa.common.wire import JobResponseDict, job_response_to_dict
from pysoa.server.job_log import censored
from pysoa.server.request_state import ServedRequest

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('reply',)


def _wants_no_response(job_request: object) -> bool:
    if not isinstance(job_request, dict):
        return False
    control = job_request.get('control')
    return isinstance(control, dict) and bool(control.get('suppress_response', False))


def _to_dict(
    server: 'Server', request: ServedRequest, job_response: JobResponse
) -> tuple[JobResponse, JobResponseDict]:
    try:
        return job_response, job_response_to_dict(job_response, request.client_version)
    except Exception as e:
        server.metrics.counter('server.error.response_conversion_failure').increment()
        job_response = server.handle_job_exception(e, variables={'job_response': job_response})
        return job_response, job_response_to_dict(job_response, request.client_version)


def _send(server: 'Server', request: ServedRequest, message: JobResponseDict) -> None:
    # The transport seam takes any message dict (requests and responses alike); a TypedDict is one at run time.
    server.transport.send_response_message(request.request_id, request.meta, cast('dict[str, Any]', message))


def _send_or_replace(
    server: 'Server',
    request: ServedRequest,
    job_request: object,
    job_response: JobResponse,
    message: JobResponseDict,
) -> tuple[JobResponse, JobResponseDict]:
    extra: dict[str, object] | None = None
    try:
        _send(server, request, message)
        return job_response, message
    except MessageTooLarge as e:
        metric, code, what = 'response_too_large', ERROR_CODE_RESPONSE_TOO_LARGE, 'it was too large'
        extra = {'serialized_length_in_bytes': e.message_size_in_bytes}
    except InvalidField:
        metric, code, what = 'response_not_serializable', ERROR_CODE_RESPONSE_NOT_SERIALIZABLE, 'it failed to serialize'
    server.metrics.counter(f'server.error.{metric}').increment()
    job_response = server.handle_job_error_code(
        code,
        f'Could not send the response because {what}',
        censored(server, job_request),
        censored(server, message),
        extra=extra,
    )
    message = job_response_to_dict(job_response, request.client_version)
    _send(server, request, message)
    return job_response, message


def reply(
    server: 'Server',
    request: ServedRequest,
    job_request: object,
    job_response: JobResponse,
) -> tuple[JobResponse, JobResponseDict]:
    """Send the reply to `request`; returns the job response that was answered and its wire form (for the log)."""
    job_response, message = _to_dict(server, request, job_response)
    if _wants_no_response(job_request):
        return job_response, message
    try:
        return _send_or_replace(server, request, job_request, job_response, message)
    except (InvalidMessageError, MessageTooLarge) as e:
        # No usable reply queue in the meta, or even the error response is too large: nobody can be told.
        server.metrics.counter('server.error.response_not_sent').increment()
        server.logger.error('Could not send the response to request %r: %s', request.request_id, e)
        return job_response, message
    except (QueueFullError, UnusableQueueError) as e:
        # The caller's reply queue, not Redis: drop this one response and keep serving.
        reason = 'reply_queue_full' if isinstance(e, QueueFullError) else 'reply_queue_unusable'
        server.metrics.counter('server.error.response_not_sent').increment()
        server.metrics.counter(f'server.error.{reason}').increment()
        server.logger.error('Dropped the response to request %r: %s', request.request_id, e)
        return job_response, message
