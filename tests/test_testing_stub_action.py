"""pysoa.test.stub_service: `stub_action` in all its forms, and the stub client, transport and server."""

import asyncio
import pathlib
from typing import Any

import pytest

from pysoa.client.client import Client
from pysoa.common.errors import Error
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.types import ActionRequest, ActionResponse, JobResponse
from pysoa.server.action.base import Action
from pysoa.server.errors import ActionError, JobError
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.compatibility import mock
from pysoa.test.factories import ActionFactory
from pysoa.test.server import ServerTestCase
from pysoa.test.stub_service import StubActionMock, StubClient, StubClientTransport, StubServer, stub_action

real_calls: list[dict[str, Any]] = []


def lucky_number() -> int:
    return 13


class CountingAction(Action):
    """A real action that records each call, so tests can tell which real actions ran."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        real_calls.append(request.body)
        return {'value': lucky_number()}


class RealServer(Server):
    service_name = 'real'
    action_class_map = {'count': CountingAction, 'fixed': ActionFactory(body={'value': 0})}


STUB_SERVICES = {
    'cat': {
        'transport': {
            'path': 'pysoa.test.stub_service:StubClientTransport',
            'kwargs': {'action_map': {'meow': {'body': {'type': 'squeak'}}}},
        },
    },
}


@pytest.fixture
def client() -> Client:
    real_calls.clear()
    return Client(
        {
            'real': {
                'transport': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {'server_class': RealServer, 'server_settings': {}},
                },
            },
            **STUB_SERVICES,
        },
    )


def bodies(response: JobResponse) -> list[dict[str, Any]]:
    return [a.body for a in response.actions]


# --- activation and restoration ---


def test_context_manager_stubs_and_restores_the_client() -> None:
    original = Client.__dict__['send_request'], Client.__dict__['get_all_responses']
    stub = stub_action('real', 'count', body={'value': 1})
    with stub as first, stub as second:
        assert first is second
        assert isinstance(first, StubActionMock)
        assert stub.is_local
    assert (Client.__dict__['send_request'], Client.__dict__['get_all_responses']) == original
    assert not stub.is_local


def test_context_manager_answers_with_the_body(client: Client) -> None:
    with stub_action('real', 'count', body={'value': 1}) as stub:
        response = client.call_action('real', 'count', {'x': 1})
    assert response.body == {'value': 1}
    assert real_calls == []
    assert stub.call_count == 1
    assert stub.call_body == {'x': 1}
    stub.assert_called_once_with({'x': 1})
    assert client.call_action('real', 'count').body == {'value': 13}


def test_call_body_and_bodies_before_and_after_calls(client: Client) -> None:
    with stub_action('real', 'count') as stub:
        assert stub.call_body is None
        assert stub.call_bodies == ()
        client.call_action('real', 'count')
        client.call_action('real', 'count', {'a': 'b'})
    assert stub.call_body == {'a': 'b'}
    assert stub.call_bodies == ({}, {'a': 'b'})


def test_start_and_stop(client: Client) -> None:
    stubber = stub_action('real', 'count')
    stub = stubber.start()
    try:
        stub.return_value = {'what about': 'this'}
        assert client.call_action('real', 'count').body == {'what about': 'this'}
    finally:
        stubber.stop()
    assert client.call_action('real', 'count').body == {'value': 13}


def test_stubs_can_stop_in_any_order(client: Client) -> None:
    first = stub_action('real', 'count', body={'n': 1})
    second = stub_action('real', 'fixed', body={'n': 2})
    first.start()
    second.start()
    first.stop()
    assert bodies(client.call_actions('real', [{'action': 'count'}, {'action': 'fixed'}])) == [{'value': 13}, {'n': 2}]
    second.stop()
    assert client.call_action('real', 'fixed').body == {'value': 0}


def test_the_latest_stub_of_an_action_wins(client: Client) -> None:
    with stub_action('real', 'count', body={'n': 'outer'}), stub_action('real', 'count', body={'n': 'inner'}):
        assert client.call_action('real', 'count').body == {'n': 'inner'}


def test_names_must_be_strings() -> None:
    with pytest.raises(ValueError):
        stub_action(b'real', 'count')  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        stub_action('real', None)  # type: ignore[arg-type]


# --- what the stub answers ---


def test_a_service_absent_from_the_client_config_can_be_stubbed(client: Client) -> None:
    with stub_action('elsewhere', 'thing', body={'ok': True}):
        assert client.call_action('elsewhere', 'thing').body == {'ok': True}
    with pytest.raises(client.ImproperlyConfigured):
        client.call_action('elsewhere', 'thing')


def test_without_a_body_the_response_is_empty(client: Client) -> None:
    with stub_action('real', 'count'):
        assert client.call_action('real', 'count').body == {}


def test_errors_raise_call_action_error(client: Client) -> None:
    errors = [{'code': 'BAD_FOO', 'field': 'foo', 'message': 'Nope'}]
    with stub_action('real', 'count', errors=errors, body={'ignored': True}):
        with pytest.raises(Client.CallActionError) as raised:
            client.call_action('real', 'count')
    (error,) = raised.value.actions[0].errors
    assert (error.code, error.field, error.message) == ('BAD_FOO', 'foo', 'Nope')


def test_side_effect_callback_receives_the_body(client: Client) -> None:
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        return {'echo': body}

    with stub_action('real', 'count', side_effect=answer):
        assert client.call_action('real', 'count', {'id': 2}).body == {'echo': {'id': 2}}


def test_a_dict_side_effect_is_the_answer(client: Client) -> None:
    with stub_action('real', 'count', side_effect={'value': 'from side effect'}) as stub:
        assert client.call_action('real', 'count').body == {'value': 'from side effect'}
        assert client.call_action('real', 'count').body == {'value': 'from side effect'}
    assert stub.call_count == 2


def test_successive_side_effects(client: Client) -> None:
    with stub_action('real', 'count') as stub:
        stub.side_effect = (
            {'first': 1},
            ActionResponse(action='count', body={'second': 2}),
            ActionError(errors=[Error(code='THIRD', message='third')]),
        )
        assert client.call_action('real', 'count').body == {'first': 1}
        assert client.call_action('real', 'count').body == {'second': 2}
        with pytest.raises(Client.CallActionError) as raised:
            client.call_action('real', 'count')
    assert raised.value.actions[0].errors[0].code == 'THIRD'


@pytest.mark.parametrize(
    'answer',
    [
        JobError(errors=[Error(code='BAD_JOB', message='bad job')]),
        JobResponse(errors=[Error(code='BAD_JOB', message='bad job')]),
    ],
)
def test_job_errors_raise_job_error(client: Client, answer: Any) -> None:
    with stub_action('real', 'count', side_effect=[answer]):
        with pytest.raises(Client.JobError) as raised:
            client.call_action('real', 'count')
    assert [(e.code, e.field) for e in raised.value.errors] == [('BAD_JOB', None)]


def test_a_transport_error_is_raised_when_the_response_is_collected(client: Client) -> None:
    with stub_action('real', 'count', side_effect=MessageReceiveTimeout('too slow')):
        request_id = client.send_request('real', [{'action': 'count'}])
        with pytest.raises(MessageReceiveTimeout):
            list(client.get_all_responses('real'))
    assert request_id < 0


def test_other_exceptions_propagate_from_the_call(client: Client) -> None:
    with stub_action('real', 'count', side_effect=KeyError('broken stub')):
        with pytest.raises(KeyError):
            client.call_action('real', 'count')


# --- stubbed and real actions in one job ---


def test_mixed_job_keeps_request_order(client: Client) -> None:
    with stub_action('real', 'fixed') as stub:
        stub.side_effect = ({'stub': 1}, {'stub': 2})
        response = client.call_actions(
            'real',
            [{'action': 'fixed'}, {'action': 'count', 'body': {'n': 1}}, ActionRequest('fixed'), {'action': 'count'}],
        )
    assert bodies(response) == [{'stub': 1}, {'value': 13}, {'stub': 2}, {'value': 13}]
    assert [a.action for a in response.actions] == ['fixed', 'count', 'fixed', 'count']
    assert real_calls == [{'n': 1}, {}]


def test_mixed_job_stops_at_a_stubbed_error_without_running_later_actions(client: Client) -> None:
    with stub_action('real', 'fixed', errors=[{'code': 'INVALID_BAR', 'message': 'bad'}]) as stub:
        response = client.call_actions(
            'real',
            [{'action': 'count', 'body': {'n': 1}}, {'action': 'fixed'}, {'action': 'count', 'body': {'n': 2}}],
            raise_action_errors=False,
        )
    assert len(response.actions) == 2
    assert response.actions[1].errors[0].code == 'INVALID_BAR'
    assert real_calls == [{'n': 1}]
    assert stub.called


def test_mixed_job_continues_on_error_when_asked(client: Client) -> None:
    with stub_action('real', 'fixed', errors=[{'code': 'MISSING_BAZ', 'field': 'id', 'message': 'missing'}]):
        response = client.call_actions(
            'real',
            [{'action': 'count'}, {'action': 'fixed'}, {'action': 'count'}],
            raise_action_errors=False,
            continue_on_error=True,
        )
    assert len(response.actions) == 3
    assert response.actions[1].errors[0].field == 'id'
    assert len(real_calls) == 2


def test_mixed_job_stops_at_a_real_error(client: Client) -> None:
    with stub_action('real', 'fixed', body={'stub': True}):
        response = client.call_actions(
            'real',
            [{'action': 'fixed'}, {'action': 'no_such_action'}, {'action': 'fixed'}],
            raise_action_errors=False,
        )
    assert len(response.actions) == 2
    assert response.actions[0].body == {'stub': True}
    assert response.actions[1].errors[0].code == 'UNKNOWN'


def test_mixed_job_with_a_stubbed_job_error(client: Client) -> None:
    with stub_action('real', 'fixed', side_effect=JobError(errors=[Error(code='NOPE', message='no')])):
        response = client.call_actions(
            'real',
            [{'action': 'count'}, {'action': 'fixed'}, {'action': 'count'}],
            raise_job_errors=False,
        )
    assert [e.code for e in response.errors] == ['NOPE']
    assert bodies(response) == [{'value': 13}]
    assert len(real_calls) == 1


@mock.patch(f'{__name__}.lucky_number', return_value=7)
def test_mixed_parallel_jobs_over_several_services(lucky: mock.MagicMock, client: Client) -> None:
    with stub_action('real', 'fixed', body={'stub': 'fixed'}), stub_action('ghost', 'boo', body={'scary': True}):
        responses = client.call_jobs_parallel(
            [
                {'service_name': 'real', 'actions': [{'action': 'count'}, {'action': 'fixed'}]},
                {'service_name': 'cat', 'actions': [{'action': 'meow'}]},
                {'service_name': 'ghost', 'actions': [{'action': 'boo'}]},
                {'service_name': 'real', 'actions': [{'action': 'fixed'}]},
                {'service_name': 'real', 'actions': [{'action': 'missing'}]},
            ],
            raise_action_errors=False,
        )
    assert [bodies(r) for r in responses[:4]] == [
        [{'value': 7}, {'stub': 'fixed'}],
        [{'type': 'squeak'}],
        [{'scary': True}],
        [{'stub': 'fixed'}],
    ]
    assert responses[4].actions[0].errors[0].code == 'UNKNOWN'


def test_parallel_actions_with_job_errors_not_raised(client: Client) -> None:
    failing = JobError(errors=[Error(code='BAD_JOB', message='bad')])
    with stub_action('real', 'count', side_effect=failing), stub_action('real', 'fixed', body={'ok': 1}) as fixed:
        responses = client.call_jobs_parallel(
            [
                {'service_name': 'real', 'actions': [{'action': 'count', 'body': {'a': 'b'}}]},
                {'service_name': 'real', 'actions': [{'action': 'fixed', 'body': {'c': 'd'}}]},
            ],
            raise_job_errors=False,
        )
    assert responses[0].actions == []
    assert [e.code for e in responses[0].errors] == ['BAD_JOB']
    assert bodies(responses[1]) == [{'ok': 1}]
    fixed.assert_called_once_with({'c': 'd'})


def test_call_actions_parallel(client: Client) -> None:
    with stub_action('real', 'fixed', body={'stub': 1}):
        responses = list(client.call_actions_parallel('real', [{'action': 'fixed'}, {'action': 'count'}]))
    assert [r.body for r in responses] == [{'stub': 1}, {'value': 13}]


def test_send_request_and_get_all_responses(client: Client) -> None:
    with stub_action('real', 'fixed') as stub:
        stub.side_effect = ({'one': 1}, {'two': 2}, {'three': 3})
        mixed_id = client.send_request('real', [{'action': 'fixed'}, {'action': 'count'}, {'action': 'fixed'}])
        stub_id = client.send_request('real', [{'action': 'fixed'}])
        real_id = client.send_request('real', [{'action': 'count'}])
        responses = dict(client.get_all_responses('real'))
    assert len({mixed_id, stub_id, real_id}) == 3
    assert bodies(responses[mixed_id]) == [{'one': 1}, {'value': 13}, {'two': 2}]
    assert bodies(responses[stub_id]) == [{'three': 3}]
    assert bodies(responses[real_id]) == [{'value': 13}]
    assert list(client.get_all_responses('real')) == []


def test_futures(client: Client) -> None:
    with stub_action('real', 'fixed', body={'later': True}):
        first = client.call_action_future('real', 'fixed')
        second = client.call_actions_future('real', [{'action': 'count'}, {'action': 'fixed'}])
        assert bodies(second.result()) == [{'value': 13}, {'later': True}]
        assert first.result().body == {'later': True}


def test_suppressed_responses_are_not_kept(client: Client) -> None:
    with stub_action('real', 'fixed') as stub:
        client.send_request('real', [{'action': 'fixed'}], suppress_response=True)
        assert stub.call_count == 1
        assert list(client.get_all_responses('real')) == []


# --- as a decorator ---


@stub_action('real', 'fixed', body={'decorated': True})
def test_decorated_function_receives_the_mock(stub: StubActionMock, client: Client, tmp_path: pathlib.Path) -> None:
    assert client.call_action('real', 'fixed').body == {'decorated': True}
    stub.assert_called_once_with({})
    assert tmp_path.is_dir()


@mock.patch(f'{__name__}.lucky_number', return_value=3)
@stub_action('real', 'fixed')
@stub_action('real', 'count', body={'inner': True})
def test_decorators_stack_with_mock_patch(
    count: StubActionMock,
    fixed: StubActionMock,
    lucky: mock.MagicMock,
    client: Client,
) -> None:
    assert count.call_body is None
    assert isinstance(lucky, mock.MagicMock)
    assert client.call_action('real', 'count').body == {'inner': True}
    assert fixed._mock_name == 'real.fixed'
    assert lucky_number() == 3


def test_decorated_function_stub_is_active_only_during_the_call(client: Client) -> None:
    seen = []

    @stub_action('real', 'count', body={'during': True})
    def during(stub: StubActionMock) -> None:
        seen.append(client.call_action('real', 'count').body)

    during()
    during()
    assert seen == [{'during': True}, {'during': True}]
    assert client.call_action('real', 'count').body == {'value': 13}


def test_decorated_coroutine_function(client: Client) -> None:
    @stub_action('real', 'count', body={'async': True})
    async def run(stub: StubActionMock) -> dict[str, Any]:
        await asyncio.sleep(0)
        return client.call_action('real', 'count').body

    assert asyncio.run(run()) == {'async': True}
    assert client.call_action('real', 'count').body == {'value': 13}


def test_decorated_function_stops_the_stub_when_it_raises(client: Client) -> None:
    @stub_action('real', 'count', body={'x': 1})
    def broken(stub: StubActionMock) -> None:
        raise RuntimeError('test failure')

    with pytest.raises(RuntimeError):
        broken()
    assert client.call_action('real', 'count').body == {'value': 13}


@stub_action('real', 'fixed', body={'class': 'wide'})
@mock.patch(f'{__name__}.lucky_number', return_value=42)
class TestDecoratedClass(ServerTestCase):
    server_class = RealServer
    server_settings: dict[str, Any] = {}

    def test_class_stub_and_patch(self, lucky: mock.MagicMock, fixed: StubActionMock) -> None:
        assert self.call_action('count').body == {'value': 42}
        assert self.call_action('fixed', {'how': 'now'}).body == {'class': 'wide'}
        fixed.assert_called_once_with({'how': 'now'})

    @stub_action('cow', 'moo', body={'eats': 'grass'})
    def test_with_another_stub(self, moo: StubActionMock, lucky: mock.MagicMock, fixed: StubActionMock) -> None:
        assert self.client.call_action('cow', 'moo').body == {'eats': 'grass'}
        assert fixed.call_count == 0
        moo.assert_called_once_with({})

    def test_each_test_gets_a_fresh_stub(self, lucky: mock.MagicMock, fixed: StubActionMock) -> None:
        assert fixed.call_count == 0
        self.call_action('fixed')
        assert fixed.call_count == 1


# --- StubClient, StubClientTransport, StubServer ---


def test_stub_client_from_a_service_action_map() -> None:
    client = StubClient(
        service_action_map={
            'foo': {'get_foo': {'body': {'foo': {'id': 1}}}},
            'bar': {'get_bar': {'errors': [{'code': 'invalid', 'message': 'Invalid bar.id', 'field': 'id'}]}},
        },
    )
    assert client.call_action('foo', 'get_foo').body == {'foo': {'id': 1}}
    with pytest.raises(client.CallActionError) as raised:
        client.call_action('bar', 'get_bar')
    (error,) = raised.value.actions[0].errors
    assert (error.code, error.message, error.field) == ('invalid', 'Invalid bar.id', 'id')


def test_stub_client_stub_action_adds_services_and_actions() -> None:
    client = StubClient()
    client.stub_action('svc', 'one', body={'n': 1})
    client.stub_action('svc', 'two', errors=[{'code': 'NOT_AUTHORIZED', 'message': 'no', 'denied_permissions': ['x']}])
    client.stub_action('svc', 'three', body={'n': 3}, errors=[{'code': 'INVALID', 'message': 'errors win'}])
    assert client.call_action('svc', 'one').body == {'n': 1}
    with pytest.raises(client.CallActionError) as raised:
        client.call_action('svc', 'two')
    assert raised.value.actions[0].errors[0].denied_permissions == ['x']
    with pytest.raises(client.CallActionError) as raised:
        client.call_action('svc', 'three')
    assert raised.value.actions[0].errors[0].code == 'INVALID'
    client.stub_action('svc', 'one', body={'n': 'replaced'})
    assert client.call_action('svc', 'one').body == {'n': 'replaced'}


def test_stub_client_multiple_requests() -> None:
    client = StubClient()
    client.stub_action('svc', 'a', body={'a': 1})
    client.stub_action('svc', 'b', body={'b': 2})
    first = client.send_request('svc', [{'action': 'a'}, {'action': 'b'}])
    second = client.send_request('svc', [{'action': 'b'}])
    responses = dict(client.get_all_responses('svc'))
    assert bodies(responses[first]) == [{'a': 1}, {'b': 2}]
    assert bodies(responses[second]) == [{'b': 2}]


def test_stub_clients_do_not_share_stubbed_actions() -> None:
    first, second = StubClient(), StubClient()
    first.stub_action('svc', 'a', body={'who': 'first'})
    second.stub_action('svc', 'a', body={'who': 'second'})
    assert first.call_action('svc', 'a').body == {'who': 'first'}
    assert second.call_action('svc', 'a').body == {'who': 'second'}


def test_stub_client_transport_builds_a_stub_server() -> None:
    transport = StubClientTransport('big-things', action_map={'get': {'body': {'thing': 1}}})
    server = transport.server
    assert isinstance(server, StubServer)
    assert (server.service_name, type(server).__name__) == ('big-things', 'BigThingsServer')
    transport.stub_action('put', body={'put': True})
    assert sorted(server.action_class_map) == ['get', 'put']
    other = StubClientTransport('big-things')
    assert list(other.server.action_class_map) == []


def test_stub_client_transport_settings_are_validated() -> None:
    bad = {'svc': {'transport': {'path': 'pysoa.test.stub_service:StubClientTransport', 'kwargs': {'nope': 1}}}}
    with pytest.raises(Exception, match='nope'):
        Client(bad)


# --- the main use: a service under test whose action calls another service ---


class ProfileAction(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        assert request.client is not None
        user = request.client.call_action('user', 'get_user', {'id': request.body['id']}).body
        return {'profile': f'{user["name"]} (via {request.client.context["calling_service"]})'}


class ProfileServer(Server):
    service_name = 'profile'
    action_class_map = {'get_profile': ProfileAction}


class TestServiceCallingAStubbedService(ServerTestCase):
    server_class = ProfileServer
    server_settings: dict[str, Any] = {}

    @stub_action('user', 'get_user', body={'name': 'Ada'})
    def test_downstream_call_is_stubbed(self, get_user: StubActionMock) -> None:
        assert self.call_action('get_profile', {'id': 5}).body == {'profile': 'Ada (via profile)'}
        get_user.assert_called_once_with({'id': 5})

    def test_downstream_errors_reach_the_caller(self) -> None:
        with stub_action('user', 'get_user', errors=[{'code': 'NOT_FOUND', 'message': 'no such user'}]):
            errors = self.assertActionRunsWithAndReturnErrors('get_profile', {'id': 5})
        assert [e.code for e in errors] == ['SERVER_ERROR']
