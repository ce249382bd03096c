"""The transport seam: how a client sends requests and a server receives them.

A transport moves envelopes: `(request_id, meta, body)`, where `body` is a job request or job
response dict and `meta` carries transport information (reply queue, expiry, serializer). The
client and server know nothing else about how the bytes travel.

Delivery guarantees live behind this seam: a server transport may hold a received request as
"in flight" until `acknowledge_request_message` (called after the response is sent, or after the
server decides to send none), which is how at-least-once delivery plugs in without the server
knowing. The deadline travels in `meta['__expiry__']` (Unix seconds).
"""

import abc
import threading
from typing import Any, NamedTuple

from pysoa.common.metrics import MetricsRecorder, noop_metrics

__all__ = (
    'RECEIVED_BYTES_META_KEY',
    'SENT_BYTES_META_KEY',
    'ClientTransport',
    'ReceivedMessage',
    'ServerTransport',
    'Transport',
    'get_hex_thread_id',
)


RECEIVED_BYTES_META_KEY = 'received_bytes'
"""Where a server transport may report, in a received request's meta, its size on the wire (bytes; not sent on)."""
SENT_BYTES_META_KEY = 'sent_bytes'
"""Where a server transport may report, in the request's meta, the size of the response it sent for it (bytes)."""


def get_hex_thread_id() -> str:
    """The current thread's id as 12 hex digits, as used in reply queue names."""
    ident = threading.current_thread().ident
    return f'{ident or 0:012x}'


class ReceivedMessage(NamedTuple):
    """One message taken from a transport."""

    request_id: int | None
    meta: dict[str, Any] | None
    body: dict[str, Any] | None


class Transport(abc.ABC):  # noqa: B024  # abstract in intent: only its subclasses are usable
    """What every transport has: the service it talks to or for, and a metrics recorder."""

    def __init__(self, service_name: str, metrics: MetricsRecorder = noop_metrics) -> None:
        if not isinstance(service_name, str):
            raise ValueError(f'service_name must be a str, not {type(service_name).__name__}')
        self.service_name = service_name
        self.metrics = metrics


class ClientTransport(Transport):
    """The client side: send job requests to a service, receive job responses."""

    @abc.abstractmethod
    def send_request_message(
        self,
        request_id: int,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: int | None = None,
    ) -> None:
        """Send one job request; raise a transport error if it cannot be sent."""

    @abc.abstractmethod
    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        """Return the next response, or `ReceivedMessage(None, None, None)` if none is outstanding."""


class ServerTransport(Transport):
    """The server side: receive job requests, send job responses."""

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder = noop_metrics,
        instance_index: int = 1,
    ) -> None:
        super().__init__(service_name, metrics)
        self.instance_index = instance_index

    @abc.abstractmethod
    def receive_request_message(self) -> ReceivedMessage:
        """Block (up to the transport's timeout) for the next request; raise `MessageReceiveTimeout` if none."""

    @abc.abstractmethod
    def send_response_message(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Send the response to the request received with `meta` (passed back verbatim)."""

    def acknowledge_request_message(self, request_id: int, meta: dict[str, Any]) -> None:
        """Mark the request as done, so it is never delivered again. The default transport keeps nothing."""

    def close(self) -> None:
        """Release what the transport holds (a heartbeat thread, say) when its worker stops; by default, nothing."""
