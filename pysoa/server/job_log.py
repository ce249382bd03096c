"""The job log of a server, on the `pysoa.server.job` logger: one summary line per job, and the bodies on demand.

The summary line, at INFO once the response is sent, reads::

    Job done: service=user actions=get_user request_id=7 correlation_id=c8bb caller=web duration_ms=3.112
    outcome=ok request_bytes=312 response_bytes=190

`outcome` is `ok`, or `error:` and the error codes of the job and its actions. The same fields are attributes of
the record (`service`, `actions`, `request_id`, `correlation_id`, `caller`, `duration_ms`, `outcome`,
`error_codes`, `request_bytes`, `response_bytes`), so the JSON format writes each as its own key. The sizes are
the bytes of the request and the response on the wire, when the transport reports them (the Redis transport
does, `pysoa.common.transport.base.RECEIVED_BYTES_META_KEY`), else null (`-` in the text).

The bodies: the request is logged at the server's `request_log_success_level` as it arrives, and the response at
that level or at `request_log_error_level` when the job or an action failed (a failed job whose request was not
logged on arrival gets it logged with the response). Both levels are DEBUG by default; 1.x logged bodies at INFO,
and a service that relies on that sets them to INFO. Values of sensitive fields are censored through the
server's `logging_dict_wrapper_class`, and a body longer than `request_log_body_max_length` characters is cut,
saying how long it was. The attributes are read from the server at each request, so a subclass or a test may
change them.
"""

import dataclasses
import json
import logging
import re
import time
from typing import TYPE_CHECKING

from pysoa.common.logging import PySOALogContextFilter, RecursivelyCensoredDictWrapper
from pysoa.common.transport.base import RECEIVED_BYTES_META_KEY, SENT_BYTES_META_KEY
from pysoa.common.types import JobResponse
from pysoa.common.wire import JobResponseDict
from pysoa.server.request_state import ServedRequest

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('JobLog', 'censored', 'log_request', 'log_response')


_SUMMARY = (
    'Job done: service=%s actions=%s request_id=%s correlation_id=%s caller=%s duration_ms=%.3f outcome=%s '
    'request_bytes=%s response_bytes=%s'
)
_PLAIN_TEXT = re.compile(r'[\w.,:;/@+#()-]*').fullmatch  # shown as it is; anything else is quoted
_MAXIMUM_NAMES = 20  # action names in one summary line; a job of 1,000 actions must not make a huge line
_MAXIMUM_VALUE = 200  # characters of a caller-supplied value (caller, correlation id, action name) in the line


@dataclasses.dataclass(slots=True)
class JobLog:
    """One job's log in the making: what the summary line needs from the request, and its logged request body."""

    request: ServedRequest
    job_request: object
    started: float
    request_for_logging: RecursivelyCensoredDictWrapper | None


def censored(server: 'Server', message: object) -> RecursivelyCensoredDictWrapper:
    """`message` wrapped so that it logs censored (anything but a dict logs as an empty one)."""
    return server.logging_dict_wrapper_class(message if isinstance(message, dict) else {})


_body_classes: dict[tuple[type[RecursivelyCensoredDictWrapper], int], type[RecursivelyCensoredDictWrapper]] = {}


def _body_wrapper_class(
    wrapper_class: type[RecursivelyCensoredDictWrapper], limit: int
) -> type[RecursivelyCensoredDictWrapper]:
    """`wrapper_class` cutting its text at `limit` characters (made once per class and limit)."""
    if limit <= 0:
        return wrapper_class
    body_class = _body_classes.get((wrapper_class, limit))
    if body_class is None:
        if len(_body_classes) >= 256:
            _body_classes.clear()  # each server with its own redaction list has a class: tests build many
        namespace = {'MAXIMUM_CHARACTERS': limit, '__module__': wrapper_class.__module__}
        body_class = _body_classes[wrapper_class, limit] = type(wrapper_class.__name__, (wrapper_class,), namespace)
    return body_class


def _body(server: 'Server', message: object) -> RecursivelyCensoredDictWrapper:
    limit = server.settings.get('request_log_body_max_length', 1024)
    wrapper_class = _body_wrapper_class(server.logging_dict_wrapper_class, limit if isinstance(limit, int) else 0)
    return wrapper_class(message if isinstance(message, dict) else {})


