"""The asyncio side of the Redis Cluster backend (`AsyncClusterRing`) on a real cluster of 3 masters and 3 replicas:
the commands an asyncio transport sends (EVALSHA of the send script, BLPOP, under a time limit) reach the master of
the key's slot, interoperate with the blocking backend, follow a `CLUSTER FAILOVER`, and refuse what the blocking
backend refuses; a `Client`'s awaited calls of a service on the cluster run on the loop, with no thread.
"""

import asyncio
import time
from typing import Any

import pytest
import redis

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import InvalidMessageError
from pysoa.common.transport.redis_gateway.backend import async_commands
from pysoa.common.transport.redis_gateway.backend.async_cluster import AsyncClusterRing
from pysoa.common.transport.redis_gateway.backend.cluster import NotAClusterError
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.test.redis_cluster import RedisClusterProcesses
from tests.cluster_fixture import StartClusterService
from tests.cluster_helpers import cluster_client, cluster_transport_kwargs, names_on_distinct_masters, request_queue


async def _push(ring: AsyncClusterRing, key: str, element: bytes) -> None:
    # What an asyncio transport sends: EVALSHA of the send script, and the source once on NOSCRIPT.
    connection = await ring.connection(key)
    assert await async_commands.push(ring.script_runner(connection), key, element, expiry=60, capacity=100, seconds=2)


async def _pop(ring: AsyncClusterRing, key: str, timeout: float) -> object:
    connection = await ring.connection(key)
    return await async_commands.pop(connection, key, timeout, timeout + 0.5)


def test_asyncio_commands_reach_the_slot_master_and_meet_the_blocking_side(
    redis_cluster: RedisClusterProcesses, cluster_hosts: list[str]
) -> None:
    [(name, master)] = names_on_distinct_masters(redis_cluster, 1)
    kwargs = cluster_transport_kwargs(cluster_hosts, receive_timeout_in_seconds=2)
    server = RedisServerTransport(name, noop_metrics, **kwargs)
    client = RedisClientTransport(name, noop_metrics, **kwargs)
    reply_key = 'pysoa:' + client._reply_queue_name(client._thread_state)

    meta: dict[str, Any] = {'reply_to': reply_key[len('pysoa:') :]}
    body = {'actions': [{'action': 'echo', 'body': {}}]}
    element, _ = client.core.encode_message(5, meta, body, 60)
    assert isinstance(element, bytes)

    async def push() -> None:
        ring = AsyncClusterRing(hosts=cluster_hosts)
        try:
            await _push(ring, request_queue(name), element)
        finally:
            await ring.close()

    # Pushed by the asyncio side onto the master of the service's slot, and served from there by a blocking server.
    asyncio.run(push())
    assert redis_cluster.client(master).lrange(request_queue(name), 0, -1) == [element]
    request_id, received_meta, received_body = server.receive_request_message()
    assert (request_id, received_body) == (5, body)

    server.send_response_message(request_id, received_meta, {'actions': []})

    async def receive_reply() -> object:
        ring = AsyncClusterRing(hosts=cluster_hosts)
        try:
            return await _pop(ring, reply_key, 2)
        finally:
            await ring.close()

    reply = asyncio.run(receive_reply())
    assert isinstance(reply, bytes) and reply.startswith(b'pysoa-redis/3//')


@pytest.mark.timeout(120)
def test_asyncio_commands_follow_a_cluster_failover(
    redis_cluster: RedisClusterProcesses, cluster_hosts: list[str]
) -> None:
    [(name, master)] = names_on_distinct_masters(redis_cluster, 1)
    key = request_queue(name) + '.0123456789abcdef0123456789abcdef!0123456789ab'

    async def scenario() -> tuple[list[str], float]:
        ring = AsyncClusterRing(hosts=cluster_hosts)
        outcomes: list[str] = []
        try:
            await _push(ring, key, b'before')
            assert await _pop(ring, key, 1) == b'before'
            [replica] = redis_cluster.replicas_of(master)
            await asyncio.to_thread(redis_cluster.failover, replica)
            failed_over_at = time.monotonic()
            for n in range(100):  # bounded: until one push and pop go through on the new master
                started = time.monotonic()
                try:
                    await _push(ring, key, b'after %d' % n)
                    if await _pop(ring, key, 1) == b'after %d' % n:
                        outcomes.append('ok')
                        break
                except (redis.RedisError, TimeoutError) as error:
                    outcomes.append(type(error).__name__)
                assert time.monotonic() - started < 5
            return outcomes, time.monotonic() - failed_over_at
        finally:
            await ring.close()

    outcomes, recovered_in = asyncio.run(scenario())
    print(f'asyncio commands after the failover: {outcomes} ({recovered_in:.2f} s)')
    assert outcomes[-1] == 'ok'
    assert redis_cluster.master_for_key(key) is not master


def test_asyncio_ring_refuses_a_standalone_redis_and_untagged_queues(redis_url: str, cluster_hosts: list[str]) -> None:
    async def scenario() -> None:
        ring = AsyncClusterRing(hosts=[redis_url])
        with pytest.raises(NotAClusterError, match="use backend_type 'redis.standard'"):
            await ring.connection('pysoa:{service.echo}')
        await ring.close()
        ring = AsyncClusterRing(hosts=cluster_hosts)
        with pytest.raises(InvalidMessageError, match='no hash tag'):
            await ring.connection('pysoa:service.echo')
        await ring.close()

    asyncio.run(scenario())


@pytest.mark.timeout(120)
def test_awaited_calls_of_a_cluster_service_run_natively(
    redis_cluster: RedisClusterProcesses,
    cluster_hosts: list[str],
    start_cluster_service: StartClusterService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = names_on_distinct_masters(redis_cluster, 2)
    for name, _ in services:
        start_cluster_service(name, cluster_hosts, workers=1)
    client = cluster_client(cluster_hosts, [name for name, _ in services])

    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError('asyncio.to_thread was used: the call did not run natively')

    monkeypatch.setattr(asyncio, 'to_thread', refuse)

    async def main() -> list[tuple[str, str]]:
        calls = [
            client.call_action_async(name, 'count', {'label': f'{name}-{n}'}, timeout=10)
            for n in range(20)
            for name, _ in services
        ]
        return [(response.body['label'], response.action) for response in await asyncio.gather(*calls)]

    answers = asyncio.run(main())
    assert answers == [(f'{name}-{n}', 'count') for n in range(20) for name, _ in services]
    for name, master in services:
        assert redis_cluster.client(master).exists(request_queue(name)) == 0
