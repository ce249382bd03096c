"""Client middleware: wrappers around sending a job request and receiving a job response.

A middleware object offers `request(send_request)` and `response(get_response)`; each takes the next
callable down the stack and returns a callable with the same signature. The first configured
middleware is the outermost layer. The stacks are built once per service handler, so a wrapper
costs one extra call per request; an exception raised by a wrapper propagates to the caller.
"""

from collections.abc import Callable
from typing import Any

from pysoa.common.types import JobRequest, JobResponse
from pysoa.schema import fields

__all__ = (
    'ClientMiddleware',
    'ClientRequestMiddlewareTask',
    'ClientResponseMiddlewareTask',
)

ClientRequestMiddlewareTask = Callable[[int, dict[str, Any], JobRequest, int | None], None]
"""Sends one request: `(request_id, meta, job_request, message_expiry_in_seconds) -> None`."""

ClientResponseMiddlewareTask = Callable[[int | None], tuple[int | None, JobResponse | None]]
"""Receives one response: `(receive_timeout_in_seconds) -> (request_id, job_response)`, `(None, None)` when done."""


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary({}, description='Client middleware takes no arguments unless a subclass declares a schema'),
)
class ClientMiddleware:
    """Base class for client middleware; override `request`, `response` or both. The defaults add no layer."""

    def bind_service(self, service_name: str) -> None:
        """Called once, before `request` and `response`, with the name of the service this instance serves.

        Each service a client calls gets its own middleware instances; the default ignores the name.
        """

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        """Return a callable that sends a request, normally by calling `send_request`."""
        return send_request

    def response(self, get_response: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        """Return a callable that receives a response, normally by calling `get_response`."""
        return get_response
