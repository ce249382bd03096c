"""Harakiri: interrupt a job that runs past `harakiri.timeout`, and kill the worker if it cannot stop.

The timer is SIGALRM, re-armed before each request. The first alarm raises `HarakiriInterrupt` in
the main thread (the job answers ACTION_TIMEOUT or JOB_TIMEOUT), asks the worker to shut down and
re-arms for `shutdown_grace` seconds. If that second alarm fires, the worker is stuck where Python
cannot interrupt it (in C code, say), so it runs the exit hooks briefly and exits at once.
"""

import atexit
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType

from pysoa.common.metrics import MetricsRecorder
from pysoa.server.errors import HarakiriInterrupt
from pysoa.server.signals import SignalHandler

__all__ = ('Harakiri', 'HarakiriInterrupt', 'describe_threads')

# Exit hooks may flush logs and metrics, but they must not keep a stuck worker alive.
_EXIT_HOOKS_TIMEOUT_SECONDS = 5.0


def describe_threads() -> dict[str, list[str]]:
    """The current stack of every thread, by thread name, for the harakiri log record."""
    names = {t.ident: t.name for t in threading.enumerate()}
    stacks: dict[str, list[str]] = {}
    for ident, frame in sys._current_frames().items():
        lines: list[str] = []
        for entry in traceback.format_stack(frame):
            lines.extend(entry.rstrip().split('\n'))
        stacks[names.get(ident, str(ident))] = lines
    return stacks


class Harakiri:
    """The harakiri timer of one worker (main thread only)."""

    def __init__(
        self,
        timeout: int,
        shutdown_grace: int,
        request_shutdown: Callable[[], None],
        logger: logging.Logger,
        metrics: MetricsRecorder,
    ) -> None:
        self.timeout = timeout
        self.shutdown_grace = shutdown_grace
        self._request_shutdown = request_shutdown
        self._logger = logger
        self._metrics = metrics
        self._lock = threading.Lock()
        self.triggered = False
        self._previous: SignalHandler = None
        self._installed = False

    def install(self, handler: Callable[[int, FrameType | None], None] | None = None) -> None:
        """Install `handler` (default: `handle`) for SIGALRM."""
        self._previous = signal.signal(signal.SIGALRM, handler or self.handle)
        self._installed = True

    def restore(self) -> None:
        """Cancel any pending alarm and put back the previous SIGALRM handler."""
        if self._installed:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self._previous)
            self._installed = False

    def arm(self) -> None:
        """Start (or restart) the countdown for the next job; a timeout of 0 disables harakiri."""
        if self._installed and not self.triggered:
            signal.alarm(self.timeout)

    def handle(self, signal_number: int, _frame: FrameType | None) -> None:
        """The SIGALRM handler."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            threads = describe_threads()
            details = '\n'.join(f'Thread {name}:\n' + '\n'.join(lines) for name, lines in threads.items())
            extra = {'data': {'thread_status': threads}}
            if self.triggered:
                self._logger.error(
                    'Graceful shutdown failed %s seconds after harakiri; exiting now',
                    self.shutdown_grace,
                    extra=extra,
                )
                self._logger.info('Thread status at forced exit:\n%s', details)
                self._metrics.counter('server.error.harakiri', harakiri_level='emergency').increment()
                self._exit_now()
            self.triggered = True
            self._logger.warning(
                'A job ran past the harakiri timeout of %s seconds; interrupting it, shutting down within %s seconds',
                self.timeout,
                self.shutdown_grace,
                extra=extra,
            )
            self._logger.info('Thread status at harakiri:\n%s', details)
            self._request_shutdown()
            signal.alarm(self.shutdown_grace)
        finally:
            self._lock.release()
        raise HarakiriInterrupt()

    def _exit_now(self) -> None:
        try:
            self._metrics.publish_all()
            run_exit_hooks: Callable[[], None] | None = getattr(atexit, '_run_exitfuncs', None)
            if run_exit_hooks is not None:
                hooks = threading.Thread(target=run_exit_hooks, name='harakiri-exit-hooks', daemon=True)
                hooks.start()
                hooks.join(_EXIT_HOOKS_TIMEOUT_SECONDS)
        finally:
            os._exit(1)
