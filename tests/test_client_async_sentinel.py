"""The native asyncio client through Sentinel: masters found by asking real Sentinels, by the blocking rules."""

import asyncio
import threading
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.async_client import AsyncRedisClientTransport
from pysoa.common.transport.redis_gateway.backend.async_rings import AsyncSentinelRing, ring_for
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.test.waiting import wait_until
from tests.test_redis_sentinel import (
    JOB,
    MASTER_NAME,
    QueuedWork,
    SentinelCluster,
    _replica_caught_up,
    assert_request_2_resent_once,
    cluster,  # noqa: F401  # the fixture, shared rather than copied
    settings,
)


def transport_kwargs(sentinels: SentinelCluster, **backend: Any) -> dict[str, Any]:
    return {
        'backend_type': 'redis.sentinel',
        'backend_layer_kwargs': {'hosts': sentinels.hosts, **backend},
        'receive_timeout_in_seconds': 5,
    }


def serve(sentinels: SentinelCluster, stop: threading.Event) -> None:
    """Answer each job with its actions' bodies, doubled, until told to stop (the blocking server transport)."""
    server = RedisServerTransport('sentinel_echo', noop_metrics, **transport_kwargs(sentinels))
    while not stop.is_set():
        try:
            request_id, meta, job = server.receive_request_message()
        except MessageReceiveTimeout:
            continue
        assert request_id is not None and meta is not None and job is not None
        actions = [{'action': a['action'], 'body': {'twice': a['body']['n'] * 2}} for a in job['actions']]
        server.send_response_message(request_id, meta, {'errors': [], 'context': job['context'], 'actions': actions})


@pytest.mark.parametrize('services', [None, [MASTER_NAME]], ids=['discovered', 'named'])
def test_calls_through_sentinel(
    cluster: SentinelCluster,  # noqa: F811  # the imported fixture
    services: list[str] | None,
    monkeypatch: Any,
) -> None:
    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError('asyncio.to_thread was used: the call did not run natively')

    monkeypatch.setattr(asyncio, 'to_thread', refuse)
    backend = {'sentinel_services': services} if services else {}
    client = Client(
        {
            'sentinel_echo': {
                'transport': {
                    'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
                    'kwargs': transport_kwargs(cluster, **backend),
                },
            },
        },
    )
    stop = threading.Event()
    server = threading.Thread(target=serve, args=(cluster, stop), daemon=True)
    server.start()

    async def main() -> list[Any]:
        calls = [client.call_action_async('sentinel_echo', 'double', {'n': n}) for n in range(30)]
        return list(await asyncio.gather(*calls))

    try:
        responses = asyncio.run(main())
    finally:
        stop.set()
        server.join(10)

    assert [r.body for r in responses] == [{'twice': n * 2} for n in range(30)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize('delivery', ['at-most-once', 'at-least-once'])
def test_a_request_pushed_to_the_old_master_after_the_switch_is_sent_again_and_answered_once(
    cluster: SentinelCluster,  # noqa: F811  # the imported fixture
    delivery: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The blocking client's test of the same name, for the asyncio client: a task that pushes to the old master after
    # the Sentinels promoted the replica (before the ring's next look at them) must not lose its request.
    caplog.set_level('INFO', logger='pysoa.common.transport.redis_gateway.failover_resend')
    service = f'async-resend-{delivery}'
    transport = RedisClientTransport(service, noop_metrics, **settings(cluster, sentinel_failover_retries=7))
    work = QueuedWork(cluster, delivery, service=service)
    worker = threading.Thread(target=work.serve, daemon=True)

    async def main() -> list[int | None]:
        side = AsyncRedisClientTransport.for_transport(transport)
        await side.send_request_message(1, {}, JOB, message_expiry_in_seconds=60)  # the ring now knows the master
        answered = [(await side.receive_response_message(30)).request_id]
        assert answered == [1], work.fatal
        old_port = cluster.master_port()
        assert wait_until(lambda: _replica_caught_up(old_port), 30)
        # From here on the ring does not ask the Sentinels by itself: it still takes the old master for the master,
        # as it does between two of its checks, until an error (the demotion) makes it ask.
        ring = await side._get_ring()
        assert isinstance(ring, AsyncSentinelRing)
        ring.master_check_seconds = 3600.0
        cluster.switch_master(old_port, interval=0.01)
        # The replica is promoted; the old master is still a master (Sentinel demotes it later) and takes the push.
        await side.send_request_message(2, {}, JOB, message_expiry_in_seconds=60)
        # One receive: the demotion's error is not the caller's while the answer can still come in time.
        answered.append((await side.receive_response_message(30)).request_id)
        return answered

    worker.start()
    try:
        answered = asyncio.run(main())
    finally:
        work.stop.set()
        worker.join(timeout=10)
    assert_request_2_resent_once(work, worker, answered, caplog)


def test_a_ring_client_keeps_talking_to_its_own_master_after_a_switch(cluster: SentinelCluster) -> None:  # noqa: F811
    # The concurrent worker settles requests by where each client talks to (`master_of`): a client must not move
    # to another server by itself when it reconnects, as redis-py's `master_for` connections do.
    def port_of(info: dict[str, Any]) -> int:
        return int(info['tcp_port'])

    async def main() -> None:
        ring = await ring_for('redis.sentinel', {'hosts': cluster.hosts, 'sentinel_services': [MASTER_NAME]})
        assert isinstance(ring, AsyncSentinelRing)
        client = await ring.connection('pysoa:service.x')
        old_port = cluster.master_port()
        ring.master_check_seconds = 3600.0  # no look at the Sentinels between two uses
        cluster.switch_master(old_port)
        await client.connection_pool.disconnect()  # its next command opens a new connection
        assert port_of(await client.info('server')) == old_port
        assert ring.master_of(client) == (MASTER_NAME, ('127.0.0.1', old_port))
        current = client
        for _ in range(400):  # bounded: until every Sentinel that answers first has heard of the switch
            ring.reset_clients()  # as after an error: the next use asks the Sentinels
            current = await ring.connection('pysoa:service.x')
            if current is not client:
                break
            await asyncio.sleep(0.05)
        assert current is not client
        assert port_of(await current.info('server')) == cluster.master_port() != old_port
        assert ring.master_of(current) == (MASTER_NAME, ('127.0.0.1', cluster.master_port()))

    asyncio.run(main())
