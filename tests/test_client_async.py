"""The awaitable twins of the client's blocking calls."""

import asyncio
import inspect
import threading
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.errors import CallActionError, ImproperlyConfigured
from pysoa.common.errors import Error
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.test.mock_transport import MockHandler, MockRequest, mock_transport_settings


class EchoAction(Action):
    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: Any) -> dict[str, Any]:
        return {'body': dict(request.body), 'thread': threading.get_ident()}


class FailAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        raise ActionError(errors=[Error(code='NOPE', message='no')])


class EchoServer(Server):
    service_name = 'echo'
    action_class_map = {'echo': EchoAction, 'fail': FailAction}


def rendezvous(parties: int) -> MockHandler:
    """Answers as an out-of-process service would, naming the sending thread; the first `parties` sends wait for
    each other, so the calls complete only if they really run at the same time."""
    barrier = threading.Barrier(parties)
    lock = threading.Lock()
    sends_to_hold = [parties]

    def handler(request: MockRequest) -> dict[str, Any]:
        with lock:
            hold = sends_to_hold[0] > 0
            sends_to_hold[0] -= 1
        if hold:
            barrier.wait(timeout=10)
        thread = threading.get_ident()
        actions = [
            {'action': a['action'], 'body': {'echo': a['body'], 'thread': thread}} for a in request.body['actions']
        ]
        return {'context': request.body['context'], 'actions': actions}

    return handler


def local_client() -> Client:
    return Client(
        {
            'echo': {
                'transport': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {'server_class': EchoServer, 'server_settings': {}},
                },
            },
        },
    )


def remote_client(parties: int) -> Client:
    return Client({'remote': mock_transport_settings(rendezvous(parties))})


def test_twins_have_the_blocking_signatures() -> None:
    for name in ('call_action', 'call_actions', 'call_actions_parallel', 'call_jobs_parallel'):
        twin = getattr(Client, f'{name}_async')
        assert inspect.iscoroutinefunction(twin)
        assert inspect.signature(twin) == inspect.signature(getattr(Client, name))


def test_in_process_services_are_called_inline() -> None:
    client = local_client()

    async def main() -> Any:
        return await client.call_action_async('echo', 'echo', {'a': 1}), threading.get_ident()

    response, loop_thread = asyncio.run(main())

    assert response.body == {'body': {'a': 1}, 'thread': loop_thread}


def test_out_of_process_calls_wait_in_threads_and_run_concurrently() -> None:
    client = remote_client(parties=3)

    async def main() -> Any:
        return await asyncio.gather(
            client.call_action_async('remote', 'a', {'n': 1}),
            client.call_actions_async('remote', [{'action': 'b', 'body': {'n': 2}}]),
            client.call_jobs_parallel_async(
                ({'service_name': 'remote', 'actions': [{'action': 'c', 'body': {'n': n}}]} for n in (3, 4)),
            ),
        ), threading.get_ident()

    (single, job, jobs), loop_thread = asyncio.run(main())

    assert single.body['echo'] == {'n': 1}
    assert job.actions[0].body['echo'] == {'n': 2}
    assert [j.actions[0].body['echo'] for j in jobs] == [{'n': 3}, {'n': 4}]
    threads = {single.body['thread'], job.actions[0].body['thread'], jobs[0].actions[0].body['thread']}
    assert len(threads) == 3
    assert loop_thread not in threads


def test_errors_are_raised_from_the_await() -> None:
    client = local_client()

    with pytest.raises(CallActionError):
        asyncio.run(client.call_action_async('echo', 'fail'))
    with pytest.raises(ImproperlyConfigured):
        asyncio.run(client.call_action_async('nobody', 'echo'))
    with pytest.raises(TypeError):
        asyncio.run(client.call_action_async('echo', 'echo', suppress_response=True))  # type: ignore[call-arg]


def test_parallel_twin_returns_responses_in_order() -> None:
    client = local_client()

    responses = asyncio.run(
        client.call_actions_parallel_async('echo', [{'action': 'echo', 'body': {'n': n}} for n in range(3)])
    )

    assert [r.body['body']['n'] for r in responses] == [0, 1, 2]


def test_stubbed_actions_answer_awaited_calls_of_a_redis_client() -> None:
    from examples.echo_client import client_settings
    from pysoa.test.stub_service import stub_action

    # Nothing listens there: only the stub can answer, and it patches the blocking path, which the call then takes.
    client = Client({'echo': client_settings('redis://127.0.0.1:1/0')})

    with stub_action('echo', 'echo', body={'stubbed': True}) as stub:
        response = asyncio.run(client.call_action_async('echo', 'echo', {'message': 'hi'}))

    assert response.body == {'stubbed': True}
    assert stub.call_count == 1
