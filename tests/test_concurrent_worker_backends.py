"""The concurrent worker (`concurrency` 10, async actions) on Sentinel and on Redis Cluster, in real worker processes.

Each test sends several calls at once, from a `Client`'s awaited calls on one loop (native on both backends), and
checks each answer by its content; a barrier that opens only when ten jobs wait at once shows that they overlapped.
On the cluster, a concurrent worker killed mid-jobs with at-least-once delivery has each of its jobs answered exactly
once, by the worker that takes over (the pattern of `test_concurrent_worker`). On Sentinel, a request the worker takes
is served only when the failover guard, asked about the connection that took it, agrees.
"""

import asyncio
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import TransientPySOATransportError
from pysoa.common.transport.redis_gateway.async_server import AsyncRedisServerTransport
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.test.redis_cluster import RedisClusterProcesses
from pysoa.test.service_process import ServiceProcess
from tests.cluster_helpers import cluster_client, request_queue
from tests.conftest import StartService
from tests.test_concurrent_worker import SERVICE, barrier, killed_worker_s_jobs_are_answered_once
from tests.test_redis_sentinel import JOB, MASTER_NAME, SentinelCluster
from tests.test_redis_sentinel import cluster as sentinels  # noqa: F401  # the fixture, shared rather than copied

DELIVERIES = ['at-most-once', 'at-least-once']


def sentinel_client(group: SentinelCluster) -> Client:
    transport = {
        'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
        'kwargs': {
            'backend_type': 'redis.sentinel',
            'backend_layer_kwargs': {'hosts': group.hosts, 'sentinel_services': [MASTER_NAME]},
            'receive_timeout_in_seconds': 30,
        },
    }
    return Client({'concurrent': {'transport': transport}})


def start_on(start_service: StartService, delivery: str, concurrency: int = 10, **env: str) -> ServiceProcess:
    if delivery == 'at-least-once':
        env['CONCURRENT_DELIVERY'] = delivery
    return start_service(workers=1, **SERVICE, env={'CONCURRENCY': str(concurrency), **env})


async def ten_at_once(client: Client, tag: str) -> list[Any]:
    """Ten barrier jobs (met only if all ten run at once) and ten labelled sleeps, all sent at once."""
    barriers = [client.call_action_async('concurrent', **barrier(f'{tag}-ten', 10, timeout=20)) for _ in range(10)]
    sleeps = [
        client.call_action_async('concurrent', 'sleep', {'seconds': 0.05 * (n % 4), 'label': f'{tag}-{n}'})
        for n in range(10)
    ]
    return list(await asyncio.gather(*barriers, *sleeps))


def check_answers(responses: list[Any], tag: str) -> None:
    met, slept = responses[:10], responses[10:]
    assert [response.body['met'] for response in met] == [True] * 10, [r.body for r in met]
    assert [response.body['label'] for response in slept] == [f'{tag}-{n}' for n in range(10)]
    assert len({response.body['pid'] for response in slept}) == 1  # the one concurrent worker


@pytest.mark.timeout(120)
@pytest.mark.parametrize('delivery', DELIVERIES)
def test_a_concurrent_worker_serves_through_sentinel(
    sentinels: SentinelCluster,  # noqa: F811  # the fixture imported above
    start_service: StartService,
    delivery: str,
) -> None:
    addresses = ','.join(f'{host}:{port}' for host, port in sentinels.hosts)
    start_on(
        start_service,
        delivery,
        CONCURRENT_BACKEND='redis.sentinel',
        SENTINELS=addresses,
        SENTINEL_SERVICE=MASTER_NAME,
    )
    client = sentinel_client(sentinels)
    check_answers(asyncio.run(ten_at_once(client, f'sentinel-{delivery}')), f'sentinel-{delivery}')


@pytest.mark.timeout(120)
@pytest.mark.parametrize('delivery', DELIVERIES)
def test_a_concurrent_worker_serves_through_a_redis_cluster(
    redis_cluster: RedisClusterProcesses, cluster_hosts: list[str], start_service: StartService, delivery: str
) -> None:
    start_on(start_service, delivery, CONCURRENT_BACKEND='redis.cluster', CLUSTER_HOSTS=','.join(cluster_hosts))
    client = cluster_client(cluster_hosts, ['concurrent'])
    check_answers(asyncio.run(ten_at_once(client, f'cluster-{delivery}')), f'cluster-{delivery}')
    master = redis_cluster.client(redis_cluster.master_for_key(request_queue('concurrent')))
    assert master.llen(request_queue('concurrent')) == 0


@pytest.mark.timeout(60)
def test_a_request_taken_through_sentinel_is_served_only_when_the_failover_guard_agrees(
    sentinels: SentinelCluster,  # noqa: F811  # the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kwargs = {
        'backend_type': 'redis.sentinel',
        'backend_layer_kwargs': {'hosts': sentinels.hosts, 'sentinel_services': [MASTER_NAME]},
        'receive_timeout_in_seconds': 1,
    }
    server = RedisServerTransport('guarded', noop_metrics, **kwargs)
    client = RedisClientTransport('guarded', noop_metrics, **kwargs)
    verdicts: list[bool] = []
    overruled = [True]
    confirm_taken_at = SentinelRedisClient.confirm_taken_at

    def guard(self: SentinelRedisClient, *args: Any) -> bool:
        # The real guard (WAIT and INFO on the connection that took the request, which has a replica to reach).
        verdicts.append(confirm_taken_at(self, *args))
        return verdicts[-1] and not overruled[0]

    monkeypatch.setattr(SentinelRedisClient, 'confirm_taken_at', guard)
    side = AsyncRedisServerTransport(server)
    side.start()

    async def receive() -> list[Any]:
        try:
            return await side.receive(2)
        finally:
            await side.close()

    client.send_request_message(1, {}, JOB)
    with pytest.raises(TransientPySOATransportError):
        asyncio.run(receive())  # as after a failover: the request taken is not served here
    overruled[0] = False
    client.send_request_message(2, {}, JOB)
    [received] = asyncio.run(receive())
    assert received.request_id == 2
    assert verdicts == [True, True]
    server.close()


@pytest.mark.timeout(120)
def test_at_least_once_on_a_cluster_a_killed_concurrent_worker_s_jobs_are_answered_once(
    redis_cluster: RedisClusterProcesses, cluster_hosts: list[str], start_service: StartService
) -> None:
    env = {'CONCURRENT_BACKEND': 'redis.cluster', 'CLUSTER_HOSTS': ','.join(cluster_hosts)}

    def start_worker() -> ServiceProcess:
        return start_on(start_service, 'at-least-once', 5, **env)

    queue = request_queue('concurrent')
    master = redis_cluster.client(redis_cluster.master_for_key(queue))  # every key of the service lives there
    killed_worker_s_jobs_are_answered_once(start_worker, cluster_client(cluster_hosts, ['concurrent']), master, queue)
