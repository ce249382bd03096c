"""Deadline propagation: the client a server gives its actions never waits past the incoming request's expiry.

Service A is driven by the mock server transport (so each test chooses the incoming `__expiry__`) and calls
service B through the local transport, recorded; the last test runs both over Redis.
"""

import threading
import time
from typing import Any

import pytest

from pysoa.client.client import Client
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import (
    MessageReceiveTimeout,
    MessageSendTimeout,
    PySOATransportError,
    TransientPySOATransportError,
)
from pysoa.common.transport.local import LocalClientTransport
from pysoa.common.types import ActionResponse
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.mock_transport import MockServerTransport
from pysoa.test.waiting import wait_until

B_CALLS: list[dict[str, Any]] = []
TRANSPORT_LOG: list[tuple[str, Any]] = []
CLIENTS: list[Client] = []


def echo(settings: Any) -> Any:
    def run(request: EnrichedActionRequest) -> ActionResponse:
        B_CALLS.append(dict(request.body))
        return ActionResponse(action=request.action, body={'echoed': True})

    return run


class BServer(Server):
    service_name = 'b'
    action_class_map = {'echo': echo}


class RecordingTransport(LocalClientTransport):
    """The local transport to B, recording the expiry and receive timeout each call is given."""

    def send_request_message(
        self, request_id: int, meta: dict[str, Any], body: dict[str, Any], message_expiry_in_seconds: int | None = None
    ) -> None:
        TRANSPORT_LOG.append(('send', message_expiry_in_seconds))
        super().send_request_message(request_id, meta, body, message_expiry_in_seconds)

    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        TRANSPORT_LOG.append(('receive', receive_timeout_in_seconds))
        return super().receive_response_message(receive_timeout_in_seconds)


class TransportWithDefaults(RecordingTransport):
    """Like a Redis transport: its own expiry and receive timeout apply when a call names none."""

    message_expiry_in_seconds = 20
    receive_timeout_in_seconds = 4


class SilentTransport(RecordingTransport):
    """B answers, but the response never comes back: every receive times out."""

    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        TRANSPORT_LOG.append(('receive', receive_timeout_in_seconds))
        raise MessageReceiveTimeout('No message received for service b')


def call_b(settings: Any) -> Any:
    """Calls B as the request body says and answers with the result or the transport error."""

    def run(request: EnrichedActionRequest) -> ActionResponse:
        client = request.client
        assert client is not None
        CLIENTS.append(client)
        timeout = request.body.get('timeout')
        try:
            if request.body.get('wait_until'):
                future = client.call_action_future('b', 'echo', {'n': 1}, timeout=timeout)
                assert wait_until(lambda: time.time() > request.body['wait_until'], timeout=5)
                result = future.result()
            else:
                result = client.call_action('b', 'echo', {'n': 1}, timeout=timeout)
        except PySOATransportError as error:
            return ActionResponse(
                action=request.action,
                body={'error': type(error).__name__, 'message': str(error), 'cause': repr(error.__cause__)},
            )
        return ActionResponse(action=request.action, body=dict(result.body))

    return run


class AServer(Server):
    service_name = 'a'
    action_class_map = {'call_b': call_b}


@pytest.fixture(autouse=True)
def _clean_records() -> None:
    B_CALLS.clear()
    TRANSPORT_LOG.clear()
    CLIENTS.clear()


def serve_a(meta: dict[str, Any], body: dict[str, Any], transport: type = RecordingTransport) -> dict[str, Any]:
    """Have a fresh service A handle one `call_b` request with `meta`; return the action's response body."""
    server = AServer(
        ServerSettings(
            {
                'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'},
                'client_routing': {
                    'b': {
                        'transport': {
                            'path': f'{transport.__module__}:{transport.__name__}',
                            'kwargs': {'server_class': f'{__name__}:BServer', 'server_settings': {}},
                        },
                    },
                },
            },
        ),
    )
    scripted = server.transport
    assert isinstance(scripted, MockServerTransport)
    job = {
        'control': {'continue_on_error': False},
        'context': {'switches': [], 'correlation_id': 'deadline-test'},
        'actions': [{'action': 'call_b', 'body': body}],
    }
    scripted.incoming.append(ReceivedMessage(7, {'client_version': [2, 0, 0], **meta}, job))
    server.handle_next_request()
    [(_, _, response)] = scripted.sent
    assert response['errors'] == []
    [action] = response['actions']
    assert action['errors'] == []
    body_out: dict[str, Any] = action['body']
    return body_out


