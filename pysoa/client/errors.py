"""Exceptions raised by the client (transport errors live in `pysoa.common.transport.errors`).

Tree::

    PySOAClientError
    ├── ImproperlyConfigured     the client has no (valid) settings for a service
    ├── InvalidExpansionKey      an expansion request names an unknown type or expansion
    ├── CallJobError             a job response carried job-level errors (`.errors`)
    └── CallActionError          one or more action responses carried errors (`.actions`)
"""

from collections.abc import Iterable

from pysoa.common.errors import Error, PySOAError
from pysoa.common.types import ActionResponse

__all__ = (
    'CallActionError',
    'CallJobError',
    'ImproperlyConfigured',
    'InvalidExpansionKey',
    'PySOAClientError',
)


class PySOAClientError(PySOAError):
    """Base of every client-side error other than transport errors."""


class ImproperlyConfigured(PySOAClientError):
    """The client is not configured to call the requested service."""


class InvalidExpansionKey(PySOAClientError):
    """An expansion request names a type or expansion that the expansion settings do not define."""


class CallJobError(PySOAClientError):
    """A job response contained job-level errors; they are in `errors`."""

    def __init__(self, errors: Iterable[Error] | None = None) -> None:
        self.errors: list[Error] = errors if isinstance(errors, list) else list(errors or ())
        super().__init__(self.errors)

    def __str__(self) -> str:
        lines = '\n'.join(str(e) for e in self.errors)
        return f'Error executing job:\n{lines}'

    def __repr__(self) -> str:
        return str(self)


class CallActionError(PySOAClientError):
    """One or more action responses contained errors; `actions` holds only the responses with errors."""

    def __init__(self, actions: Iterable[ActionResponse] | None = None) -> None:
        self.actions: list[ActionResponse] = actions if isinstance(actions, list) else list(actions or ())
        super().__init__(self.actions)

    def __str__(self) -> str:
        lines = '\n'.join(f'{a.action}: {a.errors}' for a in self.actions)
        return f'Error calling action(s):\n{lines}'
