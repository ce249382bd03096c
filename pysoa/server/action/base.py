"""`Action`: the base class of a service's actions (validate the body, run, validate the result).

The server builds one action object per request with its settings and calls it with an
`EnrichedActionRequest`. Request body problems are the caller's fault and come back as field errors;
a result that breaks `response_schema` is the service's fault and surfaces as `SERVER_ERROR`.

`run` may also be an `async def`: its coroutine runs on the server's event loop thread when the
request offers one (`run_coroutine`), else on a fresh event loop, and the worker waits for it.
"""

import abc
import asyncio
import types
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse, Body
from pysoa.schema import fields
from pysoa.server.action_metrics import count_invalid_body
from pysoa.server.errors import ActionError, ResponseValidationError
from pysoa.server.types import ActionInterface, EnrichedActionRequest

if TYPE_CHECKING:
    from pysoa.server.settings import ServerSettings

__all__ = ('Action',)


class Action(ActionInterface, metaclass=abc.ABCMeta):
    """Base class of an action: override `run`, and optionally `validate`, `request_schema`, `response_schema`."""

    description: ClassVar[str | None] = None
    """Documentation returned by introspection (the class docstring is used when this is unset)."""

    request_schema: fields.Dictionary | fields.SchemalessDictionary | None = None
    """Schema (ours or a Conformity field) that every request body must satisfy before `validate` and `run`."""

    response_schema: fields.Dictionary | fields.SchemalessDictionary | None = None
    """Schema (`pysoa.schema` or Conformity field) that the body returned by `run` must satisfy."""

    def __init__(self, settings: 'ServerSettings | None' = None) -> None:
        """Keep the server settings; subclasses that override this must call `super().__init__(settings)`."""
        self.settings = settings

    @abc.abstractmethod
    def run(self, request: EnrichedActionRequest) -> Body | None | Coroutine[Any, Any, Body | None]:
        """Do the work and return the response body, or raise `ActionError` (may be an `async def`)."""

    def validate(self, request: EnrichedActionRequest) -> None:
        """Hook for checks beyond the schema, run before `run`; raise `ActionError` to refuse the request."""

    def __call__(self, action_request: EnrichedActionRequest) -> ActionResponse:
        """Validate the request body, call `validate` and `run`, validate the result and wrap it in a response."""
        # Read the schemas from the instance each call: tests (and some services) swap them per instance.
        schema = self.request_schema
        if schema is not None:
            # A Conformity field answers through its own `errors()`; ours check valid values fast (see pysoa.schema).
            problems = schema.errors(action_request.body)
            if problems:
                count_invalid_body(action_request, 'request')
                raise ActionError(
                    errors=[
                        Error(code=p.code, message=p.message, field=p.pointer, is_caller_error=True) for p in problems
                    ],
                    set_is_caller_error_to=None,
                )

        self.validate(action_request)
        body: Any = self.run(action_request)
        if type(body) is types.CoroutineType:
            body = _wait_for(body, action_request)

        schema = self.response_schema
        if schema is not None:
            problems = schema.errors(body)
            if problems:
                count_invalid_body(action_request, 'response')
                raise ResponseValidationError(action=action_request.action, errors=problems)

        return ActionResponse(action=action_request.action, body={} if body is None else body)


def _wait_for(coroutine: Coroutine[Any, Any, Any], request: EnrichedActionRequest) -> Any:
    if request.run_coroutine is not None:
        return request.run_coroutine(coroutine).result()
    return asyncio.run(coroutine)
