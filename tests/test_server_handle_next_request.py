"""Server.handle_next_request: one message from the transport to the response, the ack and the logs."""

import logging
from typing import Any

import pytest

from pysoa.common.constants import ERROR_CODE_RESPONSE_NOT_SERIALIZABLE, ERROR_CODE_RESPONSE_TOO_LARGE
from pysoa.common.serializer.errors import InvalidField
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import MessageTooLarge
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.mock_transport import MockServerTransport


class Greet(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'greeting': f'hello {request.body.get("name", "you")}', 'password': 'hunter2'}


class HandleServer(Server):
    service_name = 'handle_service'
    action_class_map = {'greet': Greet}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooks: list[str] = []

    def perform_pre_request_actions(self) -> None:
        super().perform_pre_request_actions()
        self.hooks.append('pre')

    def perform_post_request_actions(self) -> None:
        super().perform_post_request_actions()
        self.hooks.append('post')

    def perform_idle_actions(self) -> None:
        super().perform_idle_actions()
        self.hooks.append('idle')


def make_server(**settings: Any) -> tuple[HandleServer, MockServerTransport]:
    server = HandleServer(
        ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}, **settings}),
    )
    assert isinstance(server.transport, MockServerTransport)
    return server, server.transport


def job(*actions: str, suppress: bool = False, **body: Any) -> dict[str, Any]:
    control: dict[str, Any] = {'continue_on_error': False}
    if suppress:
        control['suppress_response'] = True
    return {
        'control': control,
        'context': {'switches': [], 'correlation_id': 'corr'},
        'actions': [{'action': a, 'body': dict(body)} for a in actions],
    }


NEW_CLIENT = {'client_version': [2, 0, 0], 'reply_to': 'service.x.abc!000000000001'}


def test_request_gets_response_then_ack_with_meta_echoed() -> None:
    server, transport = make_server()
    transport.incoming.append(ReceivedMessage(12, dict(NEW_CLIENT), job('greet', name='ann')))

    server.handle_next_request()

    [(request_id, meta, body)] = transport.sent
    assert request_id == 12
    assert meta == NEW_CLIENT
    assert body == {
        'errors': [],
        'context': {'correlation_id': 'corr'},
        'actions': [
            {'action': 'greet', 'errors': [], 'body': {'greeting': 'hello ann', 'password': 'hunter2'}},
        ],
    }
    assert transport.events == ['send', 'ack']
    assert transport.acknowledged == [12]
    assert server.hooks == ['pre', 'post']


def test_empty_request_gets_three_job_errors() -> None:
    server, transport = make_server()
    transport.incoming.append(ReceivedMessage(0, {}, {}))

    server.handle_next_request()

    [(_, _, body)] = transport.sent
    assert {e['field'] for e in body['errors']} == {'actions', 'control', 'context'}


def test_body_that_is_not_a_dict_gets_an_error_response() -> None:
    server, transport = make_server()
    transport.incoming.append(ReceivedMessage(3, dict(NEW_CLIENT), ['not', 'a', 'dict']))  # type: ignore[arg-type]

    server.handle_next_request()

    [(_, _, body)] = transport.sent
    assert body['errors'][0]['code'] == 'INVALID'
    assert transport.acknowledged == [3]


def test_message_without_request_id_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    server, transport = make_server()
    transport.incoming.append(ReceivedMessage(None, dict(NEW_CLIENT), job('greet')))

    with caplog.at_level(logging.ERROR, logger='pysoa.server'):
        server.handle_next_request()

    assert transport.sent == []
    assert transport.acknowledged == [None]
    assert any('no request_id' in r.getMessage() for r in caplog.records)


def test_old_client_does_not_receive_is_caller_error() -> None:
    server, transport = make_server()
    transport.incoming.append(ReceivedMessage(1, {'client_version': [0, 65, 0]}, job('missing')))
    transport.incoming.append(ReceivedMessage(2, {'client_version': [0, 70, 0]}, job('missing')))

    server.handle_next_request()
    server.handle_next_request()

    old_error = transport.sent[0][2]['actions'][0]['errors'][0]
    new_error = transport.sent[1][2]['actions'][0]['errors'][0]
    assert 'is_caller_error' not in old_error
    assert list(new_error) == [
        'code',
        'message',
        'field',
        'traceback',
        'variables',
        'denied_permissions',
        'is_caller_error',
    ]
    assert new_error['is_caller_error'] is True


def test_suppressed_response_is_not_sent_but_is_acknowledged() -> None:
    server, transport = make_server()
    transport.incoming.append(ReceivedMessage(5, dict(NEW_CLIENT), job('greet', suppress=True)))

    server.handle_next_request()

    assert transport.sent == []
    assert transport.acknowledged == [5]


