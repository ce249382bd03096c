"""Server settings for the benchmark service, from the environment that `run.py` (or `cluster.py`) sets.

`BENCH_REDIS` (host:port), `BENCH_CLUSTER` (comma-separated startup node URLs: Redis Cluster instead),
`BENCH_CHUNKING` ("1": chunk responses over 100 KiB), `BENCH_LOG_LEVEL` (root level;
WARNING unless a workload measures logging), `BENCH_MIDDLEWARE` ("1": one no-op middleware).
"""

import os

_host, _port = os.environ.get('BENCH_REDIS', '127.0.0.1:0').rsplit(':', 1)

_transport_kwargs = {
    'backend_type': 'redis.standard',
    'backend_layer_kwargs': {
        'hosts': [(_host, int(_port))],
        # Named so that run.py can see in CLIENT LIST when the workers are waiting for requests.
        'connection_kwargs': {'client_name': 'bench-' + os.environ.get('BENCH_SERVICE', 'bench')},
    },
    'maximum_message_size_in_bytes': 6 * 1024 * 1024,
    'receive_timeout_in_seconds': 1,
    'log_messages_larger_than_bytes': 0,
}
if os.environ.get('BENCH_CLUSTER'):
    _transport_kwargs['backend_type'] = 'redis.cluster'
    _transport_kwargs['backend_layer_kwargs'] = {'hosts': os.environ['BENCH_CLUSTER'].split(',')}
if os.environ.get('BENCH_CHUNKING') == '1':
    _transport_kwargs['chunk_messages_larger_than_bytes'] = 100 * 1024

SOA_SERVER_SETTINGS = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': _transport_kwargs,
    },
    'middleware': (
        [{'path': 'benchpeer.service:NoOpServerMiddleware'}] if os.environ.get('BENCH_MIDDLEWARE') == '1' else []
    ),
    'logging': {
        'version': 1,
        'formatters': {'plain': {'format': '%(asctime)s %(levelname)s %(name)s: %(message)s'}},
        'handlers': {'stderr': {'class': 'logging.StreamHandler', 'formatter': 'plain'}},
        'root': {'handlers': ['stderr'], 'level': os.environ.get('BENCH_LOG_LEVEL', 'WARNING')},
        'disable_existing_loggers': False,
    },
}
