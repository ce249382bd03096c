"""The native asyncio client through Sentinel: masters found by asking real Sentinels (`redis.asyncio.sentinel`)."""

import asyncio
import threading
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from tests.test_redis_sentinel import (
    MASTER_NAME,
    SentinelCluster,
    cluster,  # noqa: F401  # the fixture, shared rather than copied
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
