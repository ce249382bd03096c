"""Server.process_job and execute_job: validation, dispatch, middleware, errors and context."""

from typing import Any

import pytest

from pysoa.common.constants import (
    ERROR_CODE_INVALID,
    ERROR_CODE_MISSING,
    ERROR_CODE_SERVER_ERROR,
    ERROR_CODE_UNKNOWN,
)
from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.schema import fields
from pysoa.server.action.base import Action
from pysoa.server.errors import ActionError, JobError
from pysoa.server.middleware import ServerMiddleware
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest, RequestSwitchSet

LOCAL_SERVER_TRANSPORT = {'path': 'pysoa.common.transport.local:LocalServerTransport'}


class Echo(Action):
    """Returns its body, plus what it saw of the request."""

    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {
            'body': request.body,
            'switches': sorted(request.switches),
            'client_context': dict(request.client.context) if request.client else None,
            'context': dict(request.context),
        }


class Strict(Action):
    request_schema = fields.Dictionary({'user': fields.Dictionary({'id': fields.Integer()})})
    response_schema = fields.Dictionary({'ok': fields.Boolean()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'ok': 'not a boolean'}


class Explode(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ValueError('the widget broke')


class Refuse(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ActionError([Error(code='NOPE', message='Refused', field='thing')])


class AbortJob(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise JobError([Error(code='BAD_JOB', message='You are a bad job')])


class CallLocal(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'echoed': request.call_local_action('echo', {'x': 1}).body['body']}


class ProcessJobServer(Server):
    service_name = 'test_service'
    service_version = '7.8.9'
    action_class_map = {
        'echo': Echo,
        'strict': Strict,
        'explode': Explode,
        'refuse': Refuse,
        'abort_job': AbortJob,
        'call_local': CallLocal,
    }


class RecordingMiddleware(ServerMiddleware):
    def __init__(self) -> None:
        self.events: list[str] = []

    def job(self, process_job: Any) -> Any:
        def handler(request: EnrichedJobRequest) -> JobResponse:
            assert isinstance(request, EnrichedJobRequest)
            self.events.append('job-in')
            response: JobResponse = process_job(request)
            if request.control.get('mark_job'):
                response.actions[0].body['job_middleware'] = True
            self.events.append('job-out')
            return response

        return handler

    def action(self, process_action: Any) -> Any:
        def handler(request: EnrichedActionRequest) -> ActionResponse:
            self.events.append(f'action-in:{request.action}')
            response: ActionResponse = process_action(request)
            if request.body.get('mark_action'):
                response.body['action_middleware'] = True
            return response

        return handler


class FailingJobMiddleware(ServerMiddleware):
    def job(self, process_job: Any) -> Any:
        def handler(request: EnrichedJobRequest) -> JobResponse:
            raise RuntimeError('middleware failed')

        return handler


class FailingActionMiddleware(ServerMiddleware):
    def action(self, process_action: Any) -> Any:
        def handler(request: EnrichedActionRequest) -> ActionResponse:
            raise KeyError('missing piece')

        return handler


def make_server(*middleware: dict[str, Any]) -> ProcessJobServer:
    settings = ServerSettings({'transport': LOCAL_SERVER_TRANSPORT, 'middleware': list(middleware)})
    return ProcessJobServer(settings)


def make_job(*actions: tuple[str, dict[str, Any]], continue_on_error: bool = False, **context: Any) -> dict[str, Any]:
    return {
        'control': {'continue_on_error': continue_on_error},
        'context': {'switches': [], 'correlation_id': 'cid-1', **context},
        'actions': [{'action': name, 'body': body} for name, body in actions],
    }


def test_valid_job_runs_the_action_and_echoes_the_correlation_id() -> None:
    response = make_server().process_job(make_job(('echo', {'a': 1}), switches=[3, 5]))

    assert response.errors == []
    assert response.context == {'correlation_id': 'cid-1'}
    assert response.actions[0].action == 'echo'
    assert response.actions[0].body['body'] == {'a': 1}
    assert response.actions[0].body['switches'] == [3, 5]


@pytest.mark.parametrize(
    ('mutate', 'field', 'code'),
    [
        (lambda job: job['context'].pop('switches'), 'context.switches', ERROR_CODE_MISSING),
        (lambda job: job['control'].pop('continue_on_error'), 'control.continue_on_error', ERROR_CODE_MISSING),
        (lambda job: job.update(actions=[]), 'actions', ERROR_CODE_INVALID),
        (lambda job: job['actions'][0].update(body='text'), 'actions.0.body', ERROR_CODE_INVALID),
        (lambda job: job['context'].update(switches=['x']), 'context.switches.0', ERROR_CODE_INVALID),
    ],
)
def test_invalid_job_gets_job_errors_naming_the_field(mutate: Any, field: str, code: str) -> None:
    job = make_job(('echo', {}))
    mutate(job)

    response = make_server().process_job(job)

    assert [(e.code, e.field, e.is_caller_error) for e in response.errors] == [(code, field, False)]
    assert response.actions == []


def test_unknown_top_level_key_is_named_in_the_error() -> None:
    job = make_job(('echo', {}))
    job['extra'] = 1

    [error] = make_server().process_job(job).errors

    assert error.code == ERROR_CODE_UNKNOWN
    assert 'extra' in error.message


def test_job_that_is_not_a_dict_gets_an_error() -> None:
    response = make_server().process_job('not a job')  # type: ignore[arg-type]

    assert len(response.errors) == 1
    assert response.errors[0].code == ERROR_CODE_INVALID


def test_empty_job_names_all_three_missing_sections() -> None:
    response = make_server().process_job({})

    assert {e.field for e in response.errors} == {'actions', 'control', 'context'}


def test_unknown_action_is_a_caller_error_on_field_action() -> None:
    response = make_server().process_job(make_job(('nope', {})))

    [error] = response.actions[0].errors
    assert (error.code, error.field, error.is_caller_error) == (ERROR_CODE_UNKNOWN, 'action', True)
    assert 'nope' in error.message


def test_body_validation_errors_have_dotted_fields_and_are_caller_errors() -> None:
    response = make_server().process_job(make_job(('strict', {'user': {'id': 'seven'}})))

    [error] = response.actions[0].errors
    assert (error.code, error.field, error.is_caller_error) == (ERROR_CODE_INVALID, 'user.id', True)


def test_response_that_fails_its_schema_is_a_server_error() -> None:
    response = make_server().process_job(make_job(('strict', {'user': {'id': 7}})))

    [error] = response.actions[0].errors
    assert error.code == ERROR_CODE_SERVER_ERROR
    assert error.is_caller_error is False


def test_exception_in_action_is_a_server_error_with_message_and_traceback() -> None:
    response = make_server().process_job(make_job(('explode', {})))

    [error] = response.actions[0].errors
    assert error.code == ERROR_CODE_SERVER_ERROR
    assert error.message == 'Internal server error: the widget broke'
    assert error.traceback is not None and 'ValueError: the widget broke' in error.traceback
    assert error.is_caller_error is False


def test_action_error_is_returned_as_the_action_errors() -> None:
    response = make_server().process_job(make_job(('refuse', {})))

    [error] = response.actions[0].errors
    assert (error.code, error.field, error.is_caller_error) == ('NOPE', 'thing', True)


def test_job_error_from_an_action_answers_for_the_whole_job() -> None:
    response = make_server().process_job(make_job(('echo', {}), ('abort_job', {})))

    assert response.errors == [Error(code='BAD_JOB', message='You are a bad job')]
    assert response.actions == []


def test_job_stops_at_the_first_error_unless_continue_on_error() -> None:
    actions = (('echo', {'n': 1}), ('refuse', {}), ('echo', {'n': 2}))

    stopped = make_server().process_job(make_job(*actions))
    continued = make_server().process_job(make_job(*actions, continue_on_error=True))

    assert [a.action for a in stopped.actions] == ['echo', 'refuse']
    assert [a.action for a in continued.actions] == ['echo', 'refuse', 'echo']
    assert continued.actions[2].body['body'] == {'n': 2}


def test_client_carries_the_incoming_context_with_calling_service() -> None:
    response = make_server().process_job(make_job(('echo', {}), caller='the-caller', custom='value'))

    assert response.actions[0].body['client_context'] == {
        'switches': [],
        'correlation_id': 'cid-1',
        'caller': 'the-caller',
        'custom': 'value',
        'calling_service': 'test_service',
    }


def test_middleware_wraps_jobs_and_actions_in_order() -> None:
    server = make_server({'path': f'{__name__}:RecordingMiddleware'})
    job = make_job(('echo', {'mark_action': True}), ('echo', {}))
    job['control']['mark_job'] = True

    response = server.process_job(job)

    middleware = server._middleware[0]
    assert isinstance(middleware, RecordingMiddleware)
    assert middleware.events == ['job-in', 'action-in:echo', 'action-in:echo', 'job-out']
    assert response.actions[0].body['job_middleware'] is True
    assert response.actions[0].body['action_middleware'] is True
    assert 'action_middleware' not in response.actions[1].body


def test_exception_in_job_middleware_becomes_a_job_server_error() -> None:
    response = make_server({'path': f'{__name__}:FailingJobMiddleware'}).process_job(make_job(('echo', {})))

    [error] = response.errors
    assert error.code == ERROR_CODE_SERVER_ERROR
    assert error.message == 'Internal server error: middleware failed'


def test_exception_in_action_middleware_becomes_an_action_server_error() -> None:
    response = make_server({'path': f'{__name__}:FailingActionMiddleware'}).process_job(make_job(('echo', {})))

    [error] = response.actions[0].errors
    assert error.code == ERROR_CODE_SERVER_ERROR
    assert 'missing piece' in error.message


def test_execute_job_patched_on_the_instance_is_used() -> None:
    server = make_server()
    server.execute_job = lambda request: JobResponse(errors=[Error(code='PATCHED', message='p')])  # type: ignore[method-assign]

    response = server.process_job(make_job(('echo', {})))

    assert [e.code for e in response.errors] == ['PATCHED']


def test_status_action_is_added_and_reports_service_version() -> None:
    response = make_server().process_job(make_job(('status', {})))

    assert response.actions[0].errors == []
    assert response.actions[0].body['version'] == '7.8.9'


def test_introspect_action_is_added() -> None:
    response = make_server().process_job(make_job(('introspect', {})))

    assert response.actions[0].errors == []
    assert 'echo' in response.actions[0].body['action_names']


def test_call_local_action_reaches_another_action_of_the_server() -> None:
    response = make_server().process_job(make_job(('call_local', {})))

    assert response.actions[0].errors == []
    assert response.actions[0].body == {'echoed': {'x': 1}}


def test_action_gets_a_request_switch_set() -> None:
    seen: list[Any] = []

    class SeeSwitches(Action):
        def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
            seen.append(request.switches)
            return {}

    class SwitchServer(Server):
        service_name = 'switches'
        action_class_map = {'see': SeeSwitches}

    SwitchServer(ServerSettings({'transport': LOCAL_SERVER_TRANSPORT})).process_job(make_job(('see', {}), switches=[1]))

    assert isinstance(seen[0], RequestSwitchSet)
    assert seen[0].is_active(1) and not seen[0].is_active(2)


def test_server_without_service_name_is_refused() -> None:
    class Nameless(Server):
        pass

    with pytest.raises(AttributeError):
        Nameless(ServerSettings({'transport': LOCAL_SERVER_TRANSPORT}))


def test_client_routing_is_validated_once_and_shared_by_per_job_clients() -> None:
    class RoutingServer(ProcessJobServer):
        pass

    routing = {
        'other': {
            'transport': {
                'path': 'pysoa.common.transport.local:LocalClientTransport',
                'kwargs': {'server_class': f'{__name__}:ProcessJobServer', 'server_settings': {}},
            },
        },
    }
    server = RoutingServer(ServerSettings({'transport': LOCAL_SERVER_TRANSPORT, 'client_routing': routing}))

    first = server.make_client({'correlation_id': 'a', 'switches': []})
    second = server.make_client({'correlation_id': 'b', 'switches': []})

    assert first.settings['other'] is second.settings['other']
    assert first.context['correlation_id'] == 'a' and second.context['correlation_id'] == 'b'
    assert first.context['calling_service'] == 'test_service'


def test_make_client_merges_extra_context_without_touching_the_original() -> None:
    server = make_server()
    original = {'correlation_id': 'a', 'switches': []}

    client = server.make_client(original, extra_context={'tenant': 't1'})

    assert client.context == {'correlation_id': 'a', 'switches': [], 'tenant': 't1', 'calling_service': 'test_service'}
    assert original == {'correlation_id': 'a', 'switches': []}


def test_action_can_call_another_service_through_request_client() -> None:
    class Relay(Action):
        def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
            assert request.client is not None
            response = request.client.call_action('test_service', 'echo', {'relayed': True})
            return {'inner': response.body['context']}

    class RelayServer(Server):
        service_name = 'relay'
        action_class_map = {'relay': Relay}

    routing = {
        'test_service': {
            'transport': {
                'path': 'pysoa.common.transport.local:LocalClientTransport',
                'kwargs': {'server_class': ProcessJobServer, 'server_settings': {}},
            },
        },
    }
    server = RelayServer(ServerSettings({'transport': LOCAL_SERVER_TRANSPORT, 'client_routing': routing}))

    response = server.process_job(make_job(('relay', {}), switches=[4]))

    assert response.actions[0].errors == []
    inner = response.actions[0].body['inner']
    assert inner['correlation_id'] == 'cid-1'
    assert inner['switches'] == [4]
    assert inner['calling_service'] == 'relay'
