"""`--fork N` with real worker processes over a private Redis: parallel service, respawn, `--no-respawn`, give-up."""

import os
import signal
import time

import pytest

from examples.echo_client import make_client
from pysoa.client import Client
from pysoa.server.exit_status import FAILURE_EXIT_STATUS
from pysoa.test.waiting import wait_until
from tests.conftest import StartService


@pytest.fixture
def client(redis_url: str) -> Client:
    return make_client(redis_url)


def _serving_pids(client: Client, calls: int = 6) -> set[int]:
    responses = client.call_actions_parallel('echo', [{'action': 'sleep', 'body': {'seconds': 0.2}}] * calls)
    return {response.body['pid'] for response in responses}


def test_two_workers_serve_in_parallel(start_service: StartService, client: Client) -> None:
    service = start_service(workers=2)
    workers = service.wait_for_workers()
    assert set(workers) == {1, 2}
    assert service.pid not in workers.values()  # the parent supervises, it does not serve

    started = time.monotonic()
    responses = list(client.call_actions_parallel('echo', [{'action': 'sleep', 'body': {'seconds': 0.6}}] * 4))
    elapsed = time.monotonic() - started

    assert {r.body['pid'] for r in responses} == set(workers.values())
    assert elapsed < 4 * 0.6  # two at a time, not one after the other
    numbers = {r.body['worker'] for r in client.call_actions_parallel('echo', [{'action': 'whoami', 'body': {}}] * 8)}
    assert numbers <= {1, 2}


def test_a_killed_worker_is_respawned_and_the_new_one_serves(start_service: StartService, client: Client) -> None:
    service = start_service(workers=2)
    before = service.wait_for_workers()

    os.kill(before[1], signal.SIGKILL)
    assert wait_until(lambda: service.worker_pids().get(1, before[1]) != before[1], timeout=15), service.output()

    after = service.worker_pids()
    assert after[2] == before[2]
    assert after[1] not in before.values()
    assert wait_until(lambda: after[1] in _serving_pids(client), timeout=15)
    assert service.process is not None and service.process.poll() is None
    assert 'Re-spawning failed server process #1' in service.output()


def test_with_no_respawn_dead_workers_stay_dead_and_the_parent_exits_with_the_last(
    start_service: StartService, client: Client
) -> None:
    service = start_service(workers=2, extra_args=('--no-respawn',))
    workers = service.wait_for_workers()

    os.kill(workers[1], signal.SIGKILL)
    assert wait_until(lambda: 1 not in service.worker_pids(), timeout=10)
    assert _serving_pids(client, calls=4) == {workers[2]}
    assert service.process is not None and service.process.poll() is None

    os.kill(workers[2], signal.SIGKILL)
    # Nobody asked the service to stop and it serves no more: a supervisor must see a failure.
    assert service.wait(timeout=10) == FAILURE_EXIT_STATUS


def test_with_no_respawn_workers_asked_to_stop_leave_a_parent_that_exits_zero(start_service: StartService) -> None:
    service = start_service(workers=2, extra_args=('--no-respawn',))
    for pid in service.wait_for_workers().values():
        os.kill(pid, signal.SIGTERM)
    assert service.wait(timeout=15) == 0


def test_a_worker_that_keeps_crashing_is_given_up(start_service: StartService, client: Client) -> None:
    service = start_service(workers=2)
    for _ in range(3):  # three crashes in quick succession: each one respawned
        pid = service.wait_for_workers()[1]
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: service.worker_pids().get(1, pid) != pid, timeout=15), service.output()  # noqa: B023

    os.kill(service.worker_pids()[1], signal.SIGKILL)  # the fourth within 15 seconds: not respawned
    assert wait_until(lambda: 'Server process #1 not respawned' in service.output(), timeout=10), service.output()
    assert 1 not in service.worker_pids()
    assert 2 in service.worker_pids()
    assert _serving_pids(client, calls=2) == {service.worker_pids()[2]}


def test_a_worker_stopped_by_its_own_sigterm_is_respawned_without_counting_as_a_crash(
    start_service: StartService, client: Client
) -> None:
    service = start_service(workers=2)
    # Four clean exits in quick succession: four crashes would exhaust the respawn policy (3 in 15 s).
    for _ in range(4):
        pid = service.wait_for_workers()[1]
        os.kill(pid, signal.SIGTERM)
        assert wait_until(lambda: service.worker_pids().get(1, pid) != pid, timeout=15), service.output()  # noqa: B023

    output = service.output()
    assert 'Re-spawning failed' not in output
    assert 'not respawned' not in output
    assert output.count('Re-spawning server process #1, which exited cleanly') == 4
    respawned = service.wait_for_workers()[1]
    assert wait_until(lambda: respawned in _serving_pids(client), timeout=15)
