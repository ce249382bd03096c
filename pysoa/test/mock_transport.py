"""Transports backed by functions, for testing code that calls a service or serves one, with no Redis and no server.

`MockClientTransport` hands each job request a `Client` sends to a handler function; what the handler returns is
the response the client receives:

- a job response dict (`{'actions': [...], 'errors': [...], 'context': {...}}`) or a `JobResponse`, delivered with
  the request's id;
- a `ReceivedMessage`, delivered as it is (another request id, say);
- an exception instance, raised by the receive that would have delivered the response (`MessageReceiveError`);
- None: no response ever comes, and receiving it times out (`MessageReceiveTimeout`), as when a service is down.

An exception the handler raises is raised by the send (`MessageSendError`, say). As with the Redis transport, a
response goes back to the thread that sent the request.

    def handler(request: MockRequest) -> dict[str, Any]:
        [action] = request.body['actions']
        return {'actions': [{'action': action['action'], 'body': {'id': 42}}]}

    client = Client({'user': mock_transport_settings(handler)})

`MockServerTransport` serves a `Server` the requests a test queues in `incoming` (or `when_idle` makes) and keeps
what the server sends and acknowledges; `on_response`, when set, is called with each response (raise to make
the send fail).
"""

import collections
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import attrs

from pysoa.common.metrics import MetricsRecorder, noop_metrics
from pysoa.common.transport.base import ClientTransport, ReceivedMessage, ServerTransport
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.types import JobResponse
from pysoa.common.wire import client_version_of, job_response_to_dict
from pysoa.schema import fields

__all__ = (
    'MockClientTransport',
    'MockHandler',
    'MockRequest',
    'MockResponse',
    'MockServerTransport',
    'SentResponse',
    'mock_transport_settings',
)

CLIENT_TRANSPORT_PATH = 'pysoa.test.mock_transport:MockClientTransport'


@attrs.frozen
class MockRequest:
    """One job request as the client sent it: `body` is the job request dict (`control`, `context`, `actions`)."""

    service_name: str
    request_id: int
    meta: dict[str, Any]
    body: dict[str, Any]
    message_expiry_in_seconds: int | None


class SentResponse(NamedTuple):
    """One response a server sent through `MockServerTransport`."""

    request_id: int
    meta: dict[str, Any]
    body: dict[str, Any]


MockResponse = Mapping[str, object] | JobResponse | ReceivedMessage | BaseException | None
"""What a client handler returns (see the module docstring)."""

MockHandler = Callable[[MockRequest], MockResponse]
"""The function a `MockClientTransport` calls with each request."""


class _NoResponse:
    """Stands in a reply queue for a request whose response never comes."""


_NO_RESPONSE = _NoResponse()
_Pending = ReceivedMessage | BaseException | _NoResponse