def log_request(server: 'Server', request: ServedRequest, job_request: object) -> JobLog:
    """Set the logging context of the request and log its body if the success level is on; starts the job's clock."""
    started = time.perf_counter()
    context: object = job_request.get('context') if isinstance(job_request, dict) else None
    # Keys become keyword arguments: they must be strings, and the request id wins over a context key.
    values = {k if type(k) is str else str(k): v for k, v in (context if isinstance(context, dict) else {}).items()}
    values['request_id'] = request.request_id
    PySOALogContextFilter.set_logging_request_context(**values)

    request_for_logging = None
    if server.job_logger.isEnabledFor(server.request_log_success_level):
        request_for_logging = _body(server, job_request)
        server.job_logger.log(server.request_log_success_level, 'Job request: %s', request_for_logging)
    return JobLog(request, job_request, started, request_for_logging)


def log_response(
    server: 'Server', job_log: JobLog, job_response: JobResponse, response_message: JobResponseDict
) -> None:
    """Log the job's summary line, and the response body at the success or the error level when that is on."""
    job_logger = server.job_logger
    success_level, error_level = server.request_log_success_level, server.request_log_error_level
    summary = job_logger.isEnabledFor(logging.INFO)
    if not (summary or job_logger.isEnabledFor(success_level) or job_logger.isEnabledFor(error_level)):
        return  # logging is off for this logger: no need to look for errors
    codes = _error_codes(job_response)
    level = error_level if codes else success_level
    if job_logger.isEnabledFor(level):
        if codes and job_log.request_for_logging is None:
            # The request was not logged at the success level; the error level shows it with its response.
            job_logger.log(level, 'Job request: %s', _body(server, job_log.job_request))
        job_logger.log(level, 'Job response: %s', _body(server, response_message))
    if summary:
        _log_summary(server, job_log, codes)


def _error_codes(job_response: JobResponse) -> list[str]:
    codes = [error.code for error in job_response.errors]
    for action in job_response.actions:
        codes.extend(error.code for error in action.errors)
    return list(dict.fromkeys(codes))  # in order, once each


def _log_summary(server: 'Server', job_log: JobLog, codes: list[str]) -> None:
    job_request, meta = job_log.job_request, job_log.request.meta
    context = job_request.get('context') if isinstance(job_request, dict) else None
    context = context if isinstance(context, dict) else {}
    actions = _action_names(job_request)
    correlation_id = _bounded(context.get('correlation_id'))
    caller = _bounded(context.get('caller') or context.get('calling_service'))
    duration_ms = round((time.perf_counter() - job_log.started) * 1000.0, 3)
    request_bytes, response_bytes = _size(meta.get(RECEIVED_BYTES_META_KEY)), _size(meta.get(SENT_BYTES_META_KEY))
    fields = {
        'service': server.service_name,
        'actions': actions,
        'request_id': job_log.request.request_id,
        'correlation_id': correlation_id,
        'caller': caller,
        'duration_ms': duration_ms,
        'outcome': 'error' if codes else 'ok',
        'error_codes': codes,
        'request_bytes': request_bytes,
        'response_bytes': response_bytes,
    }
    outcome = f'error:{",".join(codes)}' if codes else 'ok'
    server.job_logger.info(
        _SUMMARY,
        server.service_name,
        _text(','.join(actions)),
        job_log.request.request_id,
        _text(correlation_id),
        _text(caller),
        duration_ms,
        _text(outcome),
        _text(request_bytes),
        _text(response_bytes),
        extra=fields,
    )


def _action_names(job_request: object) -> list[str]:
    actions = job_request.get('actions') if isinstance(job_request, dict) else None
    if not isinstance(actions, list):
        return []
    names = [_cut(str(a.get('action'))) if isinstance(a, dict) else '?' for a in actions[:_MAXIMUM_NAMES]]
    if len(actions) > _MAXIMUM_NAMES:
        names.append(f'(+{len(actions) - _MAXIMUM_NAMES} more)')
    return names


def _cut(text: str) -> str:
    return text[:_MAXIMUM_VALUE] + '...' if len(text) > _MAXIMUM_VALUE else text


def _bounded(value: object) -> object:
    return _cut(value) if isinstance(value, str) else value


def _size(value: object) -> int | None:
    return value if type(value) is int else None


def _text(value: object) -> str:
    """A value for the `key=value` line: `-` when unknown, quoted (JSON style) when it has spaces or quotes."""
    if value is None or value == '':
        return '-'
    text = value if type(value) is str else str(value)
    if _PLAIN_TEXT(text):
        return text
    return json.dumps(text)
