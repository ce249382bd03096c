"""The benchmark client for upstream PySOA or ours: `python -m benchpeer.client '<json config>'`.

Config: redis (host:port), service, workload kind (small, batch, large), size (for large), duration,
middleware (bool: one no-op client middleware), profile (a path, or absent).
"""

import json
import sys
from typing import Any

from pysoa.client.client import Client
from pysoa.client.middleware import ClientMiddleware

from .driver import run_driver
from .payloads import BATCH_SIZE, SMALL_BODY


class NoOpClientMiddleware(ClientMiddleware):
    """Wraps sending and receiving and does nothing else."""

    def request(self, send_request: Any) -> Any:
        def handler(*args: Any, **kwargs: Any) -> Any:
            return send_request(*args, **kwargs)

        return handler

    def response(self, get_response: Any) -> Any:
        def handler(*args: Any, **kwargs: Any) -> Any:
            return get_response(*args, **kwargs)

        return handler


def make_client(config: dict[str, Any]) -> Client:
    """A Redis client for the benchmark service."""
    host, port = config['redis'].rsplit(':', 1)
    service_config: dict[str, Any] = {
        'transport': {
            'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
            'kwargs': {
                'backend_type': 'redis.standard',
                'backend_layer_kwargs': {'hosts': [(host, int(port))]},
                'protocol_version': 3,
                'receive_timeout_in_seconds': 10,
            },
        },
    }
    if config.get('middleware'):
        service_config['middleware'] = [{'path': 'benchpeer.client:NoOpClientMiddleware'}]
    return Client({config['service']: service_config})


def main() -> None:
    """Build the call for the workload and run the measuring loop."""
    config = json.loads(sys.argv[1])
    client = make_client(config)
    service = config['service']
    kind = config['kind']
    if kind == 'small':

        def call() -> int:
            client.call_action(service, 'small', SMALL_BODY)
            return 1
    elif kind == 'batch':
        actions = [{'action': 'small', 'body': SMALL_BODY} for _ in range(BATCH_SIZE)]

        def call() -> int:
            return len(client.call_actions(service, actions).actions)
    elif kind == 'large':
        body = {'size': int(config['size'])}

        def call() -> int:
            response = client.call_action(service, 'large', body)
            if len(response.body['data']) != body['size']:
                raise AssertionError('short response')
            return 1
    else:
        raise SystemExit(f'unknown workload kind {kind!r}')
    run_driver(config, call)


if __name__ == '__main__':
    main()
