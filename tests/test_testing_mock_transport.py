"""pysoa.test.mock_transport: a client whose calls a function answers, and a server fed by the test."""

import threading
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.errors import CallActionError
from pysoa.common.errors import Error
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import (
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
)
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.mock_transport import (
    MockClientTransport,
    MockRequest,
    MockResponse,
    MockServerTransport,
    SentResponse,
    mock_transport_settings,
)


def echo_handler(request: MockRequest) -> dict[str, Any]:
    return {'actions': [{'action': a['action'], 'body': {'echo': a.get('body', {})}} for a in request.body['actions']]}


def client_for(handler: Any, **kwargs: Any) -> Client:
    return Client({'svc': mock_transport_settings(handler, **kwargs)})


def transport_of(client: Client) -> MockClientTransport:
    transport = client._get_handler('svc').transport
    assert isinstance(transport, MockClientTransport)
    return transport


# The client side


def test_the_handler_answers_each_call_with_a_job_response_dict() -> None:
    client = client_for(echo_handler)

    response = client.call_action('svc', 'hello', {'name': 'ada'})

    assert response.action == 'hello'
    assert response.body == {'echo': {'name': 'ada'}}


def test_the_handler_sees_the_request_as_sent() -> None:
    client = client_for(echo_handler)

    client.call_actions('svc', [{'action': 'a', 'body': {'n': 1}}, {'action': 'b'}], switches=[3], timeout=7)

    [request] = transport_of(client).sent
    assert request.service_name == 'svc'
    assert [a['action'] for a in request.body['actions']] == ['a', 'b']
    assert request.body['context']['switches'] == [3]
    assert 'client_version' in request.meta
    assert request.message_expiry_in_seconds == 7
    assert transport_of(client).received == [ReceivedMessage(request.request_id, request.meta, echo_handler(request))]


def test_a_job_response_object_is_turned_into_its_dict() -> None:
    def handler(request: MockRequest) -> JobResponse:
        return JobResponse(actions=[ActionResponse(action='get', errors=[Error(code='NOT_FOUND', message='no')])])

    with pytest.raises(CallActionError) as caught:
        client_for(handler).call_action('svc', 'get')

    assert caught.value.actions[0].errors[0].code == 'NOT_FOUND'


def test_a_received_message_is_delivered_as_it_is() -> None:
    client = client_for(lambda request: ReceivedMessage(request.request_id, {}, echo_handler(request)))

    assert client.call_action('svc', 'x', {'a': 1}).body == {'echo': {'a': 1}}


def test_an_exception_the_handler_raises_fails_the_send_and_nothing_is_received() -> None:
    def handler(request: MockRequest) -> MockResponse:
        raise MessageSendError('cannot send')

    client = client_for(handler)

    with pytest.raises(MessageSendError, match='cannot send'):
        client.call_action('svc', 'x')
    assert len(transport_of(client).sent) == 1
    assert transport_of(client).received == []


def test_an_exception_the_handler_returns_is_raised_by_the_receive() -> None:
    client = client_for(lambda request: MessageReceiveError('cannot receive'))

    request_id = client.send_request('svc', [{'action': 'x'}])

    assert transport_of(client).sent[0].request_id == request_id
    with pytest.raises(MessageReceiveError, match='cannot receive'):
        list(client.get_all_responses('svc'))


def test_no_response_times_out_every_receive_and_says_how_long_it_waited() -> None:
    client = client_for(lambda request: None, receive_timeout_in_seconds=3)

    with pytest.raises(MessageReceiveTimeout, match=r'^No message received for service svc \(waited 3 seconds'):
        client.call_action('svc', 'x')
    with pytest.raises(MessageReceiveTimeout, match=r'waited 2 seconds'):
        client.call_action('svc', 'x', timeout=2)


def test_responses_that_come_are_received_past_one_that_never_comes() -> None:
    client = client_for(
        lambda request: None if request.body['actions'][0]['action'] == 'lost' else echo_handler(request)
    )
    client.send_request('svc', [{'action': 'lost'}])

    assert client.call_action('svc', 'found').body == {'echo': {}}


def test_with_nothing_outstanding_a_receive_returns_the_empty_message() -> None:
    client = client_for(echo_handler)

    assert list(client.get_all_responses('svc')) == []
    assert transport_of(client).received == [ReceivedMessage(None, None, None)]


def test_a_response_goes_back_to_the_thread_that_sent_the_request() -> None:
    client = client_for(lambda request: {'actions': [{'action': 'x', 'body': {'thread': threading.get_ident()}}]})
    other_thread = threading.Thread(target=client.send_request, args=('svc', [{'action': 'x'}]))
    other_thread.start()
    other_thread.join()

    assert list(client.get_all_responses('svc')) == []
    assert client.call_action('svc', 'x').body == {'thread': threading.get_ident()}


def test_the_transport_needs_a_handler() -> None:
    with pytest.raises(ValueError, match='needs a handler'):
        MockClientTransport('svc')


# The server side


class Greet(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'greeting': f'hello {request.body["name"]}'}


class GreetServer(Server):
    service_name = 'greet'
    action_class_map = {'greet': Greet}


def make_server() -> tuple[GreetServer, MockServerTransport]:
    server = GreetServer(ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}}))
    assert isinstance(server.transport, MockServerTransport)
    return server, server.transport


def job(name: str) -> dict[str, Any]:
    return {
        'control': {'continue_on_error': False},
        'context': {'switches': [], 'correlation_id': 'c'},
        'actions': [{'action': 'greet', 'body': {'name': name}}],
    }


def test_the_server_serves_the_queued_requests_and_its_responses_are_kept() -> None:
    server, transport = make_server()
    transport.incoming.append(ReceivedMessage(4, {'client_version': [2, 0, 0]}, job('ada')))

    server.handle_next_request()

    [(request_id, meta, body)] = transport.sent
    assert request_id == 4
    assert meta == {'client_version': [2, 0, 0]}
    assert body['actions'][0]['body'] == {'greeting': 'hello ada'}
    assert transport.acknowledged == [4]
    assert transport.events == ['send', 'ack']


def test_a_queued_exception_is_raised_by_its_receive_and_an_empty_queue_times_out() -> None:
    transport = MockServerTransport('greet')
    transport.incoming.append(MessageReceiveError('gone'))

    with pytest.raises(MessageReceiveError, match='gone'):
        transport.receive_request_message()
    with pytest.raises(MessageReceiveTimeout):
        transport.receive_request_message()


def test_when_idle_makes_the_requests_once_the_queue_is_empty() -> None:
    server, transport = make_server()
    names = iter(['bob', 'cy'])
    transport.when_idle = lambda: ReceivedMessage(1, {}, job(next(names)))

    server.handle_next_request()
    server.handle_next_request()

    assert [body['actions'][0]['body']['greeting'] for _, _, body in transport.sent] == ['hello bob', 'hello cy']


def test_on_response_sees_each_response_and_may_fail_the_send() -> None:
    server, transport = make_server()
    seen: list[SentResponse] = []

    def refuse(message: SentResponse) -> None:
        seen.append(message)
        raise InvalidMessageError('no reply queue')  # the server logs it and goes on

    transport.on_response = refuse
    transport.incoming.append(ReceivedMessage(9, {}, job('dee')))

    server.handle_next_request()

    assert [message.request_id for message in seen] == [9]
    assert transport.sent == []
    assert transport.events[0] == 'send'
