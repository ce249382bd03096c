"""The native asyncio client (issue 12, item 2): `Client.call_*_async` over real Redis and real service processes.

Every test forbids `asyncio.to_thread` (the 1.x fallback), so each shows the calls awaiting Redis on the loop.
The service is `tests.library_service` (the echo service with a few more actions).
"""

import asyncio
import functools
import logging
import os
import signal
import socket
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import pytest
import redis

from examples.echo_client import client_settings
from pysoa.client import Client
from pysoa.client.errors import CallActionError, CallJobError, ImproperlyConfigured
from pysoa.client.middleware import (
    AsyncClientRequestMiddlewareTask,
    AsyncClientResponseMiddlewareTask,
    ClientMiddleware,
    ClientRequestMiddlewareTask,
    ClientResponseMiddlewareTask,
)
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import (
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    TransientPySOATransportError,
)
from pysoa.common.transport.redis_gateway.backend.async_commands import ScriptBatcher
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.types import ActionResponse, JobRequest, JobResponse
from pysoa.schema import fields
from pysoa.test.redis_server import RedisServerProcess
from tests.conftest import StartService
from tests.library_service.server import AUTHORS

SERVICE = {'module': 'tests.library_service', 'settings': 'tests.library_service.settings'}
SIGNING_KEY = 'async-client-test-key-0123456789'


@pytest.fixture(autouse=True)
def no_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any call that would fall back to a thread."""

    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError('asyncio.to_thread was used: the call did not run natively')

    monkeypatch.setattr(asyncio, 'to_thread', refuse)


def make_client(redis_url: str, **transport: Any) -> Client:
    settings = client_settings(redis_url)
    settings['transport']['kwargs'].update(transport)
    return Client({'echo': settings})


@pytest.fixture
def two_worker_client(start_service: StartService, redis_url: str, caplog: pytest.LogCaptureFixture) -> Client:
    """A client of the library service running 2 workers, with the async transport's warnings captured."""
    start_service(workers=2, **SERVICE)
    caplog.set_level(logging.WARNING, logger='pysoa.common.transport.redis_gateway.async_client')
    return make_client(redis_url)