def logged(kind: str) -> list[Any]:
    return [value for what, value in TRANSPORT_LOG if what == kind]


def test_without_an_incoming_expiry_calls_are_unchanged() -> None:
    assert serve_a({}, {}) == {'echoed': True}
    assert serve_a({}, {'timeout': 7}) == {'echoed': True}

    assert logged('send') == [None, 7]
    assert logged('receive') == [None, 7]
    assert [client._deadline for client in CLIENTS] == [None, None]


def test_a_call_expires_and_waits_no_longer_than_the_incoming_request() -> None:
    deadline = time.time() + 30

    assert serve_a({'__expiry__': deadline}, {}) == {'echoed': True}

    [expiry] = logged('send')
    assert 29 < expiry <= 30
    assert all(29 < timeout <= 30 for timeout in logged('receive'))
    assert CLIENTS[0]._deadline == deadline


def test_a_timeout_shorter_than_the_deadline_is_kept_and_a_longer_one_is_cut_short() -> None:
    assert serve_a({'__expiry__': time.time() + 30}, {'timeout': 5}) == {'echoed': True}
    assert logged('send') == [5]
    assert set(logged('receive')) == {5}

    TRANSPORT_LOG.clear()
    assert serve_a({'__expiry__': time.time() + 3}, {'timeout': 10}) == {'echoed': True}
    [expiry] = logged('send')
    assert 2 < expiry <= 3
    assert all(2 < timeout <= 3 for timeout in logged('receive'))


def test_the_transport_defaults_apply_while_they_end_before_the_deadline() -> None:
    assert serve_a({'__expiry__': time.time() + 30}, {}, TransportWithDefaults) == {'echoed': True}
    assert logged('send') == [None]
    assert set(logged('receive')) == {None}

    TRANSPORT_LOG.clear()
    assert serve_a({'__expiry__': time.time() + 3}, {}, TransportWithDefaults) == {'echoed': True}
    [expiry] = logged('send')
    assert 2 < expiry <= 3
    assert all(2 < timeout <= 3 for timeout in logged('receive'))


def test_after_the_deadline_a_call_fails_at_once_without_sending() -> None:
    started = time.monotonic()

    result = serve_a({'__expiry__': time.time() - 2}, {'timeout': 10})

    assert time.monotonic() - started < 2
    assert result['error'] == 'MessageSendTimeout'
    assert 'deadline of the request being served' in result['message']
    assert '__expiry__' in result['message'] and '"b"' in result['message']
    assert TRANSPORT_LOG == []
    assert B_CALLS == []


def test_a_response_awaited_after_the_deadline_fails_at_once() -> None:
    deadline = time.time() + 0.3

    result = serve_a({'__expiry__': deadline}, {'wait_until': deadline})

    assert result['error'] == 'MessageReceiveTimeout'
    assert 'deadline of the request being served' in result['message']
    assert B_CALLS == [{'n': 1}]  # sent in time, and served
    assert logged('receive') == []  # but not waited for


def test_a_wait_cut_short_by_the_deadline_says_so() -> None:
    result = serve_a({'__expiry__': time.time() + 2}, {'timeout': 10}, SilentTransport)

    assert result['error'] == 'MessageReceiveTimeout'
    assert result['message'].startswith('No response from service "b" by the deadline of the request being served')
    assert 'No message received for service b' in result['cause']
    [timeout] = logged('receive')
    assert 1 < timeout <= 2


def test_deadline_errors_are_transient_transport_errors() -> None:
    assert issubclass(MessageSendTimeout, TransientPySOATransportError)
    assert issubclass(MessageReceiveTimeout, TransientPySOATransportError)


def test_the_deadline_belongs_to_one_job_only() -> None:
    serve_a({'__expiry__': time.time() + 30}, {})
    server = AServer(ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}}))

    response = server.process_job(
        {
            'control': {'continue_on_error': False},
            'context': {'switches': [], 'correlation_id': 'c'},
            'actions': [{'action': 'call_b', 'body': {}}],
        },
    )

    assert len(CLIENTS) == 2 and response.actions  # B is not routed in this server: only its client matters here
    assert CLIENTS[-1]._deadline is None
    assert server._request_deadline is None


