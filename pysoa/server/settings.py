"""Server settings: the keys a service's `SOA_SERVER_SETTINGS` may hold, validated once at start-up.

Keys (all optional; defaults below):

- `transport`: the server transport (default: the Redis Gateway server transport).
- `middleware`: `ServerMiddleware` classes, outermost first.
- `metrics`: the metrics recorder.
- `client_routing`: client settings, by service name, for the client that actions get in `request.client`.
- `logging`: a `logging.config.dictConfig` dict. The default writes one JSON object per line to stderr;
  to get plain text, point the `console` handler at the `console` formatter
  (`{'handlers': {'console': {'formatter': 'console'}}}`).
- `harakiri`: `timeout` (seconds a job may run, 0 disables; default 300) and `shutdown_grace` (seconds the
  worker gets to stop after that before it is killed; default 30).
- `request_log_success_level`, `request_log_error_level`: levels at which whole requests and responses (the
  bodies) are logged, censored (default DEBUG for both; 1.x logged them at INFO). Every job also gets one summary
  line at INFO on `pysoa.server.job` (see `pysoa.server.job_log`).
- `request_log_body_max_length`: characters of a logged body kept before it is cut, saying how long it was
  (default 1024; 0: only the global bound `PYSOA_LOG_MAXIMUM_CHARACTERS`).
- `send_traceback_to_callers`: whether a `SERVER_ERROR` carries the server's traceback to the caller (default
  true, as 1.x). Censored by the redaction rule, a traceback still shows code paths and file names: a service
  that answers untrusted callers should turn it off.
- `heartbeat_file`: a file touched while the worker lives; `{{pid}}` and `{{fid}}` are replaced.
- `extra_fields_to_redact`: more field names whose values are censored in logged requests and responses.
- `coroutine_middleware`: middleware classes that wrap coroutines run with `request.run_coroutine`.
- `tracing`: trace jobs, actions and the calls actions make with OpenTelemetry (the `otel` extra; default False).
  It adds `pysoa.server.tracing:TracingServerMiddleware` first and sets `tracing: True` in each `client_routing`
  entry that does not set it (see docs/tracing.rst).
- `concurrency`: how many jobs one worker process serves at once (default 1: one after the other); above 1 the
  worker runs `pysoa.server.concurrent_worker` (docs/concurrency.rst).

Settings given as a dict are merged over the defaults recursively (nested dicts key by key).
"""

from collections.abc import Mapping
from typing import Any

from pysoa.common.settings import SOASettings
from pysoa.common.tracing import SERVER_TRACING_MIDDLEWARE_PATH, TRACING_SETTING, with_tracing_middleware
from pysoa.common.transport.base import ServerTransport
from pysoa.schema import fields
from pysoa.schema.fields.logging import PYTHON_LOGGING_CONFIG_SCHEMA, PythonLogLevel
from pysoa.server.coroutine import CoroutineMiddleware
from pysoa.server.middleware import ServerMiddleware

__all__ = ('ServerSettings',)

DEFAULT_TRANSPORT_PATH = 'pysoa.common.transport.redis_gateway.server:RedisServerTransport'
"""The transport a server uses when its settings name none."""

_FORMATTER_SCHEMA = fields.Dictionary(
    {
        'format': fields.UnicodeString(description='The format string (see `logging.Formatter`)'),
        'datefmt': fields.UnicodeString(description='The date format (see `time.strftime`)'),
        'style': fields.UnicodeString(description='The format style: `%`, `{` or `$`'),
        '()': fields.UnicodeString(description='A factory (importable path) for a custom formatter'),
        'class': fields.UnicodeString(description='A `logging.Formatter` subclass (importable path)'),
    },
    optional_keys=('format', 'datefmt', 'style', '()', 'class'),
    allow_extra_keys=True,
)

# The standard schema admits only `format` and `datefmt` in formatters; the JSON formatter needs `()`.
LOGGING_CONFIG_SCHEMA = PYTHON_LOGGING_CONFIG_SCHEMA.extend(
    contents={
        'formatters': fields.SchemalessDictionary(
            key_type=fields.UnicodeString(),
            value_type=_FORMATTER_SCHEMA,
            description='Logging formatters by name',
        ),
    },
)
"""The schema of the `logging` setting: `dictConfig` dicts, including formatters built by a factory."""

_CONTEXT_FILTER = 'pysoa_logging_context_filter'

DEFAULT_LOGGING_CONFIG: dict[str, Any] = {
    'version': 1,
    'formatters': {
        'console': {'format': '%(asctime)s %(levelname)7s %(correlation_id)s %(request_id)s: %(message)s'},
        'json': {'()': 'pysoa.common.logging.JSONFormatter'},
    },
    'filters': {_CONTEXT_FILTER: {'()': 'pysoa.common.logging.PySOALogContextFilter'}},
    'handlers': {
        'console': {
            'level': 'INFO',
            'class': 'logging.StreamHandler',
            'formatter': 'json',
            'filters': [_CONTEXT_FILTER],
        },
    },
    'loggers': {},
    'root': {'handlers': ['console'], 'level': 'INFO'},
    'disable_existing_loggers': False,
}
"""The default `logging` setting: JSON lines on stderr, with the request context on each record."""


