"""Redis Cluster failover under traffic (issue 12, item 3): a coordinated `CLUSTER FAILOVER` on a replica, and a
master killed with SIGKILL, while client threads call two services (worker processes) on different masters.

The service on the failing master delivers at least once. Every call must return, or fail with a transient
transport error, within its timeout plus one second; and
traffic must recover, to every service, without restarting a client, a worker or a node. Each test takes a
cluster of its own, since it leaves the cluster changed. Every loop is bounded in count and in time.
"""

import threading
import time
from collections.abc import Callable

import attrs
import pytest
from redis.crc import key_slot

from pysoa.common.transport.errors import TransientPySOATransportError
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys
from pysoa.test.redis_cluster import RedisClusterProcesses
from pysoa.test.redis_server import RedisServerProcess
from pysoa.test.waiting import wait_until
from tests.cluster_fixture import StartClusterService, StartRedisCluster
from tests.cluster_helpers import cluster_client, names_on_distinct_masters, request_queue

CALL_TIMEOUT = 3.0
THREADS = 3
MAX_CALLS_PER_THREAD = 2000


@attrs.frozen
class Outcome:
    service: str
    started: float
    duration: float
    result: str
    """'ok', or the name of the exception class the call raised."""
    transient: bool


class Traffic:
    """Client threads calling `services` in turn until stopped (or `MAX_CALLS_PER_THREAD` calls each)."""

    def __init__(self, hosts: list[str], services: list[str]) -> None:
        self.hosts, self.services = hosts, services
        self.outcomes: list[Outcome] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(index,), daemon=True) for index in range(THREADS)]

    def __enter__(self) -> 'Traffic':
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CALL_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self._threads), 'a caller hung'

    def _run(self, index: int) -> None:
        client = cluster_client(self.hosts, self.services)
        for n in range(MAX_CALLS_PER_THREAD):
            if self._stop.is_set():
                return
            service = self.services[n % len(self.services)]
            message = f'{index}-{n}'
            started = time.monotonic()
            try:
                body = client.call_action(service, 'echo', {'message': message}, timeout=CALL_TIMEOUT).body
                result, transient = ('ok' if body == {'message': message} else f'wrong answer {body!r}'), True
            except TransientPySOATransportError as error:
                result, transient = type(error).__name__, True
            except Exception as error:  # recorded, and the test fails on it
                result, transient = repr(error), False
            with self._changed:
                self.outcomes.append(Outcome(service, started, time.monotonic() - started, result, transient))
                self._changed.notify_all()

    def wait_for_successes(self, since: float, count: int, timeout: float) -> bool:
        """Wait until every service has answered `count` calls started after `since`."""

        def enough() -> bool:
            return all(
                sum(1 for o in self.outcomes if o.service == name and o.started >= since and o.result == 'ok') >= count
                for name in self.services
            )

        with self._changed:
            return self._changed.wait_for(enough, timeout)


def _run_failover_under_traffic(
    start_redis_cluster: StartRedisCluster,
    start_cluster_service: StartClusterService,
    fail_over: Callable[[RedisClusterProcesses, RedisServerProcess, str], None],
) -> list[Outcome]:
    cluster = start_redis_cluster()
    hosts = cluster.startup_nodes
    services = names_on_distinct_masters(cluster, 2)
    # The service on the failing master delivers at least once; the other at most once, as 1.x.
    processes = [
        start_cluster_service(name, hosts, workers=2, at_least_once=index == 0)
        for index, (name, _) in enumerate(services)
    ]
    names = [name for name, _ in services]
    victim_service, victim = services[0]
    with Traffic(hosts, names) as traffic:
        assert traffic.wait_for_successes(since=0.0, count=5, timeout=30), 'no traffic before the failover'
        failed_at = time.monotonic()
        fail_over(cluster, victim, victim_service)
        recovered = traffic.wait_for_successes(since=time.monotonic(), count=10, timeout=30)
        recovered_in = time.monotonic() - failed_at
    outcomes = traffic.outcomes
    failures = [o for o in outcomes if o.result != 'ok']
    print(
        f'{len(outcomes)} calls, {len(failures)} failed ({sorted({o.result for o in failures})}); '
        f'traffic to every service recovered {recovered_in:.2f} s after the failover began'
    )
    assert recovered, 'traffic did not recover'
    assert [o for o in outcomes if not o.transient] == []
    assert [o for o in outcomes if o.duration > CALL_TIMEOUT + 1] == []
    assert cluster.master_for_key(request_queue(victim_service)) is not victim
    assert all(process.process is not None and process.process.poll() is None for process in processes)
    # Nothing stays in flight: every request taken by a worker was acknowledged (on the new master).
    new_master = cluster.client(cluster.master_for_key(request_queue(victim_service)))
    keys = DeliveryKeys(request_queue(victim_service))

    def in_flight() -> int:
        return sum(int(new_master.llen(key)) for key in new_master.scan_iter(keys.prefix + 'in-flight:*'))

    if not wait_until(lambda: in_flight() == 0, timeout=10):
        # What the workers said (without the job lines), for whoever reads the failure.
        print('\n'.join(line for line in processes[0].output().splitlines() if 'pysoa.server.job' not in line))
        raise AssertionError(f'{in_flight()} requests left in flight; failed calls: {failures}')
    return outcomes


@pytest.mark.timeout(180)
def test_cluster_failover_on_a_replica_under_traffic(
    start_redis_cluster: StartRedisCluster, start_cluster_service: StartClusterService
) -> None:
    def coordinated(cluster: RedisClusterProcesses, master: RedisServerProcess, service: str) -> None:
        [replica] = cluster.replicas_of(master)
        cluster.failover(replica)

    _run_failover_under_traffic(start_redis_cluster, start_cluster_service, coordinated)


@pytest.mark.timeout(180)
def test_a_master_killed_under_traffic(
    start_redis_cluster: StartRedisCluster, start_cluster_service: StartClusterService
) -> None:
    def sigkill(cluster: RedisClusterProcesses, master: RedisServerProcess, service: str) -> None:
        cluster.kill(master)
        cluster.wait_for_new_master(key_slot(request_queue(service).encode()), master, timeout=30)

    _run_failover_under_traffic(start_redis_cluster, start_cluster_service, sigkill)
