"""The settings of a client for one service: transport, middleware and metrics, validated once."""

from typing import Any

from pysoa.client.middleware import ClientMiddleware
from pysoa.common.settings import SOASettings
from pysoa.common.transport.base import ClientTransport
from pysoa.schema import fields

__all__ = ('ClientSettings', 'REDIS_CLIENT_TRANSPORT_PATH')

REDIS_CLIENT_TRANSPORT_PATH = 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'


class ClientSettings(SOASettings):
    """Settings for calling one service; `transport` defaults to the Redis Gateway client transport."""

    schema: dict[str, fields.Base] = {
        'middleware': fields.List(
            fields.ClassConfigurationSchema(base_class=ClientMiddleware),
            description='`ClientMiddleware` classes applied to every request to this service, outermost first',
        ),
        'transport': fields.ClassConfigurationSchema(
            base_class=ClientTransport,
            description='The `ClientTransport` class (`path`) and its keyword arguments (`kwargs`)',
        ),
    }

    defaults: dict[str, Any] = {
        'transport': {'path': REDIS_CLIENT_TRANSPORT_PATH},
    }