class ServerSettings(SOASettings):
    """Settings of a server: its transport must be a `ServerTransport`, each middleware a `ServerMiddleware`."""

    schema: dict[str, fields.Base] = {
        'transport': fields.ClassConfigurationSchema(
            base_class=ServerTransport,
            description='The server transport class (`path`) and its keyword arguments (`kwargs`)',
        ),
        'middleware': fields.List(
            fields.ClassConfigurationSchema(base_class=ServerMiddleware),
            description='The `ServerMiddleware` applied to every job and action, outermost first',
        ),
        'client_routing': fields.SchemalessDictionary(
            key_type=fields.UnicodeString(),
            value_type=fields.SchemalessDictionary(),
            description='Client settings by service name, for the client that actions use to call other services '
            '(validated by the client when it is built)',
        ),
        'logging': LOGGING_CONFIG_SCHEMA,
        'harakiri': fields.Dictionary(
            {
                'timeout': fields.Integer(
                    gte=0,
                    description='Seconds a job may run before it is interrupted and the worker restarts; 0 disables',
                ),
                'shutdown_grace': fields.Integer(
                    gt=0,
                    description='Seconds the worker has to shut down after harakiri before it is killed',
                ),
            },
            description='How long a job may run before the worker gives up on it',
        ),
        'request_log_success_level': PythonLogLevel(
            description='The level at which whole requests and responses are logged when the job succeeds (DEBUG; '
            'set INFO for the 1.x behaviour)',
        ),
        'request_log_error_level': PythonLogLevel(
            description='The level at which whole requests and responses are logged when the response has errors '
            '(DEBUG; set INFO for the 1.x behaviour)',
        ),
        'request_log_body_max_length': fields.Integer(
            gte=0,
            description='Characters of a logged request or response body kept before it is cut (0: no cut but the '
            'global bound of every log line)',
        ),
        'send_traceback_to_callers': fields.Boolean(
            description='Whether a SERVER_ERROR sent to the caller carries the traceback of the exception (censored); '
            'turn off for untrusted callers, as it shows file names and code paths',
        ),
        'heartbeat_file': fields.Nullable(
            fields.UnicodeString(
                description='A file created at start-up, touched while the worker runs and removed at shut-down; '
                '`{{pid}}` becomes the process id and `{{fid}}` the forked worker number',
            ),
        ),
        'extra_fields_to_redact': fields.Set(
            fields.UnicodeString(),
            description='Field names, besides the built-in ones, whose values are censored in logged messages',
        ),
        'coroutine_middleware': fields.List(
            fields.ClassConfigurationSchema(base_class=CoroutineMiddleware),
            description='Middleware wrapping each coroutine run with `request.run_coroutine`, outermost first',
        ),
        'tracing': TRACING_SETTING,
        'concurrency': fields.Integer(
            gte=1,
            description='How many jobs one worker process serves at once; above 1, `async def run` actions overlap '
            "on the worker's event loop (see docs/concurrency.rst)",
        ),
    }

    defaults: dict[str, Any] = {
        'transport': {'path': DEFAULT_TRANSPORT_PATH},
        'client_routing': {},
        'logging': DEFAULT_LOGGING_CONFIG,
        'harakiri': {'timeout': 300, 'shutdown_grace': 30},
        'request_log_success_level': 'DEBUG',
        'request_log_error_level': 'DEBUG',
        'request_log_body_max_length': 1024,
        'send_traceback_to_callers': True,
        'heartbeat_file': None,
        'extra_fields_to_redact': set(),
        'coroutine_middleware': [{'path': 'pysoa.server.coroutine:DefaultCoroutineMiddleware'}],
        'tracing': False,
        'concurrency': 1,
    }

    def set(self, data: Mapping[str, Any]) -> None:
        """Validate `data` (see `Settings.set`); `tracing: True` first adds the tracing middleware on both sides."""
        data = with_tracing_middleware(data, SERVER_TRACING_MIDDLEWARE_PATH, self.ImproperlyConfigured)
        super().set(_with_traced_client_routing(data))


def _with_traced_client_routing(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """`data` with `tracing: True` in each `client_routing` entry that does not set `tracing`, when tracing is on.

    The calls that actions make then continue the trace of the action making them.
    """
    routing = data.get('client_routing')
    if data.get('tracing') is not True or not isinstance(routing, Mapping):
        return data
    traced = {
        name: {**entry, 'tracing': True} if isinstance(entry, Mapping) and 'tracing' not in entry else entry
        for name, entry in routing.items()
    }
    return {**data, 'client_routing': traced}
