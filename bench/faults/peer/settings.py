"""Settings of the `faults` service, from the environment that `bench.faults` sets.

`FAULTS_REDIS_URL` (a standalone Redis) or `FAULTS_SENTINELS` (`host:port,...`, with `FAULTS_SENTINEL_SERVICE`),
`FAULTS_DELIVERY` (`at-most-once` or `at-least-once`), `FAULTS_HEARTBEAT_FILE`; signing keys come from
`PYSOA_SIGNING_KEYS` as in any deployment.
"""

import os
from typing import Any

_DELIVERY = os.environ.get('FAULTS_DELIVERY', 'at-most-once')
_SENTINELS = os.environ.get('FAULTS_SENTINELS')

_backend: dict[str, Any]
if _SENTINELS:
    _backend = {
        'backend_type': 'redis.sentinel',
        'backend_layer_kwargs': {
            'hosts': [(host, int(port)) for host, port in (entry.rsplit(':', 1) for entry in _SENTINELS.split(','))],
            'sentinel_services': [os.environ['FAULTS_SENTINEL_SERVICE']],
            'sentinel_failover_retries': 8,
        },
    }
else:
    _backend = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [os.environ['FAULTS_REDIS_URL']]}}

_delivery: dict[str, Any] = {'delivery': _DELIVERY}
if _DELIVERY == 'at-least-once':
    # Short heartbeats, so a dead worker's requests come back within about 2 s (as in tests/alo_service).
    _delivery.update({'heartbeat_interval_in_seconds': 0.25, 'heartbeat_expiry_in_seconds': 1.5, 'max_deliveries': 3})

SOA_SERVER_SETTINGS: dict[str, Any] = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': {**_backend, **_delivery, 'receive_timeout_in_seconds': 1},
    },
    'heartbeat_file': os.environ.get('FAULTS_HEARTBEAT_FILE') or None,
    'logging': {
        'version': 1,
        'formatters': {'console': {'format': '%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s'}},
        'handlers': {'console': {'class': 'logging.StreamHandler', 'formatter': 'console'}},
        'root': {'handlers': ['console'], 'level': 'WARNING'},
        'disable_existing_loggers': False,
    },
}
