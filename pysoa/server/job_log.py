"""The job log of a server: each request and its response, censored, on the `pysoa.server.job` logger.

A request is logged at the server's `request_log_success_level` as it arrives. Its response is logged at that
level, or at `request_log_error_level` when the job or an action failed; a failed job whose request was not
logged on arrival gets it logged with the response. Values of sensitive fields (passwords, tokens, card
numbers, the setting `extra_fields_to_redact`) are censored through the server's `logging_dict_wrapper_class`.
The attributes are read from the server at each request, so a subclass or a test may change them.
"""

from typing import TYPE_CHECKING

from pysoa.common.logging import PySOALogContextFilter, RecursivelyCensoredDictWrapper
from pysoa.common.types import JobResponse
from pysoa.common.wire import JobResponseDict

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('censored', 'log_request', 'log_response')


def censored(server: 'Server', message: object) -> RecursivelyCensoredDictWrapper:
    """`message` wrapped so that it logs censored (anything but a dict logs as an empty one)."""
    return server.logging_dict_wrapper_class(message if isinstance(message, dict) else {})


def log_request(server: 'Server', request_id: int, job_request: object) -> RecursivelyCensoredDictWrapper | None:
    """Set the logging context of the request and log it if the success level is on; returns what was logged."""
    context: object = job_request.get('context') if isinstance(job_request, dict) else None
    # Keys become keyword arguments: they must be strings, and the request id wins over a context key.
    values = {k if type(k) is str else str(k): v for k, v in (context if isinstance(context, dict) else {}).items()}
    values['request_id'] = request_id
    PySOALogContextFilter.set_logging_request_context(**values)

    if not server.job_logger.isEnabledFor(server.request_log_success_level):
        return None
    request_for_logging = censored(server, job_request)
    server.job_logger.log(server.request_log_success_level, 'Job request: %s', request_for_logging)
    return request_for_logging


def log_response(
    server: 'Server',
    job_request: object,
    request_for_logging: RecursivelyCensoredDictWrapper | None,
    job_response: JobResponse,
    response_message: JobResponseDict,
) -> None:
    """Log the response at the success or the error level (with the request, if it was not logged before)."""
    job_logger = server.job_logger
    success_level, error_level = server.request_log_success_level, server.request_log_error_level
    if not (job_logger.isEnabledFor(success_level) or job_logger.isEnabledFor(error_level)):
        return  # the common case in production: no need to look for errors
    failed = bool(job_response.errors) or any(a.errors for a in job_response.actions)
    level = error_level if failed else success_level
    if not job_logger.isEnabledFor(level):
        return
    if failed and request_for_logging is None:
        # The request was not logged at the success level; the error level shows it with its response.
        job_logger.log(level, 'Job request: %s', censored(server, job_request))
    job_logger.log(level, 'Job response: %s', censored(server, response_message))
