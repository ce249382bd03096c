"""Server middleware that reports unexpected exceptions to Sentry (the `sentry` extra).

Errors a service means to return (`ActionError`, `JobError`) are not reported; any other exception
in an action or a job is sent with the service, action and correlation id as tags, then re-raised,
so the caller still gets its `SERVER_ERROR`. Initialise `sentry_sdk` yourself (DSN, release, ...)
or pass `dsn` here.

Settings::

    'middleware': [{'path': 'pysoa.server.sentry:SentryMiddleware', 'kwargs': {'dsn': '...'}}]
"""

from pysoa.common.types import ActionResponse, JobResponse
from pysoa.schema import fields
from pysoa.server.errors import ActionError, JobError
from pysoa.server.middleware import (
    ServerMiddleware,
    ServerMiddlewareActionTask,
    ServerMiddlewareJobTask,
    served_service_name,
)
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest

__all__ = ('SentryMiddleware',)

_EXPECTED = (ActionError, JobError)


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary(
        {'dsn': fields.Nullable(fields.UnicodeString(description='A Sentry DSN; omit if sentry_sdk is set up'))},
        optional_keys=('dsn',),
    ),
)
class SentryMiddleware(ServerMiddleware):
    """Sends unexpected exceptions from jobs and actions to Sentry, then lets them propagate."""

    def __init__(self, dsn: str | None = None) -> None:
        import sentry_sdk

        if dsn:
            sentry_sdk.init(dsn=dsn)
        self._sdk = sentry_sdk

    def _report(self, error: BaseException, tags: dict[str, object]) -> None:
        with self._sdk.new_scope() as scope:
            for key, value in tags.items():
                if value is not None:
                    scope.set_tag(key, str(value))
            self._sdk.capture_exception(error)

    def job(self, process_job: ServerMiddlewareJobTask) -> ServerMiddlewareJobTask:
        """Report exceptions that escape the whole job."""

        def handler(request: EnrichedJobRequest) -> JobResponse:
            try:
                return process_job(request)
            except _EXPECTED:
                raise
            except Exception as error:
                self._report(
                    error,
                    {'service': served_service_name(request), 'correlation_id': request.context.get('correlation_id')},
                )
                raise

        return handler

    def action(self, process_action: ServerMiddlewareActionTask) -> ServerMiddlewareActionTask:
        """Report exceptions raised by one action."""

        def handler(request: EnrichedActionRequest) -> ActionResponse:
            try:
                return process_action(request)
            except _EXPECTED:
                raise
            except Exception as error:
                correlation_id = (request.context or {}).get('correlation_id')
                tags = {
                    'service': served_service_name(request),
                    'action': request.action,
                    'correlation_id': correlation_id,
                }
                self._report(error, tags)
                raise

        return handler