def test_many_concurrent_calls_each_get_their_own_response(
    two_worker_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    client = two_worker_client

    async def one_caller(caller: int) -> list[Any]:
        # Calls one after another, so that responses keep arriving while other tasks send.
        results: list[Any] = []
        for n in range(caller * 20, caller * 20 + 12):
            if n % 3 == 0:
                results.append(await client.call_action_async('echo', 'echo', {'message': f'message {n}'}))
            elif n % 3 == 1:
                results.append(await client.call_actions_async('echo', [{'action': 'square', 'body': {'number': n}}]))
            else:
                actions = [{'action': 'square', 'body': {'number': n}}, {'action': 'echo', 'body': {'message': str(n)}}]
                results.append(await client.call_actions_parallel_async('echo', actions))
        return results

    async def main() -> tuple[list[list[Any]], int, int]:
        await client.call_action_async('echo', 'echo', {'message': 'warm up'})
        before = threading.active_count()
        results = await asyncio.gather(*(one_caller(caller) for caller in range(100)))
        return results, before, threading.active_count()

    results, threads_before, threads_after = asyncio.run(main())

    for caller, caller_results in enumerate(results):
        for n, result in enumerate(caller_results, start=caller * 20):
            if n % 3 == 0:
                assert result.body == {'message': f'message {n}'}
            elif n % 3 == 1:
                assert result.actions[0].body == {'square': n * n}
            else:
                assert [r.body for r in result] == [{'square': n * n}, {'message': str(n)}]
    assert threads_after == threads_before
    # Every response went to its caller: none came before its request was awaited, none was dropped.
    assert not [r.getMessage() for r in caplog.records]


def test_jobs_to_several_services_and_a_large_chunked_response(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, **SERVICE)
    client = Client({'echo': client_settings(redis_url), 'also_echo': client_settings(redis_url)})

    async def main() -> tuple[list[Any], Any]:
        jobs = ({'service_name': 'echo', 'actions': [{'action': 'square', 'body': {'number': n}}]} for n in range(1, 4))
        return await client.call_jobs_parallel_async(jobs), await client.call_action_async(
            'echo', 'large', {'kib': 300}
        )

    jobs, large = asyncio.run(main())

    assert [j.actions[0].body for j in jobs] == [{'square': 1}, {'square': 4}, {'square': 9}]
    assert large.body['payload'] == '0123456789abcdef' * 64 * 300


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ('returned', call())
    except Exception as error:
        return ('raised', type(error), getattr(error, 'errors', None), getattr(error, 'actions', None))


def test_errors_and_results_are_those_of_the_blocking_calls(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, **SERVICE)
    client = make_client(redis_url)
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ('call_action', ('echo', 'divide', {'dividend': 1, 'divisor': 0}), {}),
        ('call_action', ('echo', 'divide', {'dividend': 1, 'divisor': 0}), {'raise_action_errors': False}),
        ('call_action', ('echo', 'job_error'), {}),
        ('call_action', ('echo', 'job_error'), {'raise_job_errors': False}),
        ('call_action', ('echo', 'no_such_action'), {}),
        ('call_action', ('nobody', 'echo', {'message': 'x'}), {}),
        ('call_action', ('echo', 'echo', 'not a body'), {}),
        ('call_actions', ('echo', [{'action': 'job_error'}, {'action': 'echo', 'body': {'message': 'x'}}]), {}),
        ('call_actions_parallel', ('echo', [{'action': 'square', 'body': {'number': 'x'}}]), {}),
        ('call_jobs_parallel', ([{'service_name': 'echo'}],), {}),
    ]

    async def awaited(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = await getattr(client, f'{name}_async')(*args, **kwargs)
        return list(result) if name == 'call_actions_parallel' else result

    for name, args, kwargs in cases:
        blocking = _outcome(functools.partial(getattr(client, name), *args, **kwargs))
        native = _outcome(functools.partial(asyncio.run, awaited(name, args, kwargs)))
        if name == 'call_actions_parallel' and blocking[0] == 'returned':
            blocking = ('returned', list(blocking[1]))
        assert native == blocking, (name, args, kwargs)
    assert _outcome(lambda: client.call_action('echo', 'job_error'))[1] is CallJobError
    assert _outcome(lambda: client.call_action('echo', 'divide', {'dividend': 1, 'divisor': 0}))[1] is CallActionError
    assert _outcome(lambda: client.call_action('nobody', 'echo'))[1] is ImproperlyConfigured


def test_headers_are_those_of_the_blocking_calls(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, **SERVICE)
    client = Client({'echo': client_settings(redis_url)}, context={'switches': [5], 'correlation_id': 'base'})

    response = asyncio.run(
        client.call_action_async('echo', 'context', {'x': 1}, switches=[7], context={'switches': [9]})
    )

    assert response.body == {'correlation_id': 'base', 'switches': [5, 7, 9], 'body': {'x': 1}}


EXPANSION_CONFIG = {
    'type_routes': {
        'authors': {'service': 'echo', 'action': 'get_authors', 'request_field': 'ids', 'response_field': 'authors'},
    },
    'type_expansions': {
        'book': {
            'author': {'type': 'author', 'route': 'authors', 'source_field': 'author_id', 'destination_field': 'author'}
        },
    },
}


def test_expansions(start_service: StartService, redis_url: str) -> None:
    start_service(workers=2, **SERVICE)
    client = Client({'echo': client_settings(redis_url)}, expansion_config=EXPANSION_CONFIG)

    async def main() -> tuple[Any, Any]:
        single = await client.call_action_async('echo', 'get_books', expansions={'book': ['author']})
        jobs = await client.call_jobs_parallel_async(
            [{'service_name': 'echo', 'actions': [{'action': 'get_books'}]}], expansions={'book': ['author']}
        )
        return single, jobs[0].actions[0]

    single, from_jobs = asyncio.run(main())
    blocking = client.call_action('echo', 'get_books', expansions={'book': ['author']})

    for response in (single, from_jobs):
        assert response.body == blocking.body
        assert [b.get('author') for b in response.body['books']] == [AUTHORS['a1'], AUTHORS['a2'], None]


EVENTS: list[str] = []


class PlainMiddleware(ClientMiddleware):
    """Blocking wrappers only: upper-cases each request's message, marks each response."""

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        def wrapper(request_id: int, meta: dict[str, Any], job_request: JobRequest, expiry: int | None) -> None:
            EVENTS.append('plain request')
            job_request.actions[0].body['message'] = job_request.actions[0].body['message'].upper()
            send_request(request_id, meta, job_request, expiry)

        return wrapper

    def response(self, get_response: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        def wrapper(timeout: int | None) -> tuple[int | None, JobResponse | None]:
            request_id, response = get_response(timeout)
            EVENTS.append('plain response')
            if response is not None:
                response.actions[0].body['body']['plain'] = True
            return request_id, response

        return wrapper


class AwaitingMiddleware(ClientMiddleware):
    """Blocking and awaited wrappers: each records which of them ran, and leaves a mark in the body."""

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        def wrapper(request_id: int, meta: dict[str, Any], job_request: JobRequest, expiry: int | None) -> None:
            EVENTS.append('blocking request')
            job_request.actions[0].body['via'] = 'blocking'
            send_request(request_id, meta, job_request, expiry)

        return wrapper

    def request_async(self, send_request: AsyncClientRequestMiddlewareTask) -> AsyncClientRequestMiddlewareTask:
        async def wrapper(request_id: int, meta: dict[str, Any], job_request: JobRequest, expiry: int | None) -> None:
            EVENTS.append(f'awaited request {job_request.actions[0].body["message"]}')
            job_request.actions[0].body['via'] = 'awaited'
            await send_request(request_id, meta, job_request, expiry)
            EVENTS.append('awaited request sent')

        return wrapper

    def response_async(self, get_response: AsyncClientResponseMiddlewareTask) -> AsyncClientResponseMiddlewareTask:
        async def wrapper(timeout: int | None) -> tuple[int | None, JobResponse | None]:
            request_id, response = await get_response(timeout)
            EVENTS.append('awaited response')
            return request_id, response

        return wrapper


def test_plain_and_awaited_middleware(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, **SERVICE)
    settings = client_settings(redis_url)
    settings['middleware'] = [
        {'path': 'tests.test_client_async_redis:PlainMiddleware'},
        {'path': 'tests.test_client_async_redis:AwaitingMiddleware'},
    ]
    client = Client({'echo': settings})
    EVENTS.clear()

    awaited = asyncio.run(client.call_action_async('echo', 'context', {'message': 'hi'}))
    awaited_events = list(EVENTS)
    EVENTS.clear()
    blocking = client.call_action('echo', 'context', {'message': 'hi'})

    assert awaited.body['body'] == {'message': 'HI', 'via': 'awaited', 'plain': True}
    # The plain layer is outermost: it sees the request first and the response last.
    assert awaited_events == [
        'plain request',
        'awaited request HI',
        'awaited request sent',
        'awaited response',
        'plain response',
    ]
    assert blocking.body['body'] == {'message': 'HI', 'via': 'blocking', 'plain': True}
    assert EVENTS == ['plain request', 'blocking request', 'plain response']


class ErrorSeeingMiddleware(ClientMiddleware):
    """A plain response wrapper that records the errors it sees and lets them through."""

    def response(self, get_response: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        def wrapper(timeout: int | None) -> tuple[int | None, JobResponse | None]:
            try:
                return get_response(timeout)
            except MessageReceiveTimeout as error:
                EVENTS.append(f'plain response saw {type(error).__name__}')
                raise

        return wrapper


def test_a_plain_response_wrapper_sees_the_receive_error(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, **SERVICE)
    settings = client_settings(redis_url)
    settings['middleware'] = [{'path': 'tests.test_client_async_redis:ErrorSeeingMiddleware'}]
    client = Client({'echo': settings})
    EVENTS.clear()

    with pytest.raises(MessageReceiveTimeout):
        asyncio.run(client.call_action_async('echo', 'sleep', {'seconds': 1}, timeout=0.3))

    assert EVENTS == ['plain response saw MessageReceiveTimeout']


def test_a_late_response_is_dropped_and_never_given_to_another_call(
    two_worker_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    client = two_worker_client

    async def given_up() -> Any:
        try:
            await client.call_action_async('echo', 'sleep', {'seconds': 0.6}, timeout=0.3)
        except MessageReceiveTimeout as error:
            # The same task calls again at once: the late answer to the first call comes while it waits.
            return error, await client.call_action_async('echo', 'echo', {'message': 'second'})
        raise AssertionError('the first call did not time out')

    async def waiting() -> Any:
        await asyncio.sleep(0.05)  # sent after the first call, so each worker takes one
        return await client.call_action_async('echo', 'sleep', {'seconds': 1.0}, timeout=5)

    async def main() -> Any:
        await client.call_action_async('echo', 'echo', {'message': 'warm up'})
        return await asyncio.gather(given_up(), waiting())

    (error, second), slow = asyncio.run(main())

    assert isinstance(error, MessageReceiveTimeout)
    assert second.body == {'message': 'second'}
    assert slow.body['slept'] >= 1.0
    assert any('Dropped a response to request' in r.getMessage() for r in caplog.records)


def test_a_response_that_comes_before_its_send_returns_is_not_lost(
    start_service: StartService, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_service(workers=2, **SERVICE)
    client = make_client(redis_url)
    pushed = ScriptBatcher.run

    async def slow_to_return(self: ScriptBatcher, *args: Any, **kwargs: Any) -> object:
        # As when the push's reply is read late (a long batch): the service answers before the send returns.
        result = await pushed(self, *args, **kwargs)
        await asyncio.sleep(0.3)
        return result

    async def main() -> tuple[Any, Any]:
        await client.call_action_async('echo', 'echo', {'message': 'warm up'})
        monkeypatch.setattr(ScriptBatcher, 'run', slow_to_return)
        # The first call keeps the reply reader busy waiting while the second is sent.
        waiting = asyncio.ensure_future(client.call_action_async('echo', 'sleep', {'seconds': 1.0}))
        await asyncio.sleep(0.4)
        fast = await client.call_action_async('echo', 'echo', {'message': 'fast'}, timeout=3)
        return fast, await waiting

    fast, slow = asyncio.run(main())

    assert fast.body == {'message': 'fast'}
    assert slow.body['slept'] >= 1.0


def test_signed_calls(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, env={'PYSOA_SIGNING_KEYS': SIGNING_KEY}, **SERVICE)
    signed = make_client(redis_url, signing_keys=[SIGNING_KEY])
    wrong_key = make_client(redis_url, signing_keys=['another-key-of-enough-bytes-0123'])

    async def main() -> tuple[list[Any], BaseException | None]:
        responses = await asyncio.gather(
            *(signed.call_action_async('echo', 'square', {'number': n}) for n in range(20))
        )
        try:
            await wrong_key.call_action_async('echo', 'square', {'number': 2}, timeout=1)
        except TransientPySOATransportError as refused:
            return responses, refused
        return responses, None

    responses, refused = asyncio.run(main())

    assert [r.body['square'] for r in responses] == [n * n for n in range(20)]
    # The service refuses the request signed with a key it does not know: no answer comes.
    assert isinstance(refused, MessageReceiveTimeout)


def test_every_call_ends_within_its_timeout_and_a_second_while_redis_is_frozen(
    private_redis: RedisServerProcess,
    start_service: StartService,
) -> None:
    start_service(workers=2, env={'PYSOA_REDIS_URL': private_redis.url}, **SERVICE)
    client = make_client(private_redis.url)
    assert private_redis.pid is not None
    pid = private_redis.pid

    async def timed(call: Any) -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            await call
        except TransientPySOATransportError as error:
            return time.monotonic() - started, error
        return time.monotonic() - started, None

    async def main() -> tuple[list[tuple[float, BaseException | None]], list[tuple[float, BaseException | None]]]:
        await client.call_action_async('echo', 'echo', {'message': 'warm up'})
        # Calls under way when Redis freezes (their requests sent, the service busy), then calls that start after.
        under_way = [
            asyncio.ensure_future(timed(client.call_action_async('echo', 'sleep', {'seconds': 0.3}, timeout=1)))
            for _ in range(10)
        ]
        await asyncio.sleep(0.1)
        os.kill(pid, signal.SIGSTOP)
        try:
            later = await asyncio.gather(
                *(timed(client.call_action_async('echo', 'echo', {'message': 'x'}, timeout=1)) for _ in range(10)),
                timed(
                    client.call_actions_parallel_async(
                        'echo', [{'action': 'echo', 'body': {'message': 'y'}}] * 3, timeout=1
                    )
                ),
            )
            first = await asyncio.gather(*under_way)
        finally:
            os.kill(pid, signal.SIGCONT)
        return list(first), list(later)

    under_way, later = asyncio.run(main())

    for elapsed, error in [*under_way, *later]:
        assert elapsed < 1 + 1, (elapsed, error)
        assert isinstance(error, TransientPySOATransportError), (elapsed, error)

    # Redis is back: the same client serves again, on a new loop too.
    response = asyncio.run(client.call_action_async('echo', 'echo', {'message': 'back'}, timeout=5))
    assert response.body == {'message': 'back'}


def test_in_process_and_other_transports_keep_their_1x_paths() -> None:
    from tests.test_client_async import local_client

    response = asyncio.run(local_client().call_action_async('echo', 'echo', {'a': 1}))

    assert isinstance(response, ActionResponse)
    assert response.body['body'] == {'a': 1}


def test_the_async_page_examples_run_as_written(
    start_service: StartService,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.test_docs import DOCS, block_with

    start_service(workers=1, **SERVICE)
    calls = block_with(DOCS / 'async.rst', 'asyncio.run(main())')
    exec(calls.replace("'redis://127.0.0.1:6379/0'", repr(redis_url)), {})
    assert capsys.readouterr().out == f'{[n * n for n in range(100)]}\n'

    # The middleware example, importable by a settings path.
    module = types.ModuleType('async_page_middleware')
    exec(block_with(DOCS / 'async.rst', 'class SendTiming'), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    settings = client_settings(redis_url)
    settings['middleware'] = [{'path': 'async_page_middleware:SendTiming'}]
    client = Client({'echo': settings})
    response = asyncio.run(client.call_action_async('echo', 'square', {'number': 3}))
    assert response.body == {'square': 9}
    assert len(module.SEND_SECONDS) == 1
    assert client.call_action('echo', 'square', {'number': 4}).body == {'square': 16}
    assert len(module.SEND_SECONDS) == 1  # blocking calls go through the plain hooks, which it leaves alone


class _Timer:
    def __init__(self, names: list[str], name: str) -> None:
        self.names, self.name = names, name

    def start(self) -> None:
        self.names.append(self.name)

    def stop(self) -> None:
        pass

    def __enter__(self) -> '_Timer':
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class _Metric:
    def increment(self, amount: int = 1) -> int:
        return amount

    def set(self, value: int | None = None) -> int:
        return value or 0


@fields.ClassConfigurationSchema.provider(fields.Dictionary({}))
class TimerNames:
    """A metrics recorder that keeps the names of the timers started (counters and histograms do nothing)."""

    instances: list['TimerNames'] = []

    def __init__(self) -> None:
        self.timed: list[str] = []
        self.publishes = 0
        TimerNames.instances.append(self)

    def timer(self, name: str, **_kwargs: object) -> _Timer:
        return _Timer(self.timed, name)

    def counter(self, name: str, **_tags: object) -> _Metric:
        return _Metric()

    gauge = histogram = counter

    def publish_all(self) -> None:
        self.publishes += 1


def test_awaited_calls_are_timed_as_blocking_ones(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, **SERVICE)
    settings = client_settings(redis_url)
    settings['metrics'] = {'path': f'{__name__}:TimerNames'}
    TimerNames.instances.clear()
    client = Client({'echo': settings})

    client.call_action('echo', 'square', {'number': 2})
    (metrics,) = TimerNames.instances
    blocking, published = list(metrics.timed), metrics.publishes
    metrics.timed.clear()
    asyncio.run(client.call_action_async('echo', 'square', {'number': 2}))

    handler_timers = {name for name in blocking if name.startswith(('client.send.', 'client.receive.'))}
    assert handler_timers == {
        'client.send.including_middleware',
        'client.send.excluding_middleware',
        'client.receive.including_middleware',
        'client.receive.excluding_middleware',
    }
    assert {name for name in metrics.timed if name.startswith(('client.send.', 'client.receive.'))} == handler_timers
    assert metrics.publishes >= 2 * published


def test_an_unreachable_redis_gives_a_transient_error_at_once() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    client = make_client(f'redis://127.0.0.1:{port}/0')

    async def main() -> list[BaseException | Any]:
        calls = [client.call_action_async('echo', 'echo', {'message': 'x'}, timeout=5) for _ in range(5)]
        return await asyncio.gather(*calls, return_exceptions=True)

    started = time.monotonic()
    outcomes = asyncio.run(main())

    assert all(isinstance(outcome, MessageSendError) for outcome in outcomes), outcomes
    assert time.monotonic() - started < 5  # refused, not waited out


def test_a_served_requests_deadline_bounds_awaited_calls(start_service: StartService, redis_url: str) -> None:
    start_service(workers=1, **SERVICE)
    client = make_client(redis_url)
    client._deadline = time.time() - 1  # as `Server.make_client` sets it: the served request's __expiry__

    with pytest.raises(MessageSendTimeout, match='deadline of the request being served'):
        asyncio.run(client.call_action_async('echo', 'echo', {'message': 'late'}))

    client._deadline = time.time() + 0.5
    started = time.monotonic()
    with pytest.raises(MessageReceiveTimeout, match='deadline of the request being served'):
        asyncio.run(client.call_action_async('echo', 'sleep', {'seconds': 3}))
    assert time.monotonic() - started < 0.5 + 1


@pytest.mark.parametrize('timeout', [None, 3], ids=['without-a-timeout', 'with-a-timeout'])
def test_a_call_ends_within_its_time_however_long_its_send_took(redis_url: str, timeout: int | None) -> None:
    # A full queue holds the send up; the wait for the response then gets only what is left of the call's time
    # (its timeout, else the receive timeout), as in the blocking client (`test_redis_faults`): the send and the
    # wait used to take up to twice that together.
    receive_timeout = 4
    client = make_client(redis_url, queue_capacity=1, receive_timeout_in_seconds=receive_timeout)
    filler = RedisClientTransport('echo', noop_metrics, backend_layer_kwargs={'hosts': [redis_url]})
    filler.send_request_message(1, {}, {'control': {}, 'context': {}, 'actions': []})
    raw = redis.Redis.from_url(redis_url)
    worker = threading.Timer(1.5, lambda: raw.lpop('pysoa:service.echo'))  # a worker taking the filler, late
    worker.start()
    started = time.monotonic()
    try:
        with pytest.raises(TransientPySOATransportError):  # nobody answers: the call's own request stays queued
            asyncio.run(client.call_action_async('echo', 'echo', {'message': 'hi'}, timeout=timeout))
        elapsed = time.monotonic() - started
    finally:
        worker.join()
    assert raw.llen('pysoa:service.echo') == 1  # the send got in, after the filler was taken
    raw.close()
    print(
        f'an awaited call behind a full queue, timeout {timeout}: {elapsed:.2f} s (receive timeout {receive_timeout} s)'
    )
    assert 1.5 < elapsed < (timeout or receive_timeout) + 1, elapsed
