"""Server-side exceptions: how actions and middleware stop a request with errors for the caller.

Exception tree::

    PySOAError                          (pysoa.common.errors)
    └── PySOAServerError
        ├── JobError                    stop the whole job; errors go in the job response
        ├── ActionError                 stop one action; errors go in that action's response
        └── ResponseValidationError     an action returned a body that fails its response schema

    BaseException
    └── HarakiriInterrupt               a job ran past `harakiri.timeout` (never catch it)

`JobError` and `ActionError` are flow control, not failures of the server: the server turns them
into error responses.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pysoa.common.errors import Error, PySOAError
from pysoa.schema.types import Error as SchemaError

__all__ = (
    'ActionError',
    'HarakiriInterrupt',
    'JobError',
    'PySOAServerError',
    'ResponseValidationError',
)


def _with_caller_flag(errors: Iterable[Error | Mapping[str, Any]], is_caller_error: bool | None) -> list[Error]:
    result = []
    for error in errors:
        if not isinstance(error, Error):
            error = Error(**error)
        if is_caller_error is not None and error.is_caller_error != is_caller_error:
            error = Error(
                code=error.code,
                message=error.message,
                field=error.field,
                traceback=error.traceback,
                variables=error.variables,
                denied_permissions=error.denied_permissions,
                is_caller_error=is_caller_error,
            )
        result.append(error)
    return result


def _summary(errors: Sequence[Error]) -> str:
    return '; '.join(f'{e.code}{f" ({e.field})" if e.field else ""}: {e.message}' for e in errors)


class PySOAServerError(PySOAError):
    """Base of every server-side error other than transport errors."""


class _ErrorsRaised(PySOAServerError):
    """What `JobError` and `ActionError` share: a list of wire errors, with `is_caller_error` set as asked."""

    def __init__(self, errors: Iterable[Error | Mapping[str, Any]], set_is_caller_error_to: bool | None) -> None:
        self.errors: list[Error] = _with_caller_flag(errors, set_is_caller_error_to)
        self._set_is_caller_error_to = set_is_caller_error_to
        super().__init__(self.errors)

    def __str__(self) -> str:
        return _summary(self.errors)


class JobError(_ErrorsRaised):
    """Raised by middleware or the server to answer the whole job with these errors.

    `set_is_caller_error_to` (default `False`) overwrites each error's `is_caller_error`; pass `None` to keep them.
    """

    def __init__(
        self,
        errors: Iterable[Error | Mapping[str, Any]],
        set_is_caller_error_to: bool | None = False,
    ) -> None:
        super().__init__(errors, set_is_caller_error_to)


class ActionError(_ErrorsRaised):
    """Raised by an action or middleware to answer this action with these errors.

    `set_is_caller_error_to` (default `True`) overwrites each error's `is_caller_error`; pass `None` to keep them.
    """

    def __init__(
        self,
        errors: Iterable[Error | Mapping[str, Any]],
        set_is_caller_error_to: bool | None = True,
    ) -> None:
        super().__init__(errors, set_is_caller_error_to)


class ResponseValidationError(PySOAServerError):
    """An action's response body fails its response schema: a bug in the service, reported as `SERVER_ERROR`."""

    def __init__(self, action: str, errors: Sequence[SchemaError]) -> None:
        self.action = action
        self.errors = list(errors)
        super().__init__(action, self.errors)

    def __str__(self) -> str:
        details = '\n\t'.join(
            f'{getattr(e, "pointer", None)} {getattr(e, "code", None)}: {getattr(e, "message", e)}' for e in self.errors
        )
        return f'{self.action} had an invalid response:\n\t{details}'


class HarakiriInterrupt(BaseException):  # the 1.x public name
    """Raised into the main thread when a job runs past `harakiri.timeout`.

    It derives from `BaseException` so that `except Exception` in service code cannot swallow it.
    """
