"""The `tracing` setting of clients and servers, and the names tracing puts on the wire; no OpenTelemetry import.

`tracing: True` puts the tracing middleware first in the `middleware` list (outermost, so its spans cover the other
middleware). It needs OpenTelemetry (the `otel` extra); without it, validating the settings fails at start-up with
a message naming the extra, while everything else in pysoa runs without OpenTelemetry. The spans and the wire format
are in `pysoa.common.trace_propagation`, `pysoa.client.tracing` and `pysoa.server.tracing`.
"""

from collections.abc import Mapping
from typing import Any

from pysoa.schema import fields

__all__ = (
    'CLIENT_TRACING_MIDDLEWARE_PATH',
    'SERVER_TRACING_MIDDLEWARE_PATH',
    'TRACE_CONTEXT_KEY',
    'TRACING_SETTING',
    'opentelemetry_missing',
    'with_tracing_middleware',
)

TRACE_CONTEXT_KEY = 'pysoa_trace_context'
"""The key of the job request's context that holds the W3C trace context: `{'traceparent': ..., 'tracestate': ...}`.

A 1.x peer ignores it, as every context key it does not know, and copies it into the calls it makes in turn."""

CLIENT_TRACING_MIDDLEWARE_PATH = 'pysoa.client.tracing:TracingClientMiddleware'
SERVER_TRACING_MIDDLEWARE_PATH = 'pysoa.server.tracing:TracingServerMiddleware'

TRACING_SETTING = fields.Boolean(
    description='Trace with OpenTelemetry (the `otel` extra): adds the tracing middleware as the outermost layer',
)
"""The schema of the `tracing` setting, the same on both sides."""


def opentelemetry_missing() -> str | None:
    """Why OpenTelemetry cannot be used (the import error, with the extra to install), or None when it can."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError as error:
        return (
            f"The setting 'tracing' needs OpenTelemetry, which cannot be imported ({error}): "
            "install pysoa with the 'otel' extra (pip install 'pysoa[otel]')"
        )
    return None


def with_tracing_middleware(
    data: Mapping[str, Any],
    middleware_path: str,
    error_class: type[Exception],
) -> Mapping[str, Any]:
    """Settings `data` with the middleware at `middleware_path` first when `tracing` is True; else `data` itself.

    A middleware list that already names the path is left as it is, so listing it by hand does not trace twice.
    Raises `error_class` (with `opentelemetry_missing`'s message) when tracing is on and OpenTelemetry is missing.
    """
    if data.get('tracing') is not True:
        return data
    missing = opentelemetry_missing()
    if missing:
        raise error_class(missing)
    middleware = data.get('middleware', [])
    if not isinstance(middleware, list | tuple):
        return data  # not a list: the settings' validation names what is wrong with it
    if any(isinstance(entry, Mapping) and entry.get('path') == middleware_path for entry in middleware):
        return data
    return {**data, 'middleware': [{'path': middleware_path}, *middleware]}
