"""The root exception of the package and the wire `Error` record.

Exception tree (each branch lives next to the code that raises it)::

    PySOAError
    ├── SerializationError            (pysoa.common.serializer.errors)
    │   ├── InvalidMessage
    │   └── InvalidField
    ├── PySOATransportError           (pysoa.common.transport.errors)
    │   ├── MessageTooLarge
    │   ├── InvalidMessageError
    │   └── TransientPySOATransportError
    │       ├── MessageReceiveTimeout, MessageSendTimeout
    │       ├── MessageReceiveError, MessageSendError
    │       └── ConnectionError
    ├── PySOAClientError              (pysoa.client.errors)
    │   ├── ImproperlyConfigured, InvalidExpansionKey
    │   └── CallActionError, CallJobError
    └── PySOAServerError              (pysoa.server.errors)
        ├── ActionError, JobError
        └── ResponseValidationError

`Error` is data, not an exception: it is what travels on the wire.
"""

from typing import Any

import attr

__all__ = ('Error', 'PySOAError')


@attr.s(frozen=True, slots=True)
class Error:
    """One error as transmitted between client and service (field order is the wire order)."""

    code: str = attr.ib()
    message: str = attr.ib()
    field: str | None = attr.ib(default=None)
    traceback: str | None = attr.ib(default=None)
    variables: dict[str, Any] | None = attr.ib(default=None)
    denied_permissions: list[str] | None = attr.ib(default=None)
    is_caller_error: bool = attr.ib(default=False, metadata={'added_in_version': (0, 70, 0)})


class PySOAError(Exception):
    """Base exception for every error raised by this package."""
