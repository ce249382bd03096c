"""The client against a real service over a private redis-server (the default transport path)."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.errors import CallActionError
from pysoa.client.handler import ServiceHandler
from pysoa.common.errors import Error
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server

MEETING = threading.Barrier(2)


class EchoAction(Action):
    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: Any) -> dict[str, Any]:
        if request.body.get('meet'):
            # Returns only once two requests are being handled at the same time.
            MEETING.wait(timeout=5)
        return {'body': dict(request.body), 'context': dict(request.context)}


class FailAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        raise ActionError(errors=[Error(code='NOPE', message='no', field='x')])


class EchoServer(Server):
    service_name = 'redis_echo'
    action_class_map = {'echo': EchoAction, 'fail': FailAction}


def _backend(redis_url: str) -> dict[str, Any]:
    return {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}}


@pytest.fixture
def service(redis_url: str) -> Iterator[None]:
    """Runs two servers, each handling requests on its own thread until the test ends."""
    stop = threading.Event()
    threads = []
    for _ in range(2):
        server = EchoServer(
            EchoServer.settings_class(
                {
                    'transport': {
                        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
                        'kwargs': {**_backend(redis_url), 'receive_timeout_in_seconds': 1},
                    },
                },
            ),
        )
        server.setup()

        def loop(server: Server = server) -> None:
            while not stop.is_set():
                server.handle_next_request()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        threads.append(thread)
    yield
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
def client(redis_url: str) -> Client:
    return Client({'redis_echo': {'transport': {'kwargs': _backend(redis_url)}}}, context={'switches': [2]})


@pytest.mark.usefixtures('service')
def test_call_action_round_trip_with_the_default_transport(client: Client) -> None:
    response = client.call_action('redis_echo', 'echo', {'n': 1}, timeout=5, correlation_id='cid-1')

    assert response.body['body'] == {'n': 1}
    assert response.body['context']['correlation_id'] == 'cid-1'
    assert response.body['context']['switches'] == [2]
    assert type(client._get_handler('redis_echo').transport).__name__ == 'RedisClientTransport'


@pytest.mark.usefixtures('service')
def test_errors_and_parallel_calls_over_redis(client: Client) -> None:
    with pytest.raises(CallActionError) as error_info:
        client.call_action('redis_echo', 'fail', timeout=5)
    assert error_info.value.actions[0].errors[0].code == 'NOPE'

    responses = list(
        client.call_actions_parallel('redis_echo', [{'action': 'echo', 'body': {'n': n}} for n in range(6)], timeout=5),
    )
    assert [r.body['body']['n'] for r in responses] == list(range(6))


@pytest.mark.usefixtures('service')
def test_futures_resolve_in_any_order_over_redis(client: Client) -> None:
    futures = [client.call_action_future('redis_echo', 'echo', {'n': n}, timeout=5) for n in range(4)]

    assert [f.result().body['body']['n'] for f in reversed(futures)] == [3, 2, 1, 0]


@pytest.mark.usefixtures('service')
def test_async_twins_overlap_over_redis(client: Client) -> None:
    MEETING.reset()

    async def main() -> Any:
        return await asyncio.gather(
            *(client.call_action_async('redis_echo', 'echo', {'n': n, 'meet': True}, timeout=5) for n in range(2)),
        )

    responses = asyncio.run(main())

    assert [r.body['body']['n'] for r in responses] == [0, 1]


@pytest.mark.usefixtures('service')
def test_threads_making_their_first_calls_at_once_share_one_handler(redis_url: str) -> None:
    threads_count = 8
    all_constructing = threading.Barrier(threads_count)

    class HandlerBuiltSlowly(ServiceHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # Every thread is inside here at once: each builds a handler of its own before any is stored.
            all_constructing.wait(timeout=10)
            super().__init__(*args, **kwargs)

    class RacingClient(Client):
        handler_class = HandlerBuiltSlowly

    client = RacingClient({'redis_echo': {'transport': {'kwargs': _backend(redis_url)}}})
    results: dict[int, Any] = {}

    def call(n: int) -> None:
        try:
            results[n] = client.call_action('redis_echo', 'echo', {'n': n}, timeout=5).body['body']['n']
        except Exception as error:  # reported below, by thread
            results[n] = error

    threads = [threading.Thread(target=call, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert results == {n: n for n in range(threads_count)}


def test_no_service_means_a_receive_timeout(client: Client) -> None:
    with pytest.raises(MessageReceiveTimeout):
        client.call_action('redis_echo', 'echo', timeout=1)
