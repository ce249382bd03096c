"""LocalClientTransport: a client and the service's server in one thread."""

from typing import Any
from unittest import mock

import pytest

from pysoa.client.client import Client
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.local import LocalClientTransport, LocalServerTransport
from pysoa.common.types import ActionResponse
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest


class Add(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'sum': request.body['a'] + request.body['b']}


class AddServer(Server):
    service_name = 'adder'
    action_class_map = {'add': Add}


SETTINGS_FOR_PATH: dict[str, Any] = {'middleware': []}
NOT_A_DICT = 'just text'


def make_transport(**kwargs: Any) -> LocalClientTransport:
    kwargs.setdefault('server_class', AddServer)
    kwargs.setdefault('server_settings', {})
    return LocalClientTransport('adder', noop_metrics, **kwargs)


def test_client_calls_the_server_in_process() -> None:
    client = Client(
        {
            'adder': {
                'transport': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {'server_class': f'{__name__}:AddServer', 'server_settings': {}},
                },
            },
        },
    )

    response = client.call_action('adder', 'add', {'a': 2, 'b': 3})

    assert response.body == {'sum': 5}


def test_send_handles_the_request_before_returning() -> None:
    transport = make_transport()
    job = {
        'control': {'continue_on_error': False},
        'context': {'switches': [], 'correlation_id': 'c'},
        'actions': [{'action': 'add', 'body': {'a': 1, 'b': 1}}],
    }

    transport.send_request_message(4, {'client_version': [2, 0, 0]}, job)
    request_id, meta, body = transport.receive_response_message()

    assert (request_id, meta) == (4, {'client_version': [2, 0, 0]})
    assert body is not None and body['actions'][0]['body'] == {'sum': 2}
    assert transport.receive_response_message() == ReceivedMessage(None, None, None)
    assert transport._current_request is None


def test_server_uses_the_client_transport_and_was_set_up() -> None:
    with mock.patch.object(AddServer, 'setup') as setup:
        transport = make_transport()

    assert transport.server.transport is transport
    setup.assert_called_once_with()


def test_server_class_and_settings_may_be_import_paths() -> None:
    transport = make_transport(server_class=f'{__name__}:AddServer', server_settings=f'{__name__}:SETTINGS_FOR_PATH')

    assert isinstance(transport.server, AddServer)
    assert SETTINGS_FOR_PATH == {'middleware': []}  # not modified


def test_unresolvable_paths_and_wrong_types_are_refused() -> None:
    with pytest.raises(ImportError):
        make_transport(server_class='no.such.module:Server')
    with pytest.raises(TypeError):
        make_transport(server_class=str)
    with pytest.raises(TypeError):
        make_transport(server_settings=f'{__name__}:NOT_A_DICT')
    with pytest.raises(TypeError):
        make_transport(server_settings=123)


def test_service_name_must_match_the_server() -> None:
    with pytest.raises(ValueError, match='adder'):
        LocalClientTransport('other', noop_metrics, AddServer, {})


def test_receiving_twice_is_an_error() -> None:
    transport = make_transport()

    with pytest.raises(RuntimeError):
        transport.receive_request_message()


def test_the_server_transport_stub_refuses_use() -> None:
    stub = LocalServerTransport('adder')

    with pytest.raises(TypeError):
        stub.receive_request_message()
    with pytest.raises(TypeError):
        stub.send_response_message(1, {}, {})


def test_response_is_an_action_response_through_the_client() -> None:
    client = Client(
        {
            'adder': {
                'transport': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {'server_class': AddServer, 'server_settings': {}},
                }
            }
        },
    )

    assert isinstance(client.call_action('adder', 'add', {'a': 0, 'b': 0}), ActionResponse)
