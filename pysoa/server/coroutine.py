"""Coroutine middleware: hooks around the coroutines that actions run with `request.run_coroutine(...)`.

The coroutines run on the worker's event loop thread (`pysoa.server.internal.event_loop.AsyncEventLoopThread`).
`coroutine_middleware` (a server setting) wraps each coroutine, first configured outermost. Context variables (the
logging context, for one) travel with each coroutine.
"""

import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from pysoa.schema import fields

__all__ = (
    'Coroutine',
    'CoroutineMiddleware',
    'DefaultCoroutineMiddleware',
    'MiddlewareCoroutine',
)

_logger = logging.getLogger(__name__)

MiddlewareCoroutine = TypeVar('MiddlewareCoroutine', bound=Coroutine[Any, Any, Any])
"""A coroutine type, so that a middleware's wrapper is typed like the coroutine it wraps."""


class CoroutineMiddleware:
    """Base class of coroutine middleware; override `before_run_coroutine`, `coroutine` or both."""

    def before_run_coroutine(self) -> None:
        """Called in the caller's thread when `run_coroutine` is called, in configuration order."""

    def coroutine(self, coroutine: MiddlewareCoroutine) -> MiddlewareCoroutine:
        """Return a coroutine that awaits `coroutine` (and returns its result); the base returns it unchanged."""
        return coroutine


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary({}, description='The default coroutine middleware takes no arguments'),
)
class DefaultCoroutineMiddleware(CoroutineMiddleware):
    """Logs exceptions that escape coroutines (which otherwise only their future would see)."""

    def coroutine(self, coroutine: MiddlewareCoroutine) -> MiddlewareCoroutine:
        """Wrap `coroutine` so that an exception is logged before it propagates."""

        async def logged() -> object:
            try:
                return await coroutine
            except Exception:
                _logger.exception('Error occurred while awaiting coroutine in request.run_coroutine')
                raise

        return logged()  # type: ignore[return-value]  # same result type as the wrapped coroutine
