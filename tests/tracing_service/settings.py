"""Settings of a relay service (`TRACING_SERVICE`) on the Redis at `PYSOA_REDIS_URL`, tracing on, routing to the
other relay services (`TRACING_PEERS`, comma-separated) on the same Redis."""

import os
from typing import Any

REDIS_URL = os.environ['PYSOA_REDIS_URL']

_REDIS = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [REDIS_URL]}}

SOA_SERVER_SETTINGS: dict[str, Any] = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': {**_REDIS, 'receive_timeout_in_seconds': 1},
    },
    'client_routing': {
        name: {
            'transport': {
                'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
                'kwargs': {**_REDIS, 'receive_timeout_in_seconds': 10},
            },
        }
        for name in os.environ.get('TRACING_PEERS', '').split(',')
        if name
    },
    'tracing': True,
    'heartbeat_file': os.environ.get('ECHO_HEARTBEAT_FILE') or None,
    'logging': {
        'version': 1,
        'formatters': {'console': {'format': '%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s'}},
        'handlers': {'console': {'class': 'logging.StreamHandler', 'formatter': 'console'}},
        'root': {'handlers': ['console'], 'level': 'INFO'},
        'disable_existing_loggers': False,
    },
}
