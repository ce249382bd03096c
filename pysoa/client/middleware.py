"""Client middleware: wrappers around sending a job request and receiving a job response.

A middleware object offers `request(send_request)` and `response(get_response)`; each takes the next
callable down the stack and returns a callable with the same signature. The first configured
middleware is the outermost layer. The stacks are built once per service handler, so a wrapper
costs one extra call per request; an exception raised by a wrapper propagates to the caller.

The native asyncio calls (`Client.call_*_async` over Redis) build a second pair of stacks from
`request_async` and `response_async`, whose callables are coroutine functions. A middleware that
overrides only `request`/`response` still applies there: its plain wrapper runs around a stand-in
for the awaited layers below it (see `pysoa.client.async_handler`). One that overrides only the
`*_async` hooks adds no layer to blocking calls.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from pysoa.common.types import JobRequest, JobResponse
from pysoa.schema import fields

__all__ = (
    'AsyncClientRequestMiddlewareTask',
    'AsyncClientResponseMiddlewareTask',
    'ClientMiddleware',
    'ClientRequestMiddlewareTask',
    'ClientResponseMiddlewareTask',
)

ClientRequestMiddlewareTask = Callable[[int, dict[str, Any], JobRequest, int | None], None]
"""Sends one request: `(request_id, meta, job_request, message_expiry_in_seconds) -> None`."""

ClientResponseMiddlewareTask = Callable[[int | None], tuple[int | None, JobResponse | None]]
"""Receives one response: `(receive_timeout_in_seconds) -> (request_id, job_response)`, `(None, None)` when done."""

AsyncClientRequestMiddlewareTask = Callable[[int, dict[str, Any], JobRequest, int | None], Awaitable[None]]
"""Sends one request from a coroutine: awaitable `ClientRequestMiddlewareTask`."""

AsyncClientResponseMiddlewareTask = Callable[[int | None], Awaitable[tuple[int | None, JobResponse | None]]]
"""Receives one response of the calling task's call: awaitable `ClientResponseMiddlewareTask`."""


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

    def request_async(self, send_request: AsyncClientRequestMiddlewareTask) -> AsyncClientRequestMiddlewareTask:
        """Return a coroutine function that sends a request, normally by awaiting `send_request` (asyncio calls)."""
        return send_request

    def response_async(self, get_response: AsyncClientResponseMiddlewareTask) -> AsyncClientResponseMiddlewareTask:
        """Return a coroutine function that receives a response, normally by awaiting `get_response` (asyncio calls)."""
        return get_response
