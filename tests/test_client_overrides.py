"""The 1.x override points of the client keep working: the header makers and the handler's client version."""

from typing import Any
from unittest import mock

from pysoa.client import Client
from pysoa.client.handler import ServiceHandler
from pysoa.common.errors import Error
from pysoa.common.types import Context, Control
from pysoa.server.action import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.server import local_client_config


class Headers(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'context': dict(request.context), 'control': dict(request.control)}


class Refuse(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ActionError([Error(code='BAD', message='refused')])


class HeadersServer(Server):
    service_name = 'headers'
    action_class_map = {'headers': Headers, 'refuse': Refuse}


def make_client() -> Client:
    return Client(local_client_config(HeadersServer, {}), context={'switches': [1]})


def test_the_header_makers_are_callable_methods() -> None:
    client = make_client()

    assert client._make_control_header() == {'continue_on_error': False, 'suppress_response': False}
    assert client._make_control_header(True, {'x': 1}) == {
        'continue_on_error': True,
        'suppress_response': False,
        'x': 1,
    }
    context = client._make_context_header([2], 'c', {'user': 'u'})
    assert context == {'correlation_id': 'c', 'switches': [1, 2], 'user': 'u'}
    assert len(client._make_context_header()['correlation_id']) == 32


def test_patched_header_makers_make_the_headers_sent() -> None:
    client = make_client()

    def control(continue_on_error: bool = False, control_extra: Control | None = None, *_: Any) -> Control:
        return {'continue_on_error': continue_on_error, 'suppress_response': False, 'patched': True}

    def context(self: Client, *_: Any) -> Context:
        return {'correlation_id': 'patched', 'switches': []}

    with (
        mock.patch.object(Client, '_make_control_header', staticmethod(control)),
        mock.patch.object(Client, '_make_context_header', context),
    ):
        body = client.call_action('headers', 'headers').body

    assert body['control']['patched'] is True
    assert body['context']['correlation_id'] == 'patched'


def test_the_handler_client_version_decides_what_the_server_sends() -> None:
    # Clients before 0.70.0 do not know `is_caller_error`, so the server leaves it out (and it reads as False).
    assert make_client().call_action('headers', 'refuse', raise_action_errors=False).errors[0].is_caller_error

    with mock.patch.object(ServiceHandler, '_client_version', [0, 60, 0]):
        response = make_client().call_action('headers', 'refuse', raise_action_errors=False)

    assert response.errors[0].is_caller_error is False


def test_parallel_actions_go_through_an_overridden_call_jobs_parallel_future() -> None:
    seen: list[dict[str, Any]] = []

    class RecordingClient(Client):
        def call_jobs_parallel_future(self, jobs: Any, **kwargs: Any) -> Any:
            jobs = list(jobs)
            seen.append({'jobs': jobs, **kwargs})
            return super().call_jobs_parallel_future(jobs, **kwargs)

    client = RecordingClient(local_client_config(HeadersServer, {}))

    responses = list(client.call_actions_parallel('headers', [{'action': 'headers'}] * 2, timeout=7.5))

    assert [r.action for r in responses] == ['headers', 'headers']
    [call] = seen
    assert call['jobs'] == [{'service_name': 'headers', 'actions': [{'action': 'headers'}]}] * 2
    assert call['timeout'] == 7.5
    assert call['raise_job_errors'] is True
