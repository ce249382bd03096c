"""pysoa.server.dispatch: resolving actions, overrides heard through the server, local calls, error responses."""

import logging
from typing import Any

import pytest

from pysoa.common.constants import ERROR_CODE_SERVER_ERROR, ERROR_CODE_UNKNOWN
from pysoa.common.metrics import NoOpMetricsRecorder
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.server.action.base import Action
from pysoa.server.dispatch import server_error_response, unknown_action_error
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest

LOCAL = {'transport': {'path': 'pysoa.common.transport.local:LocalServerTransport'}}

JOB = {'control': {'continue_on_error': False}, 'context': {'switches': [], 'correlation_id': 'c'}, 'actions': []}


def job(*actions: str, **bodies: dict[str, Any]) -> dict[str, Any]:
    return {**JOB, 'actions': [{'action': name, 'body': bodies.get(name, {})} for name in actions]}


class Hello(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'hello': request.body.get('name', 'world')}


class Explode(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ValueError('boom')


class CallsLocally(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        response = request.call_local_action(request.body['target'], {}, raise_action_errors=False)
        return {'errors': [(e.code, e.field, e.is_caller_error) for e in response.errors]}


def describe_me(server: Server) -> Any:
    return lambda request: ActionResponse(action=request.action, body={'service': server.service_name})


class DispatchServer(Server):
    service_name = 'dispatch'
    service_version = '1.2.3'
    action_class_map = {'hello': Hello, 'explode': Explode, 'calls_locally': CallsLocally}


def make(server_class: type[Server] = DispatchServer) -> Server:
    return server_class(ServerSettings(LOCAL))


def test_mapped_actions_are_built_afresh_for_each_request_and_unknown_ones_resolve_to_nothing() -> None:
    dispatcher = make()._dispatcher
    first, second = dispatcher.resolve_action('hello'), dispatcher.resolve_action('hello')
    assert isinstance(first, Hello) and isinstance(second, Hello) and first is not second
    assert dispatcher.resolve_action('nope') is None


def test_the_default_status_action_class_is_made_once_and_reports_service_version() -> None:
    server = make()
    response = server.process_job(job('status', 'status', status={'verbose': False}))
    assert [a.body['version'] for a in response.actions] == ['1.2.3', '1.2.3']
    assert type(server._dispatcher.resolve_action('status')) is type(server._dispatcher.resolve_action('status'))


def test_a_plain_function_as_introspection_action_is_not_bound_to_the_server() -> None:
    class Described(DispatchServer):
        introspection_action = describe_me

    response = make(Described).process_job(job('introspect'))
    assert response.actions[0].body == {'service': 'dispatch'}


def test_an_unknown_action_in_a_job_is_the_callers_error() -> None:
    [action] = make().process_job(job('nope')).actions
    assert [(e.code, e.field, e.is_caller_error) for e in action.errors] == [(ERROR_CODE_UNKNOWN, 'action', True)]


def test_an_unknown_local_action_is_the_services_error_and_built_in_actions_are_not_local() -> None:
    server = make()
    for target in ('nope', 'status'):
        [action] = server.process_job(job('calls_locally', calls_locally={'target': target})).actions
        assert action.body == {'errors': [(ERROR_CODE_UNKNOWN, 'action', False)]}


def test_handle_unhandled_exception_set_on_the_instance_answers_for_an_action() -> None:
    server = make()
    seen: list[tuple[str, type]] = []

    def handle(exception: BaseException, response_type: type[Any], variables: Any = None, **kwargs: Any) -> Any:
        seen.append((str(exception), response_type))
        return response_type(errors=[unknown_action_error('patched', False)], **kwargs)

    server.handle_unhandled_exception = handle  # type: ignore[method-assign]  # the override point under test
    [action] = server.process_job(job('explode')).actions
    assert seen == [('boom', ActionResponse)]
    assert action.action == 'explode'
    assert action.errors[0].message == 'The action "patched" was not found on this server.'


def test_a_subclass_handle_job_exception_answers_for_a_failing_job_middleware() -> None:
    class Broken:
        def job(self, process: Any) -> Any:
            def run(request: EnrichedJobRequest) -> JobResponse:
                raise RuntimeError('middleware broke')

            return run

        def action(self, process: Any) -> Any:
            return process

    class Handling(DispatchServer):
        def handle_job_exception(
            self, exception: BaseException, variables: dict[str, Any] | None = None
        ) -> JobResponse:
            return JobResponse(errors=[unknown_action_error(str(exception), False)])

    server = make(Handling)
    server._middleware = [Broken()]  # type: ignore[list-item]  # duck-typed middleware
    server._dispatcher = type(server._dispatcher)(server)
    response = server.process_job(job('hello'))
    assert [e.message for e in response.errors] == ['The action "middleware broke" was not found on this server.']


def test_a_server_error_response_carries_message_traceback_and_the_variables_it_could_format() -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError('no repr')

    def caught() -> ValueError:
        try:
            raise ValueError('kaput')
        except ValueError as error:
            return error

    logger = logging.getLogger('tests.dispatch')
    [error] = server_error_response(caught(), JobResponse, {'x': 1}, NoOpMetricsRecorder(), logger).errors
    assert (error.code, error.message) == (ERROR_CODE_SERVER_ERROR, 'Internal server error: kaput')
    assert error.is_caller_error is False
    assert error.traceback is not None and 'ValueError: kaput' in error.traceback
    assert error.variables == {'x': '1'}

    variables = {'y': Unprintable()}
    action = server_error_response(caught(), ActionResponse, variables, NoOpMetricsRecorder(), logger, action='a')
    assert action.action == 'a'
    assert action.errors[0].variables == {'error': 'Error formatting variables'}


def test_an_action_error_from_a_local_action_is_raised_or_returned_as_asked() -> None:
    class Refuse(Action):
        def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
            raise ActionError([unknown_action_error('x', True)])

    class Local(DispatchServer):
        action_class_map = {**DispatchServer.action_class_map, 'refuse': Refuse}

    server = make(Local)
    request = EnrichedActionRequest(action='hello', body={})
    request._server = server
    with pytest.raises(ActionError):
        request.call_local_action('refuse', {})
    returned = request.call_local_action('refuse', {}, raise_action_errors=False)
    assert [e.is_caller_error for e in returned.errors] == [True]
    assert request.call_local_action('hello', {'name': 'you'}).body == {'hello': 'you'}
