"""How long Redis keeps a queue (issue 10): a service's request queue at least `REQUEST_QUEUE_SECONDS` (an hour)
after the last send, so that an outage longer than a request's expiry + 10 s does not drop queued requests unseen;
a client's reply queue the response's expiry, as 1.x. The outage itself is in `test_redis_faults.py`."""

import asyncio
from typing import Any

import pytest
import redis

from examples.echo_client import client_settings
from pysoa.client import Client
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import REQUEST_QUEUE_SECONDS
from pysoa.common.transport.redis_gateway.server import RedisServerTransport

JOB = {
    'control': {'continue_on_error': False},
    'context': {'correlation_id': 'c1', 'switches': []},
    'actions': [{'action': 'echo', 'body': {'message': 'hi'}}],
}


@pytest.mark.parametrize('timeout', [None, 2.0, 7200.0])
def test_a_send_keeps_the_service_queue_an_hour_and_the_reply_queue_as_1x(redis_url: str, timeout: Any) -> None:
    kwargs: dict[str, Any] = {'backend_layer_kwargs': {'hosts': [redis_url]}}
    client = RedisClientTransport('lifetime', noop_metrics, **kwargs)
    server = RedisServerTransport('lifetime', noop_metrics, **kwargs)
    raw = redis.Redis.from_url(redis_url)
    try:
        client.send_request_message(1, {}, dict(JOB), message_expiry_in_seconds=timeout)
        expected = max(REQUEST_QUEUE_SECONDS, int(timeout or 0) + 10)
        assert expected - 5 < raw.ttl('pysoa:service.lifetime') <= expected

        request = server.receive_request_message()
        assert request.meta is not None
        server.send_response_message(1, request.meta, {'ok': True})
        reply_key = 'pysoa:' + request.meta['reply_to']
        assert 0 < raw.ttl(reply_key) <= 60  # the server's default message expiry: 1.x's reply queue lifetime
        assert client.receive_response_message(5).body == {'ok': True}
    finally:
        raw.close()


def test_an_awaited_call_keeps_the_service_queue_an_hour(redis_url: str) -> None:
    client = Client({'echo': client_settings(redis_url)})

    async def call() -> None:
        with pytest.raises(PySOATransportError):  # no service runs: the request stays queued
            await client.call_action_async('echo', 'echo', body={'message': 'hi'}, timeout=1)

    asyncio.run(call())
    raw = redis.Redis.from_url(redis_url)
    try:
        assert raw.llen('pysoa:service.echo') == 1
        assert REQUEST_QUEUE_SECONDS - 10 < raw.ttl('pysoa:service.echo') <= REQUEST_QUEUE_SECONDS
    finally:
        raw.close()
