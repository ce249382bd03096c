"""The at-least-once heartbeat thread outlives an outage, including one that stops it finding its servers."""

import threading

import redis

from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys
from pysoa.common.transport.redis_gateway.liveness import WorkerHeartbeat, new_worker_id
from pysoa.test.waiting import wait_until


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
