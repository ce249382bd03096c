"""Server settings for the interop echo service, pointed at the Redis named by `PYSOA_INTEROP_REDIS`."""

import os

_host, _port = os.environ.get('PYSOA_INTEROP_REDIS', '127.0.0.1:0').rsplit(':', 1)

SOA_SERVER_SETTINGS = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': {
            'backend_type': 'redis.standard',
            'backend_layer_kwargs': {
                'hosts': [(_host, int(_port))],
                # Named so that the test can see in CLIENT LIST when this server is waiting for requests.
                'connection_kwargs': {'client_name': 'peer-' + os.environ.get('PYSOA_INTEROP_SERVICE', 'interop_echo')},
            },
            'chunk_messages_larger_than_bytes': 102400,
            'maximum_message_size_in_bytes': 6 * 1024 * 1024,
            'receive_timeout_in_seconds': 1,
        },
    },
    'logging': {
        'version': 1,
        'formatters': {'plain': {'format': '%(asctime)s %(levelname)s %(name)s: %(message)s'}},
        'handlers': {'stderr': {'class': 'logging.StreamHandler', 'formatter': 'plain'}},
        'root': {'handlers': ['stderr'], 'level': 'WARNING'},
    },
}
