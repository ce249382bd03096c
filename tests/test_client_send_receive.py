"""The client calling a real in-process server through `LocalClientTransport`: requests, responses, errors."""

import types
import uuid
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.errors import CallActionError, CallJobError, ImproperlyConfigured, PySOAClientError
from pysoa.client.handler import ServiceHandler
from pysoa.common.errors import Error
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import MessageReceiveError, MessageReceiveTimeout, MessageSendError
from pysoa.common.transport.local import LocalClientTransport
from pysoa.common.types import ActionRequest, ActionResponse, JobResponse
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.errors import ActionError, JobError
from pysoa.server.server import Server
from pysoa.test.mock_transport import MockClientTransport, MockRequest, MockResponse, mock_transport_settings
from pysoa.version import __version_info__

LOCAL = 'pysoa.common.transport.local:LocalClientTransport'


class EchoAction(Action):
    """Answers with what it received, so tests can see the request as the server saw it."""

    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: Any) -> dict[str, Any]:
        return {'body': dict(request.body), 'context': dict(request.context), 'control': dict(request.control)}


class FailAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        raise ActionError(errors=[Error(code='NOPE', message='Not today', field='x')])


class JobFailAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        raise JobError(errors=[Error(code='BAD_JOB', message='Bad job')])


class MeddlingAction(Action):
    """Edits its request in place, as careless actions do."""

    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: Any) -> dict[str, Any]:
        request.body['added'] = True
        request.body['items'].append('added')
        return {}


class EchoServer(Server):
    service_name = 'echo'
    action_class_map = {'echo': EchoAction, 'fail': FailAction, 'job_fail': JobFailAction, 'meddle': MeddlingAction}


class OtherServer(Server):
    service_name = 'other'
    action_class_map = {'echo': EchoAction}


def local(server_class: type[Server], **extra: Any) -> dict[str, Any]:
    return {'transport': {'path': LOCAL, 'kwargs': {'server_class': server_class, 'server_settings': {}}}, **extra}


@pytest.fixture
def client() -> Client:
    return Client({'echo': local(EchoServer), 'other': local(OtherServer)})


class RecordingLocalTransport(LocalClientTransport):
    """The local transport, also recording what the client handed it."""

    sent: list[tuple[int, dict[str, Any], dict[str, Any], int | None]]

    def send_request_message(
        self,
        request_id: int,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: int | None = None,
    ) -> None:
        if not hasattr(self, 'sent'):
            self.sent = []
        self.sent.append((request_id, dict(meta), body, message_expiry_in_seconds))
        super().send_request_message(request_id, meta, body, message_expiry_in_seconds)


def send_error(request: MockRequest) -> MockResponse:
    raise MessageSendError('cannot send')


def receive_error(request: MockRequest) -> MockResponse:
    return MessageReceiveError('cannot receive')


# Calling one action


def test_call_action_returns_the_action_response(client: Client) -> None:
    response = client.call_action('echo', 'echo', {'a': 1})

    assert isinstance(response, ActionResponse)
    assert response.action == 'echo'
    assert response.errors == []
    assert response.body['body'] == {'a': 1}


def test_context_gets_a_fresh_uuid_correlation_id_and_empty_switches(client: Client) -> None:
    first = client.call_action('echo', 'echo').body['context']
    second = client.call_action('echo', 'echo').body['context']

    assert uuid.UUID(hex=first['correlation_id']).version == 4
    assert len(first['correlation_id']) == 32
    assert first['correlation_id'] != second['correlation_id']
    assert first['switches'] == []


