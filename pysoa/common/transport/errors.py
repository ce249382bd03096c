"""Transport exceptions. Transient ones are worth retrying; the others are not."""

from pysoa.common.errors import PySOAError

__all__ = (
    'ConnectionError',
    'InvalidMessageError',
    'MessageReceiveError',
    'MessageReceiveTimeout',
    'MessageSendError',
    'MessageSendTimeout',
    'MessageTooLarge',
    'PySOATransportError',
    'QueueFullError',
    'TransientPySOATransportError',
    'UnusableQueueError',
)


class PySOATransportError(PySOAError):
    """Base of every transport error."""


class MessageTooLarge(PySOATransportError):
    """A message is over the configured size limit and was not sent."""

    def __init__(self, message_size_in_bytes: int, *args: object) -> None:
        self.message_size_in_bytes = message_size_in_bytes
        super().__init__(*args)


class InvalidMessageError(PySOATransportError):
    """A received message cannot be understood (bad framing, chunks out of order, ...)."""


class TransientPySOATransportError(PySOATransportError):
    """A failure that may pass: the caller may retry."""


class MessageReceiveTimeout(TransientPySOATransportError):
    """Nothing arrived within the receive timeout."""


class MessageSendTimeout(TransientPySOATransportError):
    """A message could not be sent in time."""


class MessageReceiveError(TransientPySOATransportError):
    """Receiving failed (for example, the backend reported an error)."""


class MessageSendError(TransientPySOATransportError):
    """Sending failed (for example, the queue stayed full)."""


class ConnectionError(TransientPySOATransportError):  # the 1.x public name shadows the builtin
    """The backend cannot be reached."""


class QueueFullError(MessageSendError):
    """The queue stayed at its capacity for as long as the sender could wait; the message was not sent."""


class UnusableQueueError(MessageSendError):
    """The queue's Redis key holds something other than a list (WRONGTYPE); the message was not sent."""