def test_response_too_large_is_replaced_by_an_error_response() -> None:
    server, transport = make_server()
    transport.send_failures.append(MessageTooLarge(999_999))
    transport.incoming.append(ReceivedMessage(6, dict(NEW_CLIENT), job('greet')))

    server.handle_next_request()

    [(_, _, body)] = transport.sent
    assert [e['code'] for e in body['errors']] == [ERROR_CODE_RESPONSE_TOO_LARGE]
    assert body['actions'] == []
    assert transport.acknowledged == [6]


def test_unserializable_response_is_replaced_by_an_error_response() -> None:
    server, transport = make_server()
    transport.send_failures.append(InvalidField('cannot encode a set'))
    transport.incoming.append(ReceivedMessage(7, dict(NEW_CLIENT), job('greet')))

    server.handle_next_request()

    [(_, _, body)] = transport.sent
    assert [e['code'] for e in body['errors']] == [ERROR_CODE_RESPONSE_NOT_SERIALIZABLE]


def test_receive_timeout_runs_idle_actions_and_sends_nothing() -> None:
    server, transport = make_server()

    server.handle_next_request()

    assert server.hooks == ['idle']
    assert transport.sent == []


def test_exception_in_pre_request_hook_becomes_an_error_response() -> None:
    server, transport = make_server()

    def broken() -> None:
        raise RuntimeError('database is gone')

    server.perform_pre_request_actions = broken  # type: ignore[method-assign]
    transport.incoming.append(ReceivedMessage(8, dict(NEW_CLIENT), job('greet')))

    server.handle_next_request()

    [(_, _, body)] = transport.sent
    assert body['errors'][0]['message'] == 'Internal server error: database is gone'


def test_requests_and_responses_are_logged_censored_at_info_with_the_1x_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, transport = make_server(extra_fields_to_redact={'name'}, request_log_success_level='INFO')
    transport.incoming.append(ReceivedMessage(9, dict(NEW_CLIENT), job('greet', name='secret-name')))

    with caplog.at_level(logging.INFO, logger='pysoa.server.job'):
        server.handle_next_request()

    messages = [r.getMessage() for r in caplog.records if r.name == 'pysoa.server.job']
    assert len(messages) == 3
    assert messages[0].startswith('Job request: ')
    assert messages[1].startswith('Job response: ')
    assert messages[2].startswith('Job done: ')
    assert 'secret-name' not in messages[0]
    assert 'hunter2' not in messages[1]


def test_failed_request_is_logged_at_the_error_level_even_when_success_level_is_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, transport = make_server(request_log_success_level='DEBUG', request_log_error_level='WARNING')
    transport.incoming.append(ReceivedMessage(10, dict(NEW_CLIENT), job('greet')))
    transport.incoming.append(ReceivedMessage(11, dict(NEW_CLIENT), job('unknown_action')))

    with caplog.at_level(logging.INFO, logger='pysoa.server.job'):
        server.handle_next_request()
        server.handle_next_request()

    records = [(r.levelno, r.getMessage()[:13]) for r in caplog.records if r.name == 'pysoa.server.job']
    assert records == [
        (logging.INFO, 'Job done: ser'),
        (logging.WARNING, 'Job request: '),
        (logging.WARNING, 'Job response:'),
        (logging.INFO, 'Job done: ser'),
    ]


def test_response_bodies_are_made_plain() -> None:
    class Weird(Action):
        def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
            return {'tuple': (1, 2), 'set': {3}, 'nested': {'inner': (4,)}, 'list': [5, (6,)]}

    class WeirdServer(Server):
        service_name = 'weird'
        action_class_map = {'weird': Weird}

    server = WeirdServer(ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}}))
    transport = server.transport
    assert isinstance(transport, MockServerTransport)
    transport.incoming.append(ReceivedMessage(1, dict(NEW_CLIENT), job('weird')))

    server.handle_next_request()

    body = transport.sent[0][2]['actions'][0]['body']
    assert body == {'tuple': [1, 2], 'set': [3], 'nested': {'inner': [4]}, 'list': [5, [6]]}


def test_odd_context_keys_do_not_break_the_logging_context() -> None:
    server, transport = make_server()
    request = job('greet')
    request['context'].update({'request_id': 'from-context', 7: 'int key'})
    transport.incoming.append(ReceivedMessage(13, dict(NEW_CLIENT), request))

    server.handle_next_request()

    [(_, _, body)] = transport.sent
    assert body['errors'] == [] and body['actions'][0]['errors'] == []
