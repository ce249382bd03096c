"""Errors raised while turning messages into bytes and back.

::

    PySOAError
    └── SerializationError
        ├── InvalidMessage   bytes that cannot be decoded into a message
        └── InvalidField     a value in a message that cannot be encoded
"""

from pysoa.common.errors import PySOAError

__all__ = ('InvalidField', 'InvalidMessage', 'SerializationError')


class SerializationError(PySOAError):
    """Base of every serialization and deserialization error."""


class InvalidMessage(SerializationError):
    """Raised when received bytes cannot be decoded into a message dict."""


class InvalidField(SerializationError):
    """Raised when a value in a message dict cannot be encoded."""
