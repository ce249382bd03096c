"""Server middleware: wrappers around job processing and around each action.

A middleware object has two methods, `job` and `action`. Each receives the next callable down
the stack and returns a callable with the same signature; the server builds the stacks once, with
the first configured middleware outermost. The base class passes everything through unchanged, so
a subclass overrides only the level it cares about.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from pysoa.common.logging import PySOALogContextFilter
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.schema import fields

if TYPE_CHECKING:
    from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest

__all__ = (
    'ServerMiddleware',
    'ServerMiddlewareActionTask',
    'ServerMiddlewareJobTask',
    'served_service_name',
)

ServerMiddlewareJobTask = Callable[['EnrichedJobRequest'], JobResponse]
"""A callable that processes a job."""
ServerMiddlewareActionTask = Callable[['EnrichedActionRequest'], ActionResponse]
"""A callable that processes one action."""


def served_service_name(request: 'EnrichedJobRequest | EnrichedActionRequest') -> str | None:
    """The name of the service serving `request`, for middleware that reports it; None when it cannot be told."""
    # The client a server gives its requests carries the server's own name as `calling_service` (see
    # `Server.make_client`); a worker started from the command line also names its service in the log context.
    context = getattr(request.client, 'context', None)
    service = context.get('calling_service') if isinstance(context, dict) else None
    return service if isinstance(service, str) else PySOALogContextFilter.get_service_name()


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary({}, description='Server middleware takes no arguments unless a subclass provides a schema'),
)
class ServerMiddleware:
    """Base class for server middleware; override `job`, `action` or both."""

    def job(self, process_job: ServerMiddlewareJobTask) -> ServerMiddlewareJobTask:
        """Wrap `process_job` (which may raise); the base class returns it unchanged."""
        return process_job

    def action(self, process_action: ServerMiddlewareActionTask) -> ServerMiddlewareActionTask:
        """Wrap `process_action` (which may raise); the base class returns it unchanged."""
        return process_action
