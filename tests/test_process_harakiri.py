"""Harakiri and heartbeat in real workers.

A job stuck past `harakiri.timeout` is answered with a timeout error and its worker is replaced;
each worker keeps a heartbeat file while it lives.
"""

import os
import time
from pathlib import Path

import pytest

from examples.echo_client import make_client
from pysoa.common.constants import ERROR_CODE_ACTION_TIMEOUT, ERROR_CODE_JOB_TIMEOUT
from pysoa.server.exit_status import HARAKIRI_EXIT_STATUS
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until
from tests.conftest import StartService


@pytest.fixture
def service(start_service: StartService) -> ServiceProcess:
    # The idle receive (1 s in the example settings) must end well before the harakiri timeout.
    env = {'ECHO_HARAKIRI_TIMEOUT': '2', 'ECHO_HARAKIRI_SHUTDOWN_GRACE': '2'}
    return start_service(2, env=env, stop_timeout=10)


def test_a_stuck_job_gets_a_timeout_error_and_its_worker_is_replaced(service: ServiceProcess, redis_url: str) -> None:
    client = make_client(redis_url)
    before = service.wait_for_workers()

    started = time.monotonic()
    response = client.call_action('echo', 'sleep', {'seconds': 30}, raise_action_errors=False, timeout=20)
    assert time.monotonic() - started < 10

    codes = {error.code for error in response.errors}
    assert codes & {ERROR_CODE_ACTION_TIMEOUT, ERROR_CODE_JOB_TIMEOUT}, response

    def replaced() -> bool:
        now = service.worker_pids()
        return len(now) == 2 and len(set(now.values()) & set(before.values())) == 1

    assert wait_until(replaced, timeout=15), service.output()
    assert client.call_action('echo', 'square', {'number': 3}).body == {'square': 9}
    # The worker exited with the harakiri status, and was respawned without counting as a crash.
    assert 'exited with code 3' in service.output()
    assert 'which was stopped by harakiri' in service.output()


def test_a_single_worker_stopped_by_harakiri_exits_with_the_harakiri_status(
    start_service: StartService, redis_url: str
) -> None:
    # Without --fork nothing respawns the worker: its supervisor must see that it did not stop on request.
    env = {'ECHO_HARAKIRI_TIMEOUT': '2', 'ECHO_HARAKIRI_SHUTDOWN_GRACE': '2'}
    service = start_service(1, env=env, stop_timeout=10)
    response = make_client(redis_url).call_action(
        'echo', 'sleep', {'seconds': 30}, raise_action_errors=False, timeout=20
    )
    assert {error.code for error in response.errors} & {ERROR_CODE_ACTION_TIMEOUT, ERROR_CODE_JOB_TIMEOUT}
    assert service.wait(timeout=15) == HARAKIRI_EXIT_STATUS, service.output()


def test_each_worker_keeps_a_heartbeat_file_and_removes_it_when_it_stops(service: ServiceProcess) -> None:
    assert service.heartbeat_dir is not None
    tmp_path = Path(service.heartbeat_dir)
    workers = service.wait_for_workers()
    files = {number: tmp_path / f'hb-{number}-{pid}' for number, pid in workers.items()}
    first_beats = {number: float(path.read_text() or 0) for number, path in files.items()}
    for beat in first_beats.values():
        assert abs(beat - time.time()) < 30

    # Idle workers beat at most every 2.5 s, at the end of each (1 s) receive.
    assert wait_until(
        lambda: all(float(path.read_text() or 0) > first_beats[number] for number, path in files.items()), timeout=10
    )

    assert service.stop(timeout=15) == 0
    assert not [name for name in os.listdir(tmp_path) if name.startswith('hb-')]