def mock_transport_settings(handler: MockHandler, receive_timeout_in_seconds: float | None = None) -> dict[str, Any]:
    """The client settings of one service whose calls `handler` answers (`Client({'name': these})`)."""
    kwargs: dict[str, object] = {'handler': handler}
    if receive_timeout_in_seconds is not None:
        kwargs['receive_timeout_in_seconds'] = receive_timeout_in_seconds
    return {'transport': {'path': CLIENT_TRANSPORT_PATH, 'kwargs': kwargs}}


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary(
        {
            'handler': fields.ObjectInstance(
                Callable,  # type: ignore[arg-type]  # ObjectInstance is typed for classes; the Callable ABC checks callability
                description='Called with each `MockRequest`; returns the response (see `pysoa.test.mock_transport`)',
            ),
            'receive_timeout_in_seconds': fields.Any(
                fields.Integer(gt=0),
                fields.Float(gt=0),
                description='The wait a receive timeout reports when the call names none',
            ),
        },
        optional_keys=('receive_timeout_in_seconds',),
        description='The constructor arguments of the mock client transport.',
    ),
)
class MockClientTransport(ClientTransport):
    """A client transport whose responses come from `handler` (see the module docstring)."""

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder = noop_metrics,
        handler: MockHandler | None = None,
        receive_timeout_in_seconds: float | None = None,
    ) -> None:
        super().__init__(service_name, metrics)
        if handler is None:
            raise ValueError('MockClientTransport needs a handler')
        self.handler = handler
        # Read by the client to say how long a timed-out receive waited, as it does for the Redis transport's.
        self.receive_timeout_in_seconds = receive_timeout_in_seconds
        self.sent: list[MockRequest] = []
        """Every request handed to the handler, in order (those whose send then failed too)."""
        self.received: list[ReceivedMessage] = []
        """Every message a receive returned, the empty one for "nothing outstanding" included."""
        self._lock = threading.Lock()
        self._replies: dict[int, collections.deque[_Pending]] = collections.defaultdict(collections.deque)

    def send_request_message(
        self,
        request_id: int,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: int | None = None,
    ) -> None:
        """Call the handler with the request and queue its response for this thread."""
        request = MockRequest(self.service_name, request_id, meta, body, message_expiry_in_seconds)
        with self._lock:
            self.sent.append(request)
        pending = self._pending(request, self.handler(request))
        with self._lock:
            self._replies[threading.get_ident()].append(pending)

    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        """The next response for this thread; a response that never comes makes the receive time out."""
        with self._lock:
            replies = self._replies[threading.get_ident()]
            pending = next((item for item in replies if item is not _NO_RESPONSE), None)
            if pending is not None:
                replies.remove(pending)
            elif replies:
                # Only responses that never come are outstanding: wait for them as a real transport would, in vain.
                raise MessageReceiveTimeout(f'No message received for service {self.service_name}')
        if isinstance(pending, BaseException):
            raise pending
        message = pending if isinstance(pending, ReceivedMessage) else ReceivedMessage(None, None, None)
        with self._lock:
            self.received.append(message)
        return message

    @staticmethod
    def _pending(request: MockRequest, response: MockResponse) -> _Pending:
        if response is None:
            return _NO_RESPONSE
        if isinstance(response, ReceivedMessage | BaseException):
            return response
        if isinstance(response, JobResponse):
            response = job_response_to_dict(response, client_version_of(request.meta))
        return ReceivedMessage(request.request_id, request.meta, dict(response))


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary({}, description='The mock server transport takes no constructor arguments.'),
)
class MockServerTransport(ServerTransport):
    """A server transport that serves the requests a test queues and keeps what the server does with them.

    - `incoming`: what the next receives return, in order: a `ReceivedMessage`, or an exception to raise;
    - `when_idle`: called by a receive when `incoming` is empty, to return a message or raise; by default the
      receive raises `MessageReceiveTimeout`, as an idle Redis queue does;
    - `send_failures`: exceptions the next sends raise, one each, before anything else;
    - `on_response`: called with each response the server sends, before it is kept; raising fails the send;
    - `sent` (the responses sent, as `SentResponse`s), `acknowledged` (the request ids acknowledged) and
      `events` (`'send'` for every send attempted, failed ones too, and `'ack'` for every acknowledgement, in order).
    """

    def __init__(self, service_name: str, metrics: MetricsRecorder = noop_metrics, instance_index: int = 1) -> None:
        super().__init__(service_name, metrics, instance_index)
        self.incoming: collections.deque[ReceivedMessage | BaseException] = collections.deque()
        self.when_idle: Callable[[], ReceivedMessage] | None = None
        self.on_response: Callable[[SentResponse], None] | None = None
        self.send_failures: collections.deque[BaseException] = collections.deque()
        self.sent: list[SentResponse] = []
        self.acknowledged: list[int | None] = []
        self.events: list[str] = []

    def receive_request_message(self) -> ReceivedMessage:
        """The next queued request (raised, if it is an exception), else what `when_idle` gives."""
        if self.incoming:
            item = self.incoming.popleft()
            if isinstance(item, BaseException):
                raise item
            return item
        if self.when_idle is not None:
            return self.when_idle()
        raise MessageReceiveTimeout('nothing queued')

    def send_response_message(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Keep the response, unless a queued send failure or `on_response` refuses it by raising."""
        self.events.append('send')
        if self.send_failures:
            raise self.send_failures.popleft()
        message = SentResponse(request_id, meta, body)
        if self.on_response is not None:
            self.on_response(message)
        self.sent.append(message)

    def acknowledge_request_message(self, request_id: int, meta: dict[str, Any]) -> None:
        """Record the acknowledgement."""
        self.events.append('ack')
        self.acknowledged.append(request_id)
