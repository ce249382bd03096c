"""Action: request validation, custom validation, run, response validation."""

import asyncio
import concurrent.futures
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.constants import ERROR_CODE_INVALID, ERROR_CODE_MISSING, ERROR_CODE_SERVER_ERROR, ERROR_CODE_UNKNOWN
from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse
from pysoa.schema import fields
from pysoa.server import Server
from pysoa.server.action import Action
from pysoa.server.action.base import Action as BaseModuleAction
from pysoa.server.errors import ActionError, ResponseValidationError
from pysoa.server.types import ActionInterface, EnrichedActionRequest


class EchoAction(Action):
    request_schema = fields.Dictionary(
        {
            'name': fields.UnicodeString(),
            'items': fields.List(fields.Dictionary({'count': fields.Integer()})),
        },
        optional_keys=('items',),
    )
    response_schema = fields.Dictionary({'greeting': fields.UnicodeString()})

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.result: Any = None
        self.calls: list[str] = []

    def validate(self, request: EnrichedActionRequest) -> None:
        self.calls.append('validate')
        if request.body['name'] == 'forbidden':
            raise ActionError([Error(code='FORBIDDEN', message='Not that name', field='name')])

    def run(self, request: EnrichedActionRequest) -> Any:
        self.calls.append('run')
        return self.result if self.result is not None else {'greeting': f'hello {request.body["name"]}'}


def _request(body: Any) -> EnrichedActionRequest:
    return EnrichedActionRequest(action='echo', body=body, switches=None)


def test_same_class_at_both_import_paths() -> None:
    assert Action is BaseModuleAction
    assert issubclass(Action, ActionInterface)


def test_valid_request_returns_action_response() -> None:
    action = EchoAction({'some': 'settings'})
    response = action(_request({'name': 'Ada'}))
    assert isinstance(response, ActionResponse)
    assert response.action == 'echo'
    assert response.body == {'greeting': 'hello Ada'}
    assert response.errors == []
    assert action.calls == ['validate', 'run']
    assert action.settings == {'some': 'settings'}


def test_invalid_request_gives_caller_field_errors_and_does_not_run() -> None:
    action = EchoAction()
    with pytest.raises(ActionError) as info:
        action(_request({'items': [{'count': 'x'}], 'extra': 1}))
    errors = info.value.errors
    assert sorted((e.code, e.field) for e in errors) == sorted(
        [(ERROR_CODE_MISSING, 'name'), (ERROR_CODE_INVALID, 'items.0.count'), (ERROR_CODE_UNKNOWN, None)]
    )
    assert all(e.is_caller_error for e in errors)
    assert Error('UNKNOWN', 'Extra keys present: extra', is_caller_error=True) in errors
    assert action.calls == []


def test_validate_hook_can_refuse_before_run() -> None:
    action = EchoAction()
    with pytest.raises(ActionError) as info:
        action(_request({'name': 'forbidden'}))
    assert info.value.errors == [Error(code='FORBIDDEN', message='Not that name', field='name', is_caller_error=True)]
    assert action.calls == ['validate']


def test_no_request_schema_accepts_anything() -> None:
    action = EchoAction()
    action.request_schema = None
    assert action(_request({'name': 123})).body == {'greeting': 'hello 123'}


def test_invalid_response_raises_response_validation_error() -> None:
    action = EchoAction()
    action.result = {'greeting': 42}
    with pytest.raises(ResponseValidationError) as info:
        action(_request({'name': 'Ada'}))
    assert info.value.action == 'echo'
    assert [e.pointer for e in info.value.errors] == ['greeting']
    assert 'echo had an invalid response' in str(info.value)


def test_none_body_becomes_empty_dict_without_response_schema() -> None:
    class Nothing(Action):
        def run(self, request: EnrichedActionRequest) -> None:
            return None

    response = Nothing()(_request({}))
    assert response.body == {}
    assert response.action == 'echo'


def test_none_body_with_response_schema_is_invalid() -> None:
    action = EchoAction()
    action.run = lambda request: None  # type: ignore[method-assign]
    with pytest.raises(ResponseValidationError):
        action(_request({'name': 'Ada'}))


def test_run_is_abstract() -> None:
    class Incomplete(Action):
        pass

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


def test_exceptions_from_run_propagate() -> None:
    class Broken(Action):
        def run(self, request: EnrichedActionRequest) -> None:
            raise ValueError('boom')

    with pytest.raises(ValueError, match='boom'):
        Broken()(_request({}))


class AsyncAction(Action):
    response_schema = fields.Dictionary({'doubled': fields.Integer()})

    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {'doubled': request.body['n'] * 2}


def test_async_run_without_a_coroutine_runner() -> None:
    assert AsyncAction()(_request({'n': 21})).body == {'doubled': 42}


def test_async_run_uses_the_request_coroutine_runner() -> None:
    used: list[Any] = []

    def run_coroutine(coroutine: Any) -> 'concurrent.futures.Future[Any]':
        used.append(coroutine)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(asyncio.run(coroutine))
        return future

    request = EnrichedActionRequest(action='double', body={'n': 4}, run_coroutine=run_coroutine)
    assert AsyncAction()(request).body == {'doubled': 8}
    assert len(used) == 1


def test_async_run_result_is_validated() -> None:
    with pytest.raises(ResponseValidationError):
        AsyncAction()(_request({'n': 'x'}))


class EchoServer(Server):
    service_name = 'echo_service'
    action_class_map = {'echo': EchoAction}


def _local_client(server_class: type[Server]) -> Client:
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': server_class, 'server_settings': {}},
    }
    return Client({server_class.service_name: {'transport': transport}})


def test_through_a_server() -> None:
    client = _local_client(EchoServer)
    assert client.call_action('echo_service', 'echo', {'name': 'Ada'}).body == {'greeting': 'hello Ada'}

    response = client.call_actions('echo_service', [{'action': 'echo', 'body': {'name': 7}}], raise_action_errors=False)
    assert response.actions[0].errors == [Error('INVALID', 'Not a unicode string', field='name', is_caller_error=True)]

    response = client.call_actions(
        'echo_service', [{'action': 'echo', 'body': {'name': 'forbidden'}}], raise_action_errors=False
    )
    assert [(e.code, e.field) for e in response.actions[0].errors] == [('FORBIDDEN', 'name')]


def test_invalid_response_through_a_server_is_a_server_error() -> None:
    class BadEcho(EchoAction):
        def run(self, request: EnrichedActionRequest) -> Any:
            return {'greeting': None}

    class BadServer(Server):
        service_name = 'bad_service'
        action_class_map = {'echo': BadEcho}

    response = _local_client(BadServer).call_actions(
        'bad_service', [{'action': 'echo', 'body': {'name': 'Ada'}}], raise_action_errors=False
    )
    [error] = response.actions[0].errors
    assert error.code == ERROR_CODE_SERVER_ERROR
    assert not error.is_caller_error
    assert 'echo had an invalid response' in error.message


def test_async_action_through_a_server() -> None:
    class AsyncServer(Server):
        service_name = 'async_service'
        action_class_map = {'double': AsyncAction}

    assert _local_client(AsyncServer).call_action('async_service', 'double', {'n': 5}).body == {'doubled': 10}
