"""Server middleware that traces jobs and actions with OpenTelemetry (the `otel` extra).

Turned on by the server setting `tracing: True`, which puts it first in the middleware and turns tracing on in the
client that actions get (`request.client`), for every service in `client_routing` whose settings do not say
otherwise. Each job gets a SERVER span, a child of the caller's span when the request's context carries a trace
context (`TRACE_CONTEXT_KEY`), else the root of a new trace; each action gets an INTERNAL span inside it. While an
action runs its span is the current one, so the calls it makes through `request.client` are its children, and so
are those made from coroutines it runs with `request.run_coroutine` (they run in a copy of its context).

A span carries the service, the action, the request id and the correlation id, and the error codes of the response
(`pysoa.error_codes`); it is marked failed when the service is to blame (an error that is not the caller's, an
exception, harakiri), not for errors of the caller's making (an invalid request).
"""

import contextlib
from collections.abc import Iterator

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from pysoa.common.constants import ERROR_CODE_ACTION_TIMEOUT, ERROR_CODE_JOB_TIMEOUT, ERROR_CODE_SERVER_ERROR
from pysoa.common.trace_propagation import (
    ATTRIBUTE_REQUEST_ID,
    ATTRIBUTE_TRACE_CONTEXT_ERROR,
    RPC_SYSTEM,
    call_attributes,
    call_span_name,
    get_tracer,
    record_errors,
    record_exception,
    response_errors,
    trace_context_of,
)
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.server.errors import ActionError, HarakiriInterrupt, JobError
from pysoa.server.middleware import (
    ServerMiddleware,
    ServerMiddlewareActionTask,
    ServerMiddlewareJobTask,
    served_service_name,
)
from pysoa.server.request_state import current_request
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest

__all__ = ('TracingServerMiddleware',)


def _record_failure(span: Span, error: BaseException, timeout_code: str) -> None:
    """Put on `span` what the dispatcher will answer for `error`, which escaped the job or the action."""
    if isinstance(error, ActionError | JobError):
        record_errors(span, error.errors, caller_errors_fail=False)
    elif isinstance(error, HarakiriInterrupt):
        record_exception(span, error, timeout_code)
    elif isinstance(error, Exception):
        record_exception(span, error, ERROR_CODE_SERVER_ERROR)
    else:
        record_exception(span, error, None)  # KeyboardInterrupt, SystemExit: no response will tell


def _request_id() -> int | None:
    served = current_request()
    return None if served is None else served.request_id


@contextlib.contextmanager
def _span(
    tracer: Tracer,
    name: str,
    kind: SpanKind,
    attributes: dict[str, AttributeValue],
    timeout_code: str,
    parent: Context | None = None,
) -> Iterator[Span]:
    """A current span for the block, which records what an exception escaping the block will answer."""
    with tracer.start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as error:
            _record_failure(span, error, timeout_code)
            raise


class TracingServerMiddleware(ServerMiddleware):
    """A SERVER span per job and an INTERNAL span per action (see the module)."""

    def __init__(self) -> None:
        self._tracer = get_tracer()

    def job(self, process_job: ServerMiddlewareJobTask) -> ServerMiddlewareJobTask:
        """Run the job in its span, continuing the caller's trace."""

        def traced(request: EnrichedJobRequest) -> JobResponse:
            parent, problem = trace_context_of(request.context)
            service = served_service_name(request) or 'unknown'
            actions = [action.action for action in request.actions]
            attributes = call_attributes(service, actions, _request_id(), request.context)
            if problem is not None:
                attributes[ATTRIBUTE_TRACE_CONTEXT_ERROR] = problem
            name = call_span_name(service, actions)
            with _span(self._tracer, name, SpanKind.SERVER, attributes, ERROR_CODE_JOB_TIMEOUT, parent) as span:
                response = process_job(request)
                record_errors(span, response_errors(response), caller_errors_fail=False)
                return response

        return traced

    def action(self, process_action: ServerMiddlewareActionTask) -> ServerMiddlewareActionTask:
        """Run the action in its span, a child of the job's."""

        def traced(request: EnrichedActionRequest) -> ActionResponse:
            service = served_service_name(request) or 'unknown'
            attributes: dict[str, AttributeValue] = {
                'rpc.system': RPC_SYSTEM,
                'rpc.service': service,
                'rpc.method': request.action,
            }
            request_id = _request_id()
            if request_id is not None:
                attributes[ATTRIBUTE_REQUEST_ID] = request_id
            name = f'run {service}/{request.action}'
            with _span(self._tracer, name, SpanKind.INTERNAL, attributes, ERROR_CODE_ACTION_TIMEOUT) as span:
                response = process_action(request)
                record_errors(span, response.errors, caller_errors_fail=False)
                return response

        return traced
