"""A worker serving over the Redis Gateway transport, called by a client: the whole path of one call."""

import threading
from typing import Any

from pysoa.client.client import Client
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest

GATEWAY = 'pysoa.common.transport.redis_gateway'


class Multiply(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'product': request.body['a'] * request.body['b'], 'correlation_id': request.context['correlation_id']}


class MultiplyServer(Server):
    service_name = 'multiplier'
    action_class_map = {'multiply': Multiply}


def transport(redis_url: str, path: str) -> dict[str, Any]:
    return {
        'path': path,
        'kwargs': {
            'backend_type': 'redis.standard',
            'backend_layer_kwargs': {'hosts': [redis_url]},
            'receive_timeout_in_seconds': 1,
        },
    }


def test_client_calls_a_worker_over_redis(redis_url: str) -> None:
    server = MultiplyServer(
        ServerSettings(
            {'transport': transport(redis_url, 'pysoa.common.transport.redis_gateway.server:RedisServerTransport')}
        ),
    )
    worker = threading.Thread(target=server.run, daemon=True)
    worker.start()
    try:
        client = Client(
            {
                'multiplier': {
                    'transport': transport(
                        redis_url, 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'
                    )
                }
            },
        )

        responses = [client.call_action('multiplier', 'multiply', {'a': n, 'b': 3}) for n in range(5)]
        unknown = client.call_action('multiplier', 'divide', {}, raise_action_errors=False)
    finally:
        server.request_shutdown()
        worker.join(timeout=15)

    assert not worker.is_alive()
    assert [r.body['product'] for r in responses] == [0, 3, 6, 9, 12]
    assert unknown.errors[0].code == 'UNKNOWN' and unknown.errors[0].is_caller_error is True
