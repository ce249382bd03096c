"""Graceful shutdown on SIGINT and SIGTERM: finish the current job, take no more; a second signal forces exit."""

import logging
import signal
import time
from collections.abc import Callable
from types import FrameType

__all__ = ('ShutdownSignalHandler', 'SignalHandler')

SignalHandler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None
"""What `signal.signal` installs and returns: a function, `SIG_DFL`, `SIG_IGN`, or None (set outside Python)."""

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
    """Handles shutdown signals for one worker: the first one calls `request_shutdown`, a second one exits.

    The one exception: a different shutdown signal within a second of the first is the same request
    delivered twice (Ctrl+C reaches a worker as SIGINT while its supervisor forwards SIGTERM), and is ignored
    once. Every signal after that forces the exit.
    """

    def __init__(self, request_shutdown: Callable[[], None], logger: logging.Logger) -> None:
        self._request_shutdown = request_shutdown
        self._logger = logger
        # (signals received so far, the first signal, when it came): replaced whole, never updated in place.
        self._state: tuple[int, int, float] = (0, 0, 0.0)
        self._previous: dict[int, SignalHandler] = {}

    @property
    def received(self) -> bool:
        """Whether a shutdown signal has arrived."""
        return self._state[0] > 0

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
        # No lock: Python runs signal handlers in the main thread, so a signal arriving while this handler runs
        # runs it again, nested, and a lock would make that run drop its signal. Instead the state is read and
        # replaced with no call in between (where a nested run could start), so each run sees every earlier one.
        now = time.monotonic()
        count, first_signal, first_at = self._state
        self._state = (count + 1, signal_number, now) if count == 0 else (count + 1, first_signal, first_at)
        if count == 0:
            self._request_shutdown()
            self._logger.warning('Received %s, shutting down after the current job', _name(signal_number))
            return
        if count == 1 and signal_number != first_signal and now - first_at < _DUPLICATE_WINDOW_SECONDS:
            self._logger.info(
                'Ignoring %s received within one second of %s: the same shutdown request',
                _name(signal_number),
                _name(first_signal),
            )
            return
        self._logger.warning('Received a second shutdown signal (%s), forcing shutdown', _name(signal_number))
        raise SystemExit(1)
