"""The worker's asyncio event loop thread, on which `request.run_coroutine(...)` runs coroutines.

`AsyncEventLoopThread` is a `threading.Thread` whose `loop` runs until `join()` (or `stop()`). The server starts it
lazily, on the first `run_coroutine`, so workers that never run a coroutine never spawn the thread. On shutdown,
pending coroutines get a few seconds to finish; whatever is still pending after that is cancelled, so the loop
always closes cleanly. `coroutine_middleware_config` is the settings schema of the `coroutine_middleware` list.
"""

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

from pysoa.common.middleware import build_middleware_stack
from pysoa.schema import fields
from pysoa.server.coroutine import CoroutineMiddleware

__all__ = (
    'AsyncEventLoopThread',
    'coroutine_middleware_config',
)

_logger = logging.getLogger('pysoa.async')

# Pending coroutines get this long to finish when the loop is stopped.
_SHUTDOWN_TIMEOUT_SECONDS = 5.0

coroutine_middleware_config = fields.List(
    fields.ClassConfigurationSchema(base_class=CoroutineMiddleware),
    description='Middleware wrapping each coroutine run with `request.run_coroutine`, the first one outermost; '
    'keep `pysoa.server.coroutine:DefaultCoroutineMiddleware` first so that errors get logged',
)
"""Settings schema of the `coroutine_middleware` list: `{'path': 'module:Class', 'kwargs': {...}}` items."""


class AsyncEventLoopThread(threading.Thread):
    """A daemon thread running an asyncio event loop that coroutines are submitted to from other threads."""

    def __init__(self, coroutine_middleware: Sequence[CoroutineMiddleware] = ()) -> None:
        # Daemon, so that a process that forgets to stop the loop can still exit.
        super().__init__(name='pysoa-async-event-loop', daemon=True)
        self._coroutine_middleware = list(coroutine_middleware)
        self._state_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_requested = False
        self._stopping = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The thread's event loop (created on first access; closed once the thread has been joined)."""
        with self._state_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            return self._loop

    @property
    def running(self) -> bool:
        """Whether the thread has been started and not yet stopped."""
        return self.is_alive() and not self._stopping

    def start(self) -> None:
        """Start the loop thread; calling it again on a started thread does nothing."""
        self.loop  # noqa: B018  # the loop must exist before `run` reads it
        with self._state_lock:
            if self._start_requested or self._stopping:
                return
            self._start_requested = True
            super().start()

    def run(self) -> None:
        """Run the loop until it is stopped, then finish pending tasks and close it (runs in the thread)."""
        loop = self.loop
        asyncio.set_event_loop(loop)
        _logger.info('Async event loop thread running')
        try:
            loop.run_forever()
            loop.run_until_complete(self._finish_pending_tasks(loop))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            _logger.info('Closing async event loop')
            loop.close()
            asyncio.set_event_loop(None)

    @staticmethod
    async def _finish_pending_tasks(loop: asyncio.AbstractEventLoop) -> None:
        pending = asyncio.all_tasks(loop) - {asyncio.current_task(loop)}
        if not pending:
            return
        _logger.info('Waiting for %d pending coroutine(s) before closing the async event loop', len(pending))
        _, unfinished = await asyncio.wait(pending, timeout=_SHUTDOWN_TIMEOUT_SECONDS)
        for task in unfinished:
            task.cancel()
        if unfinished:
            _logger.warning('Cancelled %d coroutine(s) still pending at async event loop shutdown', len(unfinished))
            await asyncio.wait(unfinished)

    def run_coroutine(self, coroutine: Coroutine[Any, Any, Any]) -> 'concurrent.futures.Future[Any]':
        """Submit `coroutine`, wrapped by the middleware (first outermost), to the loop; return a future of its result.

        Each middleware's `before_run_coroutine` runs here, in the caller's thread, in configuration order. The task
        runs in a copy of the caller's context, so context variables set by the caller are visible inside it. The
        thread is started if it has not been yet.
        """
        if self._stopping:
            coroutine.close()  # so it is not reported as never awaited
            raise RuntimeError('The async event loop thread has been stopped')
        self.start()
        return asyncio.run_coroutine_threadsafe(self.wrap(coroutine), self.loop)

    def wrap(self, coroutine: Coroutine[Any, Any, Any]) -> Coroutine[Any, Any, Any]:
        """Call each middleware's `before_run_coroutine` (here, in the caller's thread) and return `coroutine` wrapped
        by the middleware, first outermost; a concurrent worker runs what this returns on its own loop."""
        for middleware in self._coroutine_middleware:
            middleware.before_run_coroutine()
        return build_middleware_stack([middleware.coroutine for middleware in self._coroutine_middleware], coroutine)

    def join(self, timeout: float | None = None) -> None:
        """Stop the loop (pending coroutines get a few seconds to finish) and wait for the thread; idempotent."""
        with self._state_lock:
            first_stop = not self._stopping
            self._stopping = True
            started = self._start_requested
            loop = self._loop
        if not started:
            # Never started: nothing runs the loop, so close it here (if it was ever created).
            if loop is not None and not loop.is_closed():
                loop.close()
            return
        if first_stop and loop is not None:
            _logger.info('Stopping async event loop thread')
            # Queued even if `run_forever` has not begun yet: it then stops right after starting.
            loop.call_soon_threadsafe(loop.stop)
        super().join(timeout)

    def stop(self, timeout: float | None = _SHUTDOWN_TIMEOUT_SECONDS + 1) -> None:
        """Like `join`, but by default waits only a bounded time; harmless if the thread was never started."""
        self.join(timeout)
