"""Settings of the concurrent test service, from the environment.

`PYSOA_REDIS_URL`; `CONCURRENCY` (default 10); `CONCURRENT_BACKEND`: unset (standard, on `PYSOA_REDIS_URL`),
`redis.sentinel` (`SENTINELS`: comma-separated `host:port`, `SENTINEL_SERVICE`) or `redis.cluster` (`CLUSTER_HOSTS`:
comma-separated URLs); `CONCURRENT_TRANSPORT=local` (the local transport, which a concurrent worker refuses);
`CONCURRENT_DELIVERY` (`at-least-once` or unset), `CONCURRENT_HEARTBEAT_EXPIRY` (its heartbeat expiry, default 1.5 s;
longer where Redis fails over, which a lapsed heartbeat would not outlast);
`CONCURRENT_RUNS_FILE` (where the `record` action notes each run);
`CONCURRENT_HARAKIRI` (seconds, default 300) and `CONCURRENT_HARAKIRI_GRACE` (default 5);
`ECHO_HEARTBEAT_FILE` (so `start_service` knows when it serves).
Log lines carry the correlation id in brackets, so a test can tell whose line each is.
"""

import os
from typing import Any

REDIS_URL = os.environ.get('PYSOA_REDIS_URL', 'redis://localhost:6379/0')

_TRANSPORT_KWARGS: dict[str, Any] = {
    'backend_type': 'redis.standard',
    'backend_layer_kwargs': {'hosts': [REDIS_URL]},
    'receive_timeout_in_seconds': 1,
}
if os.environ.get('CONCURRENT_BACKEND') == 'redis.sentinel':
    _sentinels = [
        (host, int(port)) for host, _, port in (h.rpartition(':') for h in os.environ['SENTINELS'].split(','))
    ]
    _TRANSPORT_KWARGS.update(
        {
            'backend_type': 'redis.sentinel',
            'backend_layer_kwargs': {
                'hosts': _sentinels,
                'sentinel_services': [os.environ['SENTINEL_SERVICE']],
                'sentinel_failover_retries': 8,
            },
        }
    )
elif os.environ.get('CONCURRENT_BACKEND') == 'redis.cluster':
    _TRANSPORT_KWARGS.update(
        {'backend_type': 'redis.cluster', 'backend_layer_kwargs': {'hosts': os.environ['CLUSTER_HOSTS'].split(',')}}
    )
if os.environ.get('CONCURRENT_DELIVERY') == 'at-least-once':
    _TRANSPORT_KWARGS.update(
        {
            'delivery': 'at-least-once',
            'heartbeat_interval_in_seconds': 0.25,
            'heartbeat_expiry_in_seconds': float(os.environ.get('CONCURRENT_HEARTBEAT_EXPIRY', '1.5')),
        }
    )

SOA_SERVER_SETTINGS: dict[str, Any] = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': _TRANSPORT_KWARGS,
    }
    if os.environ.get('CONCURRENT_TRANSPORT') != 'local'
    else {'path': 'pysoa.common.transport.local:LocalServerTransport'},
    'client_routing': {
        'callee': {
            'transport': {
                'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
                'kwargs': {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [REDIS_URL]}},
            },
        },
    },
    'concurrency': int(os.environ.get('CONCURRENCY', '10')),
    'harakiri': {
        'timeout': int(os.environ.get('CONCURRENT_HARAKIRI', '300')),
        'shutdown_grace': int(os.environ.get('CONCURRENT_HARAKIRI_GRACE', '5')),
    },
    'heartbeat_file': os.environ.get('ECHO_HEARTBEAT_FILE') or None,
    'logging': {
        'version': 1,
        'formatters': {'console': {'format': '%(process)d %(levelname)s %(name)s [%(correlation_id)s] %(message)s'}},
        'filters': {'context': {'()': 'pysoa.common.logging.PySOALogContextFilter'}},
        'handlers': {'console': {'class': 'logging.StreamHandler', 'formatter': 'console', 'filters': ['context']}},
        'root': {'handlers': ['console'], 'level': os.environ.get('CONCURRENT_LOG_LEVEL', 'INFO')},
        'disable_existing_loggers': False,
    },
}