def test_context_merges_switches_and_extra_keys_without_touching_the_callers_dicts() -> None:
    base_context = {'switches': [1, 2], 'caller': 'web', 'correlation_id': 'base-cid'}
    client = Client({'echo': local(EchoServer)}, context=base_context)
    extra = {'switches': [7], 'user': 'ann'}

    context = client.call_action('echo', 'echo', switches={2, 3}, context=extra).body['context']

    assert sorted(context['switches']) == [1, 2, 3, 7]
    assert context['caller'] == 'web'
    assert context['user'] == 'ann'
    assert context['correlation_id'] == 'base-cid'
    assert extra == {'switches': [7], 'user': 'ann'}
    assert base_context == {'switches': [1, 2], 'caller': 'web', 'correlation_id': 'base-cid'}


def test_an_explicit_correlation_id_wins_over_the_clients(client: Client) -> None:
    client.context = {'correlation_id': 'from-client'}

    context = client.call_action('echo', 'echo', correlation_id='explicit').body['context']

    assert context['correlation_id'] == 'explicit'


def test_control_header_carries_defaults_timeout_and_extras(client: Client) -> None:
    plain = client.call_action('echo', 'echo').body['control']
    timed = client.call_action('echo', 'echo', timeout=7, control_extra={'x': 'y'}).body['control']
    own_timeout = client.call_action('echo', 'echo', timeout=7, control_extra={'timeout': 3}).body['control']

    assert plain == {'continue_on_error': False, 'suppress_response': False}
    assert timed == {'continue_on_error': False, 'suppress_response': False, 'x': 'y', 'timeout': 7}
    assert own_timeout['timeout'] == 3


def test_meta_carries_the_client_version_and_the_expiry_reaches_the_transport() -> None:
    client = Client(
        {
            'echo': {
                'transport': {
                    'path': f'{__name__}:RecordingLocalTransport',
                    'kwargs': {'server_class': EchoServer, 'server_settings': {}},
                },
            }
        }
    )

    client.call_action('echo', 'echo', {'a': 1}, timeout=9)

    transport = client._get_handler('echo').transport
    assert isinstance(transport, RecordingLocalTransport)
    request_id, meta, body, expiry = transport.sent[0]
    assert meta['client_version'] == list(__version_info__)
    assert expiry == 9
    assert body['actions'] == [{'action': 'echo', 'body': {'a': 1}}]
    assert set(body) == {'control', 'context', 'actions'}


def test_action_errors_raise_call_action_error_unless_asked_not_to(client: Client) -> None:
    with pytest.raises(CallActionError) as error_info:
        client.call_action('echo', 'fail')

    assert [a.action for a in error_info.value.actions] == ['fail']
    assert error_info.value.actions[0].errors[0].code == 'NOPE'
    assert 'fail: ' in str(error_info.value)

    response = client.call_action('echo', 'fail', raise_action_errors=False)
    assert response.errors[0].field == 'x'


def test_job_errors_raise_call_job_error_or_come_back_as_the_error_list(client: Client) -> None:
    with pytest.raises(Client.JobError) as error_info:
        client.call_action('echo', 'job_fail')
    assert error_info.value.errors == [Error(code='BAD_JOB', message='Bad job')]
    assert isinstance(error_info.value, CallJobError)
    assert str(error_info.value).startswith('Error executing job:')

    errors: Any = client.call_action('echo', 'job_fail', raise_job_errors=False)
    assert errors == [Error(code='BAD_JOB', message='Bad job')]


def test_unknown_action_is_an_action_error(client: Client) -> None:
    with pytest.raises(CallActionError) as error_info:
        client.call_action('echo', 'no_such_action')

    assert error_info.value.actions[0].errors[0].code == 'UNKNOWN'


