"""Stopping a service with signals: the running job finishes and is answered, nothing more is pulled; twice forces."""

import signal
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from examples.echo_client import make_client
from pysoa.client import Client
from pysoa.test.waiting import wait_until
from tests.conftest import StartService

QUEUE = 'pysoa:service.echo'


@pytest.fixture
def queue_length(redis_url: str) -> Iterator[Callable[[], int]]:
    connection = redis.Redis.from_url(redis_url)
    yield lambda: int(connection.llen(QUEUE))
    connection.close()


def _send_sleeps(client: Client, count: int, seconds: float) -> list[int]:
    return [client.send_request('echo', [{'action': 'sleep', 'body': {'seconds': seconds}}]) for _ in range(count)]


@pytest.mark.parametrize('workers', [1, 2], ids=['single-process', 'forked'])
def test_sigterm_lets_running_jobs_finish_and_pulls_nothing_more(
    start_service: StartService, redis_url: str, queue_length: Callable[[], int], workers: int
) -> None:
    service = start_service(workers)
    client = make_client(redis_url)
    request_ids = _send_sleeps(client, workers, seconds=1.5)
    assert wait_until(lambda: queue_length() == 0, timeout=10)  # every worker has pulled one slow job

    service.signal(signal.SIGTERM)
    late_client = make_client(redis_url)
    late_client.send_request('echo', [{'action': 'echo', 'body': {'message': 'too late'}}])

    responses = dict(client.get_all_responses('echo', receive_timeout_in_seconds=10))
    assert sorted(responses) == sorted(request_ids)
    for response in responses.values():
        assert response.errors == []
        assert response.actions[0].errors == []
        assert response.actions[0].body['slept'] >= 1.5
    assert service.wait(timeout=15) == 0
    assert queue_length() == 1  # the request sent after the signal is left for another worker


@pytest.mark.parametrize('workers', [1, 2], ids=['single-process', 'forked'])
def test_a_second_sigterm_forces_exit_without_waiting_for_the_job(
    start_service: StartService, redis_url: str, queue_length: Callable[[], int], workers: int
) -> None:
    service = start_service(workers)
    client = make_client(redis_url)
    _send_sleeps(client, workers, seconds=30)
    assert wait_until(lambda: queue_length() == 0, timeout=10)

    started = time.monotonic()
    service.signal(signal.SIGTERM)
    # The second signal must come after every worker handled the first, or it is just a duplicate of it.
    assert wait_until(lambda: service.output().count('shutting down after the current job') == workers, timeout=10), (
        service.output()
    )
    service.signal(signal.SIGTERM)

    code = service.wait(timeout=15)
    assert time.monotonic() - started < 15
    if workers == 1:
        assert code == 1
    assert wait_until(lambda: service.output().count('forcing shutdown') >= workers, timeout=5), service.output()
