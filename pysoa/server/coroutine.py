"""Coroutines run from actions with `request.run_coroutine(...)`, on one event loop thread per worker.

The loop thread starts on first use and stops when the server shuts down (pending tasks get a few
seconds to finish). Context variables (the logging context, for one) travel with each coroutine.
`coroutine_middleware` (a server setting) wraps each coroutine, first configured outermost.
"""

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from conformity import fields

__all__ = (
    'AsyncEventLoopThread',
    'CoroutineMiddleware',
    'DefaultCoroutineMiddleware',
    'MiddlewareCoroutine',
)

_logger = logging.getLogger(__name__)

MiddlewareCoroutine = TypeVar('MiddlewareCoroutine', bound=Coroutine[Any, Any, Any])
"""A coroutine type, so that a middleware's wrapper is typed like the coroutine it wraps."""

# Pending coroutines get this long to finish when the worker shuts down.
_SHUTDOWN_TIMEOUT_SECONDS = 5.0


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

        async def logged() -> Any:
            try:
                return await coroutine
            except Exception:
                _logger.exception('Error occurred while awaiting coroutine in request.run_coroutine')
                raise

        return logged()  # type: ignore[return-value]  # same result type as the wrapped coroutine


class AsyncEventLoopThread:
    """An asyncio event loop on a daemon thread, started on first use."""

    def __init__(self, coroutine_middleware: Sequence[CoroutineMiddleware] = ()) -> None:
        self._middleware = list(coroutine_middleware)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the loop thread has been started and not stopped."""
        return self._thread is not None and self._thread.is_alive()

    def run_coroutine(self, coroutine: Coroutine[Any, Any, Any]) -> 'concurrent.futures.Future[Any]':
        """Schedule `coroutine` (through the middleware) on the loop; return a future of its result."""
        for middleware in self._middleware:
            middleware.before_run_coroutine()
        for middleware in reversed(self._middleware):
            coroutine = middleware.coroutine(coroutine)
        # The task is created from a copy of this thread's context, so context variables carry over.
        return asyncio.run_coroutine_threadsafe(coroutine, self._started_loop())

    def _started_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(loop, ready), name='pysoa-async-event-loop', daemon=True,
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=_SHUTDOWN_TIMEOUT_SECONDS))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def stop(self, timeout: float = _SHUTDOWN_TIMEOUT_SECONDS + 1) -> None:
        """Stop the loop after letting pending coroutines finish (up to a few seconds); no-op if never started."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
