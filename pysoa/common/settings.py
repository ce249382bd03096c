"""The settings base shared by clients and servers: a dict validated by `pysoa.schema` with defaults.

`SOASettings(data)` validates `data` against `schema` once, merges `defaults` in, and raises
`SOASettings.ImproperlyConfigured` with a message that names each bad key.
"""

from typing import Any

from pysoa.schema import fields
from pysoa.schema.settings import Settings

__all__ = ('SOASettings', 'NOOP_METRICS_PATH')

NOOP_METRICS_PATH = 'pysoa.common.metrics:NoOpMetricsRecorder'

SettingsData = dict[str, Any]
"""Settings as given (a dict of setting names to values), before they are validated."""


class SOASettings(Settings):
    """Settings common to clients and servers: the transport, middleware and metrics recorder."""

    schema: dict[str, fields.Base] = {
        'transport': fields.ClassConfigurationSchema(
            description='The transport class (`path`) and its keyword arguments (`kwargs`)',
        ),
        'middleware': fields.List(
            fields.ClassConfigurationSchema(),
            description='Middleware classes, outermost first',
        ),
        'metrics': fields.ClassConfigurationSchema(
            description='The metrics recorder class and its keyword arguments',
        ),
    }

    defaults: SettingsData = {
        'middleware': [],
        'metrics': {'path': NOOP_METRICS_PATH},
    }