@pytest.mark.parametrize(
    ('method', 'args', 'kwargs'),
    [
        ('call_action', ('echo', 'echo'), {'suppress_response': True}),
        ('call_action', ('echo', 'echo'), {'continue_on_error': True}),
        ('call_actions', ('echo', [{'action': 'echo'}]), {'suppress_response': True}),
        ('call_actions_parallel', ('echo', [{'action': 'echo'}]), {'continue_on_error': True}),
        ('call_jobs_parallel', ([],), {'suppress_response': True}),
        ('call_action_future', ('echo', 'echo'), {'bogus': 1}),
        ('call_actions_future', ('echo', []), {'bogus': 1}),
        ('call_actions_parallel_future', ('echo', []), {'bogus': 1}),
        ('call_jobs_parallel_future', ([],), {'bogus': 1}),
        ('send_request', ('echo', []), {'timeout': 1}),
        ('get_all_responses', ('echo',), {'timeout': 1}),
    ],
)
def test_unexpected_keywords_are_type_errors(client: Client, method: str, args: tuple[Any, ...], kwargs: Any) -> None:
    with pytest.raises(TypeError):
        getattr(client, method)(*args, **kwargs)


def test_unknown_service_is_improperly_configured(client: Client) -> None:
    with pytest.raises(ImproperlyConfigured, match='Unrecognized service name "nobody"'):
        client.call_action('nobody', 'echo')
    assert Client.ImproperlyConfigured is ImproperlyConfigured


def test_non_str_service_name_is_a_value_error(client: Client) -> None:
    with pytest.raises(ValueError):
        client.call_action(b'echo', 'echo')  # type: ignore[arg-type]


# Several actions, several jobs


def test_call_actions_stops_at_the_first_error_unless_continue_on_error(client: Client) -> None:
    actions: list[Any] = [
        {'action': 'echo', 'body': {'n': 1}},
        ActionRequest('fail'),
        {'action': 'echo', 'body': {'n': 3}},
    ]

    stopped = client.call_actions('echo', actions, raise_action_errors=False)
    continued = client.call_actions('echo', actions, raise_action_errors=False, continue_on_error=True)

    assert isinstance(stopped, JobResponse)
    assert [a.action for a in stopped.actions] == ['echo', 'fail']
    assert [a.action for a in continued.actions] == ['echo', 'fail', 'echo']
    assert continued.actions[2].body['body'] == {'n': 3}
    assert continued.actions[0].body['control']['continue_on_error'] is True


def test_call_actions_parallel_returns_a_generator_in_request_order(client: Client) -> None:
    responses = client.call_actions_parallel('echo', [{'action': 'echo', 'body': {'n': n}} for n in range(5)])

    assert isinstance(responses, types.GeneratorType)
    assert [r.body['body']['n'] for r in responses] == [0, 1, 2, 3, 4]


def test_call_actions_parallel_raises_before_iteration(client: Client) -> None:
    with pytest.raises(CallActionError):
        client.call_actions_parallel('echo', [{'action': 'echo'}, {'action': 'fail'}])


def test_call_actions_parallel_can_return_job_errors(client: Client) -> None:
    responses: list[Any] = list(
        client.call_actions_parallel(
            'echo',
            [{'action': 'echo'}, {'action': 'job_fail'}],
            raise_job_errors=False,
        )
    )

    assert responses[1] == [Error(code='BAD_JOB', message='Bad job')]


def test_call_jobs_parallel_across_services_keeps_job_order(client: Client) -> None:
    jobs: list[dict[str, Any]] = [
        {'service_name': 'other', 'actions': [{'action': 'echo', 'body': {'job': 0}}]},
        {'service_name': 'echo', 'actions': [{'action': 'echo', 'body': {'job': 1}}, {'action': 'echo'}]},
        {'service_name': 'other', 'actions': [{'action': 'echo', 'body': {'job': 2}}]},
    ]

    responses = client.call_jobs_parallel(jobs, switches=[4], correlation_id='cid')

    assert [r.actions[0].body['body'].get('job') for r in responses] == [0, 1, 2]
    assert len(responses[1].actions) == 2
    assert all(r.actions[0].body['context']['switches'] == [4] for r in responses)
    assert all(r.actions[0].body['context']['correlation_id'] == 'cid' for r in responses)


def test_call_jobs_parallel_raises_job_errors_in_order(client: Client) -> None:
    with pytest.raises(CallJobError):
        client.call_jobs_parallel(
            [
                {'service_name': 'echo', 'actions': [{'action': 'echo'}]},
                {'service_name': 'echo', 'actions': [{'action': 'job_fail'}]},
            ]
        )


