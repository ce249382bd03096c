"""The settings of a client for one service: transport, middleware, metrics and tracing, validated once."""

from collections.abc import Mapping
from typing import Any

from pysoa.client.middleware import ClientMiddleware
from pysoa.common.settings import SOASettings
from pysoa.common.tracing import CLIENT_TRACING_MIDDLEWARE_PATH, TRACING_SETTING, with_tracing_middleware
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
        'tracing': TRACING_SETTING,
    }

    defaults: dict[str, Any] = {
        'transport': {'path': REDIS_CLIENT_TRANSPORT_PATH},
        'tracing': False,
    }

    def set(self, data: Mapping[str, Any]) -> None:
        """Validate `data` (see `Settings.set`); `tracing: True` first adds the tracing middleware."""
        super().set(with_tracing_middleware(data, CLIENT_TRACING_MIDDLEWARE_PATH, self.ImproperlyConfigured))
