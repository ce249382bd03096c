"""Fault tests of at-least-once delivery with real processes (issue 10, item 9), each bounded in time:
a worker killed mid-request, a Redis restart with requests queued, and a poison request.

The service is `tests.alo_service` (the echo service with `'delivery': 'at-least-once'`, heartbeats that lapse
after 1.5 s, and `max_deliveries` 2). Every wait polls a condition with a deadline; nothing sleeps to wait.
"""

import os
import signal
import time
from pathlib import Path

import pytest
import redis

from examples.echo_client import make_client
from pysoa.common.constants import ERROR_CODE_SERVER_ERROR
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys
from pysoa.common.transport.redis_gateway.dead_letters import DeadLetters
from pysoa.test.redis_server import RedisServerProcess, find_redis_server_binary
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until
from tests.conftest import StartService
from tests.paths import PROJECT_ROOT

KEYS = DeliveryKeys('pysoa:service.echo')
SERVICE = {'module': 'tests.alo_service', 'settings': 'tests.alo_service.settings'}


def busy_worker_pids(connection: redis.Redis) -> set[int]:
    """The PIDs of the workers holding a request in flight (a worker id is `host:pid:nonce`)."""
    pids = set()
    for key in connection.scan_iter(KEYS.prefix + 'in-flight:*'):
        if connection.llen(key):
            pids.add(int(key.decode().rsplit(':', 2)[1]))
    return pids


def nothing_left(connection: redis.Redis) -> bool:
    in_flight = sum(connection.llen(key) for key in connection.scan_iter(KEYS.prefix + 'in-flight:*'))
    return in_flight == 0 and connection.llen(KEYS.queue) == 0


def runs(path: Path) -> list[str]:
    return path.read_text().split()[::2] if path.exists() else []


@pytest.mark.timeout(90)
def test_a_worker_killed_mid_request_is_replaced_and_the_caller_gets_one_response(
    start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    runs_file = tmp_path / 'runs'
    start_service(workers=2, **SERVICE, env={'ALO_RUNS_FILE': str(runs_file)})
    client = make_client(redis_url)
    connection = redis.Redis.from_url(redis_url)
    try:
        request_id = client.send_request('echo', [{'action': 'sleep', 'body': {'seconds': 3}}])
        assert wait_until(lambda: bool(busy_worker_pids(connection)), timeout=10)
        [victim] = busy_worker_pids(connection)
        started = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        [(answered_id, response)] = list(client.get_all_responses('echo', receive_timeout_in_seconds=30))
        recovered_in = time.monotonic() - started
        assert answered_id == request_id and not response.errors
        assert response.actions[0].body['pid'] != victim  # run again, by another worker
        # Exactly one response: nothing is left to run, and nothing more arrives for the caller.
        assert wait_until(lambda: nothing_left(connection), timeout=10)
        reply_queues = list(connection.scan_iter('pysoa:service.echo.*'))
        assert sum(connection.llen(queue) for queue in reply_queues) == 0
        print(f'killed worker {victim}; answered by another worker {recovered_in:.2f} s later')
    finally:
        connection.close()


@pytest.mark.timeout(90)
def test_a_poison_request_becomes_a_dead_letter_and_its_caller_is_told(
    start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    runs_file = tmp_path / 'runs'
    start_service(workers=2, **SERVICE, env={'ALO_RUNS_FILE': str(runs_file), 'ALO_MAX_DELIVERIES': '2'})
    client = make_client(redis_url)
    started = time.monotonic()
    response = client.call_actions('echo', [{'action': 'crash'}], raise_job_errors=False, timeout=40)
    elapsed = time.monotonic() - started

    assert [error.code for error in response.errors] == [ERROR_CODE_SERVER_ERROR]
    assert 'dead letter' in response.errors[0].message
    assert runs(runs_file) == ['crash', 'crash']  # delivered twice, run twice, never a third time
    [letter] = DeadLetters('echo', backend_layer_kwargs={'hosts': [redis_url]}).list()
    assert (letter.reason, letter.deliveries) == ('max_deliveries', 3)
    # The service still serves.
    assert client.call_action('echo', 'echo', {'message': 'still here'}, timeout=10).body == {'message': 'still here'}
    print(f'poison request dead-lettered and its caller told after {elapsed:.2f} s')


@pytest.mark.timeout(120)
def test_requests_queued_across_a_redis_restart_are_all_answered(tmp_path: Path) -> None:
    binary = find_redis_server_binary()
    if binary is None:
        pytest.skip('no redis-server')
    durable = ('--appendonly', 'yes', '--appendfsync', 'always')
    first = RedisServerProcess(binary=binary, extra_args=durable).start()
    second: RedisServerProcess | None = None
    service = ServiceProcess(
        SERVICE['module'],
        SERVICE['settings'],
        workers=1,
        env={'PYSOA_REDIS_URL': first.url, 'ALO_RUNS_FILE': str(tmp_path / 'runs')},
        python_path=[str(PROJECT_ROOT)],
        cwd=str(PROJECT_ROOT),
        heartbeat_dir=str(tmp_path),
        heartbeat_env='ECHO_HEARTBEAT_FILE',
    )
    connection = redis.Redis.from_url(first.url)
    try:
        service.start()
        service.wait_for_workers()
        client = make_client(first.url)
        sent = [
            client.send_request('echo', [{'action': 'sleep', 'body': {'seconds': 1}}], message_expiry_in_seconds=60)
        ]
        sent += [
            client.send_request('echo', [{'action': 'count', 'body': {'label': f'r{n}'}}], message_expiry_in_seconds=60)
            for n in range(20)
        ]
        assert wait_until(lambda: bool(busy_worker_pids(connection)), timeout=10)
        # Redis dies with a request in flight and 20 queued, and comes back from its append-only file.
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        second = RedisServerProcess(
            port=first.port, binary=binary, extra_args=(*durable, '--dir', str(first.directory))
        )
        second.start()

        answered = dict(client.get_all_responses('echo', receive_timeout_in_seconds=30))
        assert sorted(answered) == sorted(sent)
        assert all(not response.errors for response in answered.values())
        assert sorted(runs(tmp_path / 'runs')) == sorted(f'r{n}' for n in range(20))  # each run exactly once
    finally:
        connection.close()
        service.stop(timeout=20)
        service.cleanup()
        if second is not None:
            second.stop()
        first.stop()