def test_transport_errors_propagate_or_are_returned_in_place() -> None:
    client = Client(
        {
            'echo': local(EchoServer),
            'send_fails': mock_transport_settings(send_error),
            'receive_fails': mock_transport_settings(receive_error),
        }
    )
    jobs = [
        {'service_name': 'echo', 'actions': [{'action': 'echo', 'body': {'n': 0}}]},
        {'service_name': 'send_fails', 'actions': [{'action': 'x'}]},
        {'service_name': 'receive_fails', 'actions': [{'action': 'x'}]},
        {'service_name': 'echo', 'actions': [{'action': 'echo', 'body': {'n': 3}}]},
        {'service_name': 'receive_fails', 'actions': [{'action': 'x'}]},
    ]

    with pytest.raises(MessageSendError):
        client.call_jobs_parallel(jobs)
    with pytest.raises(MessageReceiveError):
        client.call_jobs_parallel(jobs[2:])

    results: list[Any] = client.call_jobs_parallel(jobs, catch_transport_errors=True)

    assert results[0].actions[0].body['body'] == {'n': 0}
    assert isinstance(results[1], MessageSendError)
    assert isinstance(results[2], MessageReceiveError)
    assert results[3].actions[0].body['body'] == {'n': 3}
    assert results[4] is results[2]
    send_fails = client._get_handler('send_fails').transport
    assert isinstance(send_fails, MockClientTransport)
    assert send_fails.received == []  # nothing was sent, so nothing was received


# Low-level send and receive


def test_send_request_then_get_all_responses(client: Client) -> None:
    assert list(client.get_all_responses('echo')) == []

    first = client.send_request('echo', [{'action': 'echo', 'body': {'n': 1}}])
    second = client.send_request('echo', [ActionRequest('echo', {'n': 2})], switches=[5])
    suppressed = client.send_request('echo', [{'action': 'echo'}], suppress_response=True)

    responses = dict(client.get_all_responses('echo'))

    assert second == first + 1
    assert suppressed not in responses
    assert responses[first].actions[0].body['body'] == {'n': 1}
    assert responses[second].actions[0].body['context']['switches'] == [5]


def test_responses_are_matched_to_requests_whatever_order_they_are_collected_in(client: Client) -> None:
    futures = [client.call_action_future('echo', 'echo', {'n': n}) for n in range(3)]
    raw_request_id = client.send_request('echo', [{'action': 'echo', 'body': {'n': 'raw'}}])

    assert futures[2].result().body['body'] == {'n': 2}
    assert futures[0].result().body['body'] == {'n': 0}
    assert futures[1].result().body['body'] == {'n': 1}
    # A response collected while waiting for another one is still handed out by get_all_responses.
    assert [request_id for request_id, _ in client.get_all_responses('echo')] == [raw_request_id]


def test_a_response_that_never_comes_is_a_client_error(client: Client) -> None:
    with pytest.raises(PySOAClientError, match='no response outstanding'):
        client.call_action('echo', 'echo', control_extra={'suppress_response': True})


# Futures


def test_future_keeps_its_response(client: Client) -> None:
    future = client.call_actions_future('echo', [{'action': 'echo'}])

    assert future.running() and not future.done()
    response = future.result()
    assert future.done() and not future.running()
    assert future.result() is response
    assert future.exception() is None


def test_future_keeps_its_exception(client: Client) -> None:
    future = client.call_action_future('echo', 'fail')

    error = future.exception()
    assert isinstance(error, CallActionError)
    with pytest.raises(CallActionError) as error_info:
        future.result()
    assert error_info.value is error
    assert future.done()


class FlakyTransport(LocalClientTransport):
    """Times out on the first receive, then behaves."""

    timeouts_left = 1

    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        if self.timeouts_left:
            self.timeouts_left -= 1
            raise MessageReceiveTimeout('not yet')
        return super().receive_response_message(receive_timeout_in_seconds)


