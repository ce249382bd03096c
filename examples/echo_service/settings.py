"""Settings of the echo service: the Redis from `PYSOA_REDIS_URL`, chunked large responses, short harakiri.

Environment variables (all optional): `PYSOA_REDIS_URL` (default `redis://localhost:6379/0`),
`ECHO_HARAKIRI_TIMEOUT` (seconds, default 300), `ECHO_HEARTBEAT_FILE` (a path; `{{pid}}` and
`{{fid}}` are replaced), `ECHO_LOG_LEVEL` (default INFO).
"""

import os
from typing import Any

REDIS_URL = os.environ.get('PYSOA_REDIS_URL', 'redis://localhost:6379/0')

SOA_SERVER_SETTINGS: dict[str, Any] = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': {
            'backend_type': 'redis.standard',
            'backend_layer_kwargs': {'hosts': [REDIS_URL]},
            # Responses over 100 KiB go back in chunks, so the `large` action can answer up to 4 MiB.
            'chunk_messages_larger_than_bytes': 102400,
            'maximum_message_size_in_bytes': 5 * 1024 * 1024,
            'receive_timeout_in_seconds': 1,
        },
    },
    'harakiri': {
        'timeout': int(os.environ.get('ECHO_HARAKIRI_TIMEOUT', '300')),
        'shutdown_grace': int(os.environ.get('ECHO_HARAKIRI_SHUTDOWN_GRACE', '30')),
    },
    'heartbeat_file': os.environ.get('ECHO_HEARTBEAT_FILE') or None,
    'logging': {
        'version': 1,
        'formatters': {'console': {'format': '%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s'}},
        'handlers': {'console': {'class': 'logging.StreamHandler', 'formatter': 'console'}},
        'root': {'handlers': ['console'], 'level': os.environ.get('ECHO_LOG_LEVEL', 'INFO')},
        'disable_existing_loggers': False,
    },
}
