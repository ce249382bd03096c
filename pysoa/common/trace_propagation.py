"""What the client and server tracing middleware share: the trace context on the wire, span names and attributes.

The trace context always travels as W3C Trace Context (`traceparent`, and `tracestate` when there is one), whatever
propagator the process has configured globally, so that services with different OpenTelemetry set-ups still join
one trace. It rides in the job request's context under `TRACE_CONTEXT_KEY`. A service that finds it malformed
starts a new trace, logs why at DEBUG and marks its job span with `pysoa.trace_context_error`; the request is
served as usual, since a broken trace must never break a call.

Attributes follow the OpenTelemetry RPC conventions (`rpc.system` is `pysoa`, `rpc.service` the service name,
`rpc.method` the action), plus `pysoa.*` ones: `request_id`, `correlation_id`, `actions` and `error_codes`.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from pysoa.common.errors import Error
from pysoa.common.log_text import preview, safe_str
from pysoa.common.tracing import TRACE_CONTEXT_KEY
from pysoa.common.types import JobResponse
from pysoa.version import __version__

__all__ = (
    'ATTRIBUTE_ACTIONS',
    'ATTRIBUTE_CORRELATION_ID',
    'ATTRIBUTE_ERROR_CODES',
    'ATTRIBUTE_REQUEST_ID',
    'ATTRIBUTE_TRACE_CONTEXT_ERROR',
    'RPC_SYSTEM',
    'call_attributes',
    'call_span_name',
    'get_tracer',
    'record_errors',
    'record_exception',
    'response_errors',
    'trace_context_of',
    'trace_context_for',
)

RPC_SYSTEM = 'pysoa'
"""The value of `rpc.system` on every span pysoa makes."""

ATTRIBUTE_REQUEST_ID = 'pysoa.request_id'
ATTRIBUTE_CORRELATION_ID = 'pysoa.correlation_id'
ATTRIBUTE_ACTIONS = 'pysoa.actions'
ATTRIBUTE_ERROR_CODES = 'pysoa.error_codes'
ATTRIBUTE_TRACE_CONTEXT_ERROR = 'pysoa.trace_context_error'

_logger = logging.getLogger('pysoa.tracing')
_propagator = TraceContextTextMapPropagator()
_HEADERS = ('traceparent', 'tracestate')


def get_tracer() -> trace.Tracer:
    """pysoa's tracer from the global tracer provider (one set up later is still used: the API defers to it)."""
    return trace.get_tracer('pysoa', __version__)


def trace_context_for(span: Span) -> dict[str, str]:
    """The W3C trace context naming `span` as the parent: the value to send under `TRACE_CONTEXT_KEY`.

    Empty when `span` is not a real span (no SDK configured, or not sampled into existence): nothing is sent then.
    """
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def _carrier_problem(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return f'expected a map of W3C trace context headers, got {type(value).__name__}'
    if not isinstance(value.get('traceparent'), str):
        return 'its traceparent is missing or not a string'
    if 'tracestate' in value and not isinstance(value['tracestate'], str):
        return 'its tracestate is not a string'
    return None


def trace_context_of(context: Mapping[str, object] | None) -> tuple[Context, str | None]:
    """The OpenTelemetry context of the trace that a request's `context` continues, and what was wrong if anything.

    A context without `TRACE_CONTEXT_KEY` (a 1.x caller, or one that does not trace) gives an empty context: the
    span started in it begins a new trace. So does a malformed value, whose problem is returned and logged at DEBUG.
    """
    value = (context or {}).get(TRACE_CONTEXT_KEY)
    if value is None:
        return Context(), None
    problem = _carrier_problem(value)
    if problem is None:
        assert isinstance(value, Mapping)  # checked by _carrier_problem
        carrier = {name: value[name] for name in _HEADERS if name in value}
        extracted = _propagator.extract(carrier)
        if trace.get_current_span(extracted).get_span_context().is_valid:
            return extracted, None
        problem = 'its traceparent is not a valid W3C traceparent'
    _logger.debug(
        'Ignoring the trace context of a request (%s); starting a new trace: %s', problem, preview(repr(value))
    )
    return Context(), problem


def call_span_name(service: str, actions: Sequence[str]) -> str:
    """The name of a call's client and job spans: `service/action`, or `service/job` for several actions."""
    return f'{service}/{actions[0] if len(actions) == 1 else "job"}'


def call_attributes(
    service: str,
    actions: Sequence[str],
    request_id: int | None,
    context: Mapping[str, object] | None,
) -> dict[str, AttributeValue]:
    """The attributes of a call's client or job span."""
    attributes: dict[str, AttributeValue] = {
        'rpc.system': RPC_SYSTEM,
        'rpc.service': service,
        ATTRIBUTE_ACTIONS: list(actions),
    }
    if len(actions) == 1:
        attributes['rpc.method'] = actions[0]
    if request_id is not None:
        attributes[ATTRIBUTE_REQUEST_ID] = request_id
    correlation_id = (context or {}).get('correlation_id')
    if isinstance(correlation_id, str):
        attributes[ATTRIBUTE_CORRELATION_ID] = correlation_id
    return attributes


def response_errors(response: JobResponse) -> list[Error]:
    """Every error in a job response: the job's, then each action's."""
    return [*response.errors, *(error for action in response.actions for error in action.errors)]


def record_errors(span: Span, errors: Iterable[Error], *, caller_errors_fail: bool) -> None:
    """Put the codes of `errors` on `span` (`pysoa.error_codes`), and mark it failed if they say so.

    A client's span fails on any error (`caller_errors_fail`); a service's fails only on errors that are its own
    (`is_caller_error` false): a request the caller got wrong was still served correctly.
    """
    codes: list[str] = []
    failed = False
    for error in errors:
        if error.code not in codes:
            codes.append(error.code)
        failed = failed or caller_errors_fail or not error.is_caller_error
    if not codes:
        return
    span.set_attribute(ATTRIBUTE_ERROR_CODES, codes)
    if failed:
        span.set_status(Status(StatusCode.ERROR, ', '.join(codes)))


def record_exception(span: Span, exception: BaseException, code: str | None) -> None:
    """Mark `span` failed by `exception`, which will answer with error `code` (None when not known here)."""
    span.record_exception(exception)
    if code is not None:
        span.set_attribute(ATTRIBUTE_ERROR_CODES, [code])
    span.set_status(Status(StatusCode.ERROR, f'{type(exception).__name__}: {preview(safe_str(exception))}'))