@pytest.mark.parametrize('method', ['call_action_future', 'call_jobs_parallel_future'])
def test_future_does_not_keep_a_receive_timeout(method: str) -> None:
    client = Client(
        {
            'echo': {
                'transport': {
                    'path': f'{__name__}:FlakyTransport',
                    'kwargs': {'server_class': EchoServer, 'server_settings': {}},
                },
            }
        }
    )
    if method == 'call_action_future':
        future: Any = client.call_action_future('echo', 'echo', {'n': 1})
    else:
        future = client.call_jobs_parallel_future([{'service_name': 'echo', 'actions': [{'action': 'echo'}]}])

    with pytest.raises(MessageReceiveTimeout):
        future.result(timeout=1)
    assert future.running()

    assert future.result() is not None
    assert future.done()


# Handlers


def test_handler_transport_and_settings_are_built_once_per_service(client: Client) -> None:
    client.call_action('echo', 'echo')
    handler = client.handlers['echo']
    transport = handler.transport
    client.call_action('echo', 'echo')
    client.call_actions_parallel('echo', [{'action': 'echo'}])

    assert client.handlers['echo'] is handler
    assert handler.transport is transport
    assert isinstance(handler, ServiceHandler)
    assert 'other' not in client.handlers


def test_validated_settings_objects_are_reused() -> None:
    first = Client({'echo': local(EchoServer)})
    second = Client(first.settings)

    assert second.settings['echo'] is first.settings['echo']
    assert second.call_action('echo', 'echo', {'a': 1}).body['body'] == {'a': 1}


def test_clients_built_from_the_same_settings_objects_share_handlers() -> None:
    first = Client({'echo': local(EchoServer)})
    second = Client(first.settings)
    third = Client(first.settings)
    unshared = Client({'echo': local(EchoServer)})

    assert second._get_handler('echo') is third._get_handler('echo')
    assert first._get_handler('echo') is not second._get_handler('echo')
    assert unshared._get_handler('echo') is not second._get_handler('echo')


class CountingLocalTransport(LocalClientTransport):
    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


class RelayAction(Action):
    """Calls `echo` through the client the server gives each job."""

    def run(self, request: Any) -> dict[str, Any]:
        return {'relayed': request.client.call_action('echo', 'echo', {'hop': 2}).body}


class RelayServer(Server):
    service_name = 'relay'
    action_class_map = {'relay': RelayAction}


def test_a_servers_per_job_clients_reuse_one_downstream_transport() -> None:
    CountingLocalTransport.made = 0
    routing = {
        'echo': {
            'transport': {
                'path': f'{__name__}:CountingLocalTransport',
                'kwargs': {'server_class': EchoServer, 'server_settings': {}},
            },
        },
    }
    client = Client(
        {
            'relay': {
                'transport': {
                    'path': LOCAL,
                    'kwargs': {
                        'server_class': RelayServer,
                        'server_settings': {
                            'client_routing': routing,
                        },
                    },
                }
            }
        },
        context={'switches': [6]},
    )

    responses = [client.call_action('relay', 'relay', correlation_id=f'c{n}') for n in range(3)]

    assert CountingLocalTransport.made == 1
    for n, response in enumerate(responses):
        downstream = response.body['relayed']
        assert downstream['body'] == {'hop': 2}
        assert downstream['context']['correlation_id'] == f'c{n}'
        assert downstream['context']['switches'] == [6]
        assert downstream['context']['calling_service'] == 'relay'


def test_an_in_process_service_cannot_edit_the_callers_request_data(client: Client) -> None:
    body = {'items': ['mine'], 'nested': {'tuple': (1, 2)}}

    client.call_action('echo', 'meddle', body)

    assert body == {'items': ['mine'], 'nested': {'tuple': (1, 2)}}
