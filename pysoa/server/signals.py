"""Graceful shutdown on SIGINT and SIGTERM: finish the current job, take no more; a second signal forces exit."""

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ('ShutdownSignalHandler',)

SHUTDOWN_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
"""The signals that ask a worker to stop."""

# Ctrl+C in a terminal reaches the worker (SIGINT) and its supervisor, which forwards SIGTERM: the pair is one
# request, not two.
_DUPLICATE_WINDOW_SECONDS = 1.0


def _name(signal_number: int) -> str:
    try:
        return signal.Signals(signal_number).name
    except ValueError:
        return f'signal {signal_number}'


class ShutdownSignalHandler:
    """Handles shutdown signals for one worker: the first one calls `request_shutdown`, a second one exits."""

    def __init__(self, request_shutdown: Callable[[], None], logger: logging.Logger) -> None:
        self._request_shutdown = request_shutdown
        self._logger = logger
        self._lock = threading.Lock()
        self._received = False
        self._last_signal: int | None = None
        self._last_signal_at = 0.0
        self._previous: dict[int, Any] = {}

    @property
    def received(self) -> bool:
        """Whether a shutdown signal has arrived."""
        return self._received

    def install(self, handler: Callable[[int, FrameType | None], None] | None = None) -> None:
        """Install `handler` (default: `handle`) for SIGINT and SIGTERM (main thread only), keeping the old ones."""
        for signum in SHUTDOWN_SIGNALS:
            self._previous[signum] = signal.signal(signum, handler or self.handle)

    def restore(self) -> None:
        """Put back the handlers that `install` replaced."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def handle(self, signal_number: int, _frame: FrameType | None) -> None:
        """The signal handler: request a graceful stop, or exit on a second, distinct request."""
        # Signals can arrive nanoseconds apart; one handler at a time is enough and the others add nothing.
        if not self._lock.acquire(blocking=False):
            return
        try:
            now = time.monotonic()
            if not self._received:
                self._logger.warning('Received %s, shutting down after the current job', _name(signal_number))
                self._received = True
                self._request_shutdown()
            elif (
                self._last_signal in SHUTDOWN_SIGNALS
                and self._last_signal != signal_number
                and now - self._last_signal_at < _DUPLICATE_WINDOW_SECONDS
            ):
                self._logger.info('Ignoring a second shutdown signal received within one second of the first')
            else:
                self._logger.warning('Received a second shutdown signal, forcing shutdown')
                raise SystemExit(1)
            self._last_signal = signal_number
            self._last_signal_at = now
        finally:
            self._lock.release()
