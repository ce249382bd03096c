"""The at-least-once heartbeat thread outlives an outage, including one that stops it finding its servers."""

import threading

import pytest
import redis

from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.liveness import WorkerHeartbeat, new_worker_id
from pysoa.test.waiting import wait_until
from tests.test_cli import free_port


def test_the_heartbeat_survives_failing_to_find_its_servers_and_beats_once_they_are_back(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    keys = DeliveryKeys('pysoa:service.liveness-test')
    worker = new_worker_id()
    servers_found = threading.Event()
    calls = 0

    def connections() -> list[redis.Redis]:
        # As the Sentinel backend does mid-failover: asking where the servers are fails for a while.
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise redis.ConnectionError('no master for this service (failover under way?)')
        servers_found.set()
        return [connection]

    heartbeat = WorkerHeartbeat(keys, worker, connections, interval=0.05, expiry=5)
    failures: list[BaseException] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: failures.append(args.exc_value or RuntimeError(str(args)))
    try:
        assert heartbeat.beat() is False  # the first lookup fails: reported, not raised
        heartbeat.ensure_running()
        assert servers_found.wait(timeout=10)
        assert wait_until(lambda: connection.exists(keys.heartbeat(worker)) == 1, timeout=10)
    finally:
        heartbeat.stop()
        threading.excepthook = previous_hook
        connection.delete(keys.heartbeat(worker), keys.workers)
        connection.close()
    assert failures == []


def test_stopping_the_heartbeat_ends_its_thread_while_no_master_can_be_found(caplog: pytest.LogCaptureFixture) -> None:
    # Sentinels that are gone (torn down after a failover test, say): finding the master retries for minutes with
    # these settings. The heartbeat must not stay behind in that loop after `stop`, drawing on the process.
    backend = SentinelRedisClient(
        hosts=[('127.0.0.1', free_port())], sentinel_services=['gone'], sentinel_failover_retries=8
    )
    looking = threading.Event()

    def connections() -> list[redis.Redis]:
        if not looking.is_set():  # the first beat, in `ensure_running`: the master is not looked for yet
            looking.set()
            return []
        return backend.all_connections()

    worker = new_worker_id()
    heartbeat = WorkerHeartbeat(DeliveryKeys('pysoa:service.gone'), worker, connections, interval=0.2, expiry=5)

    def heartbeat_threads() -> list[threading.Thread]:
        return [thread for thread in threading.enumerate() if thread.name == f'pysoa-heartbeat-{worker}']

    heartbeat.ensure_running()
    assert len(heartbeat_threads()) == 1
    # Wait until the thread is inside the search for the master (each try logs that no master was found).
    assert wait_until(lambda: any('No Redis master found' in r.getMessage() for r in caplog.records), timeout=10)
    heartbeat.stop()
    assert heartbeat_threads() == []
