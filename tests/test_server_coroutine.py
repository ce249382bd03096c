"""request.run_coroutine: the worker's event loop thread and coroutine middleware."""

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from pysoa.server.action.base import Action
from pysoa.server.coroutine import AsyncEventLoopThread, CoroutineMiddleware, DefaultCoroutineMiddleware
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
