"""pysoa.server.worker and pysoa.server.request_state: the back-off of the process loop, and per-request state
that lives in context variables (so that requests served at once in several threads keep their own)."""

import threading
import time
from typing import Any

import pytest

from pysoa.client.client import Client
from pysoa.common.transport.errors import MessageReceiveError
from pysoa.server import worker
from pysoa.server.request_state import (
    ServedRequest,
    bind_deadline,
    current_deadline,
    current_request,
    idle_timer,
    serving,
    stop_idle_timer,
)
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings

LOCAL = {'transport': {'path': 'pysoa.common.transport.local:LocalServerTransport'}}


class Plain(Server):
    service_name = 'plain'


def test_the_served_request_reads_its_meta_once() -> None:
    request = ServedRequest.received(7, {'client_version': [1, 2, 3], '__expiry__': 1700000000})
    assert (request.request_id, request.client_version, request.deadline) == (7, (1, 2, 3), 1700000000.0)
    assert ServedRequest.received(7, {'__expiry__': 'soon'}).deadline is None  # served, without a deadline
    assert ServedRequest.received(7, {}).client_version == (0, 40, 0)


def test_serving_sets_the_current_request_and_restores_the_outer_one() -> None:
    outer, inner = ServedRequest.received(1, {'__expiry__': 100.0}), ServedRequest.received(2, {})
    assert current_request() is None
    with serving(outer):
        with serving(inner):
            assert current_request() is inner and current_deadline() is None
        assert current_request() is outer and current_deadline() == 100.0
    assert current_request() is None


def test_a_client_gets_the_deadline_of_the_request_served_only_while_it_is_served() -> None:
    server = Plain(ServerSettings(LOCAL))
    with serving(ServedRequest.received(1, {'__expiry__': time.time() + 30})):
        inside = server.make_client({})
        assert server._request_deadline == inside._deadline
    assert inside._deadline is not None
    assert server.make_client({})._deadline is None
    assert bind_deadline('not a client') == 'not a client'


def test_requests_served_in_two_threads_at_once_keep_their_own_deadlines() -> None:
    both_serving = threading.Barrier(2, timeout=10)
    seen: dict[str, float | None] = {}

    def serve(name: str, expiry: float) -> None:
        with serving(ServedRequest.received(1, {'__expiry__': expiry})):
            both_serving.wait()  # each thread is inside its own request while the other is inside its own
            seen[name] = bind_deadline(Client({}))._deadline

    threads = [threading.Thread(target=serve, args=(name, expiry)) for name, expiry in (('a', 111.0), ('b', 222.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {'a': 111.0, 'b': 222.0}


class NoAlarm:
    def arm(self) -> None:
        """Nothing to arm: the loop ends by itself."""


class RecordingTimer:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def start(self) -> None:
        self.log.append(f'{self.name} start')

    def stop(self) -> None:
        self.log.append(f'{self.name} stop')


class RecordingMetrics:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def timer(self, name: str, **kwargs: Any) -> RecordingTimer:
        return RecordingTimer(self.log, self.name)


def test_each_server_times_its_own_idle_spells_in_a_thread_it_shares() -> None:
    log: list[str] = []
    one, two = object(), object()
    metrics_one, metrics_two = RecordingMetrics('one', log), RecordingMetrics('two', log)

    timer = idle_timer(one, metrics_one)  # type: ignore[arg-type]  # a recorder with only a timer
    assert idle_timer(one, metrics_one) is timer  # type: ignore[arg-type]
    stop_idle_timer(two)  # not its timer: nothing happens
    idle_timer(two, metrics_two)  # type: ignore[arg-type]
    stop_idle_timer(two)
    stop_idle_timer(two)
    assert log == ['one start', 'two start', 'two stop']


def test_the_loop_backs_off_with_the_shared_jittered_back_off_and_forgives_one_failure_per_success(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[int] = []

    def backoff(attempt: int) -> float:
        attempts.append(attempt)
        return 0.0

    monkeypatch.setattr(worker, 'jittered_backoff', backoff)
    server = Plain(ServerSettings(LOCAL))
    outcomes = iter([MessageReceiveError('1'), MessageReceiveError('2'), 'ok', MessageReceiveError('3'), 'stop'])

    def handle_next_request() -> None:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        server.shutting_down = outcome == 'stop'

    server.handle_next_request = handle_next_request  # type: ignore[method-assign]
    server._sleep_unless_shutting_down = lambda seconds: None  # type: ignore[method-assign]
    server._loop(NoAlarm())

    assert attempts == [0, 1, 1]


def test_the_back_off_pause_ends_as_soon_as_the_worker_is_asked_to_stop() -> None:
    asked = threading.Event()
    asked.set()
    started = time.monotonic()
    worker.sleep_unless(asked.is_set, 30)
    assert time.monotonic() - started < 5
    worker.sleep_unless(lambda: False, 0)