# ----- end to end over Redis -----

B_STARTED = threading.Event()
B_RELEASE = threading.Event()


def slow(settings: Any) -> Any:
    def run(request: EnrichedActionRequest) -> ActionResponse:
        B_STARTED.set()
        B_RELEASE.wait(timeout=15)
        return ActionResponse(action=request.action, body={'slow': True})

    return run


def timed_call(settings: Any) -> Any:
    def run(request: EnrichedActionRequest) -> ActionResponse:
        assert request.client is not None
        started = time.monotonic()
        try:
            request.client.call_action('slow_b', 'slow', {})
            outcome = {'error': None, 'message': ''}
        except PySOATransportError as error:
            outcome = {'error': type(error).__name__, 'message': str(error)}
        return ActionResponse(action=request.action, body={**outcome, 'waited': time.monotonic() - started})

    return run


class SlowBServer(Server):
    service_name = 'slow_b'
    action_class_map = {'slow': slow}


class CallingAServer(Server):
    service_name = 'calling_a'
    action_class_map = {'timed_call': timed_call}


def redis_transport(redis_url: str, side: str, receive_timeout: int) -> dict[str, Any]:
    return {
        'path': f'pysoa.common.transport.redis_gateway.{side}:Redis{side.capitalize()}Transport',
        'kwargs': {
            'backend_type': 'redis.standard',
            'backend_layer_kwargs': {'hosts': [redis_url]},
            'receive_timeout_in_seconds': receive_timeout,
        },
    }


def test_over_redis_a_downstream_call_gives_up_at_the_callers_deadline_not_at_its_own_timeout(
    redis_url: str,
) -> None:
    B_STARTED.clear()
    B_RELEASE.clear()
    b_server = SlowBServer(ServerSettings({'transport': redis_transport(redis_url, 'server', 1)}))
    a_server = CallingAServer(
        ServerSettings(
            {
                'transport': redis_transport(redis_url, 'server', 1),
                # B's own receive timeout is 10 seconds: A's deadline must end the wait long before.
                'client_routing': {'slow_b': {'transport': redis_transport(redis_url, 'client', 10)}},
            },
        ),
    )
    workers = [threading.Thread(target=server.run, daemon=True) for server in (a_server, b_server)]
    for worker in workers:
        worker.start()
    try:
        client = Client({'calling_a': {'transport': redis_transport(redis_url, 'client', 10)}})
        started = time.monotonic()
        # A's request expires in 2 seconds; the response is awaited for longer, to see what A answers.
        request_id = client.send_request(
            'calling_a', [{'action': 'timed_call', 'body': {}}], message_expiry_in_seconds=2
        )
        [(response_id, response)] = list(client.get_all_responses('calling_a', receive_timeout_in_seconds=10))
        elapsed = time.monotonic() - started
    finally:
        B_RELEASE.set()
        a_server.request_shutdown()
        b_server.request_shutdown()
        for worker in workers:
            worker.join(timeout=15)

    assert not any(worker.is_alive() for worker in workers)
    assert B_STARTED.is_set()  # B got A's request in time and was still working on it
    assert response_id == request_id
    assert response.errors == []
    body = response.actions[0].body
    assert body['error'] == 'MessageReceiveTimeout'
    assert 'deadline of the request being served' in body['message']
    assert 1 < body['waited'] < 3
    assert elapsed < 5


def test_the_redis_transport_defaults_are_known_so_a_deadline_never_lengthens_a_wait() -> None:
    # Under a distant deadline a call that names no timeout must keep the transport's own (5 s, 60 s), not wait
    # until the deadline: the handler reads them from the Redis transport (`core`, as in 1.x).
    from pysoa.client.handler import ServiceHandler
    from pysoa.client.settings import ClientSettings

    settings = {'transport': redis_transport('redis://localhost:1/0', 'client', 7)}
    handler = ServiceHandler('b', ClientSettings(settings))
    assert handler._default_receive_timeout == 7
    assert handler._default_expiry == 60

    settings['transport']['kwargs']['message_expiry_in_seconds'] = 15
    assert ServiceHandler('b', ClientSettings(settings))._default_expiry == 15
