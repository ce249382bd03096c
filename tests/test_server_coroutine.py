"""request.run_coroutine: the worker's event loop thread and coroutine middleware."""

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from pysoa.schema import fields
from pysoa.schema.error import ValidationError
from pysoa.server.action.base import Action
from pysoa.server.coroutine import CoroutineMiddleware, DefaultCoroutineMiddleware
from pysoa.server.internal import event_loop
from pysoa.server.internal.event_loop import AsyncEventLoopThread, coroutine_middleware_config
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest

REQUEST_TAG: contextvars.ContextVar[str] = contextvars.ContextVar('request_tag', default='unset')


class Recording(CoroutineMiddleware):
    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    def before_run_coroutine(self) -> None:
        self.events.append(f'before:{self.name}')

    def coroutine(self, coroutine: Any) -> Any:
        async def wrapper() -> Any:
            self.events.append(f'enter:{self.name}')
            try:
                return await coroutine
            finally:
                self.events.append(f'exit:{self.name}')

        return wrapper()


def test_coroutines_run_on_one_loop_thread_through_the_middleware_in_order() -> None:
    events: list[str] = []
    runner = AsyncEventLoopThread([Recording('outer', events), Recording('inner', events)])

    async def work(value: int) -> tuple[int, str]:
        await asyncio.sleep(0)
        events.append('work')
        return value * 2, threading.current_thread().name

    try:
        result, thread_name = runner.run_coroutine(work(21)).result(timeout=10)
        second = runner.run_coroutine(work(1)).result(timeout=10)
    finally:
        runner.stop()

    assert result == 42
    assert thread_name == second[1] == 'pysoa-async-event-loop'
    assert events[:6] == ['before:outer', 'before:inner', 'enter:outer', 'enter:inner', 'work', 'exit:inner']
    assert not runner.running


def test_context_variables_travel_with_the_coroutine() -> None:
    runner = AsyncEventLoopThread()

    async def read_tag() -> str:
        return REQUEST_TAG.get()

    token = REQUEST_TAG.set('request-42')
    try:
        assert runner.run_coroutine(read_tag()).result(timeout=10) == 'request-42'
    finally:
        REQUEST_TAG.reset(token)
        runner.stop()


def test_default_middleware_logs_and_reraises(caplog: pytest.LogCaptureFixture) -> None:
    runner = AsyncEventLoopThread([DefaultCoroutineMiddleware()])

    async def fail() -> None:
        raise ValueError('async trouble')

    try:
        with pytest.raises(ValueError, match='async trouble'):
            runner.run_coroutine(fail()).result(timeout=10)
    finally:
        runner.stop()

    assert any('run_coroutine' in r.getMessage() for r in caplog.records)


def test_stop_before_start_is_harmless() -> None:
    AsyncEventLoopThread().stop()


def test_the_server_module_and_the_internal_module_share_one_thread_class() -> None:
    assert AsyncEventLoopThread is event_loop.AsyncEventLoopThread


def test_started_thread_joins_once_stopped_and_closed_and_join_is_idempotent() -> None:
    thread = AsyncEventLoopThread([])
    thread.start()
    thread.start()  # a second start is ignored rather than raising
    assert thread.running

    async def where() -> threading.Thread:
        return threading.current_thread()

    assert thread.run_coroutine(where()).result(timeout=10) is thread
    thread.join()
    thread.join()

    assert not thread.running
    assert not thread.loop.is_running()
    assert thread.loop.is_closed()


def test_join_right_after_start_does_not_hang() -> None:
    thread = AsyncEventLoopThread()
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert thread.loop.is_closed()


def test_pending_coroutines_finish_before_the_loop_closes() -> None:
    thread = AsyncEventLoopThread()
    started = threading.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(0.2)  # still sleeping when join() below stops the loop
        return 'finished'

    future = thread.run_coroutine(slow())
    assert started.wait(timeout=10)
    thread.join()

    assert future.result(timeout=0) == 'finished'
    assert thread.loop.is_closed()


def test_coroutines_still_pending_after_the_grace_period_are_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop, '_SHUTDOWN_TIMEOUT_SECONDS', 0.05)
    thread = AsyncEventLoopThread()

    async def forever() -> None:
        await asyncio.Event().wait()

    future = thread.run_coroutine(forever())
    thread.join(timeout=10)

    assert future.cancelled()
    assert thread.loop.is_closed()


def test_run_coroutine_after_stop_raises_and_closes_the_coroutine() -> None:
    thread = AsyncEventLoopThread()
    thread.start()
    thread.stop()

    async def never() -> None:
        raise AssertionError('must not run')

    coroutine = never()
    with pytest.raises(RuntimeError):
        thread.run_coroutine(coroutine)
    assert coroutine.cr_frame is None  # closed, so no 'never awaited' warning


def test_loop_created_but_never_started_is_closed_by_stop() -> None:
    thread = AsyncEventLoopThread()
    loop = thread.loop
    thread.stop()
    assert loop.is_closed()


@fields.ClassConfigurationSchema.provider(fields.Dictionary({'name': fields.UnicodeString()}))
class Named(CoroutineMiddleware):
    def __init__(self, name: str) -> None:
        self.name = name


@fields.ClassConfigurationSchema.provider(fields.Dictionary({}))
class NotAMiddleware:
    pass


def test_coroutine_middleware_config_builds_middleware_and_rejects_bad_config() -> None:
    middleware = coroutine_middleware_config.contents.instantiate_from(
        {'path': f'{__name__}:Named', 'kwargs': {'name': 'x'}},
    )
    assert isinstance(middleware, Named) and middleware.name == 'x'

    for bad in (
        {'path': f'{__name__}:Named'},
        {'path': f'{__name__}:Named', 'kwargs': {'name': 3}},
        {'path': f'{__name__}:NotAMiddleware'},
    ):
        with pytest.raises(ValidationError):
            coroutine_middleware_config.contents.instantiate_from(bad)


class AsyncAction(Action):
    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:  # type: ignore[override]
        await asyncio.sleep(0)
        return {'thread': threading.current_thread().name}


class CallsRunCoroutine(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        async def double(x: int) -> int:
            return x * 2

        assert request.run_coroutine is not None
        return {'value': request.run_coroutine(double(4)).result(timeout=10)}


class AsyncServer(Server):
    service_name = 'async_service'
    action_class_map = {'async_action': AsyncAction, 'run_coroutine': CallsRunCoroutine}


def test_actions_get_the_servers_coroutine_runner() -> None:
    server = AsyncServer(ServerSettings({'transport': {'path': 'pysoa.common.transport.local:LocalServerTransport'}}))
    job = {
        'control': {'continue_on_error': False},
        'context': {'switches': [], 'correlation_id': 'c'},
        'actions': [{'action': 'async_action', 'body': {}}, {'action': 'run_coroutine', 'body': {}}],
    }
    try:
        response = server.process_job(job)
    finally:
        server._coroutine_runner.stop()

    assert [a.errors for a in response.actions] == [[], []]
    assert response.actions[0].body == {'thread': 'pysoa-async-event-loop'}
    assert response.actions[1].body == {'value': 8}
