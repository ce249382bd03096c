"""Client middleware that traces every call with OpenTelemetry (the `otel` extra): one CLIENT span per job request.

Turned on by the client setting `tracing: True`, which puts it first in the middleware. A call's span starts when
its request is sent, as a child of the current span (in a service, the span of the action making the call), else of
the trace that the request's context already carries; its W3C trace context goes out in the request's context under
`TRACE_CONTEXT_KEY`, so that the service's spans join the trace. The span ends when the response arrives, with the
response's error codes, or when sending fails. A receive that fails (a timeout) ends, with that error, the spans of
every request that the thread is still waiting for: they share the thread's reply queue, so none of them came.
A request sent with `suppress_response` gets no response: its span ends once it is sent.
"""

import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from pysoa.client.middleware import ClientMiddleware, ClientRequestMiddlewareTask, ClientResponseMiddlewareTask
from pysoa.common.trace_propagation import (
    call_attributes,
    call_span_name,
    get_tracer,
    record_errors,
    record_exception,
    response_errors,
    trace_context_for,
    trace_context_of,
)
from pysoa.common.tracing import TRACE_CONTEXT_KEY
from pysoa.common.types import JobRequest, JobResponse

__all__ = ('TracingClientMiddleware',)

MAXIMUM_OPEN_SPANS = 10000
"""Spans awaiting a response, at most; past it the oldest is ended (a future whose result nobody asked for)."""


class TracingClientMiddleware(ClientMiddleware):
    """A CLIENT span per job request sent, with its trace context sent along (see the module)."""

    def __init__(self) -> None:
        self._service_name = 'unknown'
        self._tracer = get_tracer()
        # request id -> (span, the thread that sent it, which is the one that receives its response)
        self._open: dict[int, tuple[Span, int]] = {}
        self._lock = threading.Lock()

    def bind_service(self, service_name: str) -> None:
        """Name the spans after `service_name`."""
        self._service_name = service_name

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        """Start the call's span and send its trace context with the request."""

        def send(request_id: int, meta: dict[str, Any], job_request: JobRequest, expiry: int | None) -> None:
            span = self._start(request_id, job_request)
            carrier = trace_context_for(span)
            if carrier:
                # A new request object: the caller's context dict must not change under it.
                job_request = JobRequest(
                    control=job_request.control,
                    context={**job_request.context, TRACE_CONTEXT_KEY: carrier},
                    actions=job_request.actions,
                )
            awaits_response = not job_request.control.get('suppress_response')
            if awaits_response:
                self._hold(request_id, span)
            try:
                # Current while sending, so that spans of the transport (instrumented Redis) nest under it.
                with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                    send_request(request_id, meta, job_request, expiry)
            except BaseException as error:
                self._release(request_id)
                record_exception(span, error, None)
                span.end()
                raise
            if not awaits_response:
                span.end()

        return send

    def response(self, get_response: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        """End the span of each request whose response arrives, with its error codes."""

        def receive(receive_timeout_in_seconds: int | None) -> tuple[int | None, JobResponse | None]:
            try:
                request_id, response = get_response(receive_timeout_in_seconds)
            except BaseException as error:
                self._fail_waiting(error)
                raise
            if request_id is not None:
                span = self._release(request_id)
                if span is not None:
                    if response is not None:
                        record_errors(span, response_errors(response), caller_errors_fail=True)
                    span.end()
            return request_id, response

        return receive

    def _start(self, request_id: int, job_request: JobRequest) -> Span:
        actions = [action.action for action in job_request.actions]
        parent = None  # the current context
        if not trace.get_current_span().get_span_context().is_valid:
            # No span here: continue the trace the context carries (a service that traces its calls but not its
            # jobs passes its caller's trace context on in the context it copies), or start one.
            parent, _ = trace_context_of(job_request.context)
        return self._tracer.start_span(
            call_span_name(self._service_name, actions),
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=call_attributes(self._service_name, actions, request_id, job_request.context),
        )

    def _hold(self, request_id: int, span: Span) -> None:
        with self._lock:
            self._open[request_id] = (span, threading.get_ident())
            oldest = next(iter(self._open)) if len(self._open) > MAXIMUM_OPEN_SPANS else None
            abandoned = self._open.pop(oldest) if oldest is not None else None
        if abandoned is not None:
            abandoned[0].set_status(Status(StatusCode.ERROR, 'No response received before too many later calls'))
            abandoned[0].end()

    def _release(self, request_id: int) -> Span | None:
        with self._lock:
            held = self._open.pop(request_id, None)
        return None if held is None else held[0]

    def _fail_waiting(self, error: BaseException) -> None:
        thread = threading.get_ident()
        with self._lock:
            waiting = [request_id for request_id, (_, sender) in self._open.items() if sender == thread]
            spans = [self._open.pop(request_id)[0] for request_id in waiting]
        for span in spans:
            record_exception(span, error, None)
            span.end()
