"""Harakiri per job, for a concurrent worker: a job past `harakiri.timeout` is cancelled, the others go on.

A blocking worker interrupts its one job with SIGALRM (`pysoa.server.harakiri`); a concurrent worker cannot, as the
signal would land in whichever job the main thread happens to run. Instead each job's deadline lives in a context
variable, and the coroutine of an `async def run` action runs under it (`guarded`): past it, the coroutine is
cancelled and the action raises `HarakiriInterrupt`, which the dispatcher answers with `ACTION_TIMEOUT` as it
answers the blocking worker's alarm. Code that Python cannot cancel (a sync action in its job thread, a stuck C
call) is left to the process watchdog (`JobWatchdog`): a job still running `shutdown_grace` seconds after its
deadline makes the worker exit at once, as the blocking worker's second alarm does, and a supervisor restarts it.
"""

import asyncio
import contextvars
import logging
import os
import threading
import time
from collections.abc import Coroutine
from typing import Any

from pysoa.common.metrics import MetricsRecorder
from pysoa.server.errors import HarakiriInterrupt
from pysoa.server.harakiri import describe_threads

__all__ = ('JobWatchdog', 'guarded', 'job_deadline', 'set_job_deadline')

_job_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar('pysoa_job_deadline', default=None)

# How often the watchdog looks at the jobs in flight.
_WATCH_INTERVAL_SECONDS = 0.5


def job_deadline() -> float | None:
    """The harakiri deadline (`time.monotonic()` seconds) of the job served in this context, if it has one."""
    return _job_deadline.get()


def set_job_deadline(deadline: float | None) -> None:
    """Give the job served in this context its deadline (a concurrent worker sets it before the job starts)."""
    _job_deadline.set(deadline)


async def guarded(coroutine: Coroutine[Any, Any, Any], logger: logging.Logger) -> Any:
    """Await `coroutine` until the job's deadline; past it, cancel it and raise `HarakiriInterrupt`."""
    deadline = _job_deadline.get()
    if deadline is None:
        return await coroutine
    loop = asyncio.get_running_loop()
    # The loop's clock is monotonic too, but not necessarily `time.monotonic()`: translate.
    timeout = asyncio.timeout_at(loop.time() + (deadline - time.monotonic()))
    try:
        async with timeout:
            return await coroutine
    except TimeoutError:
        if not timeout.expired():
            raise  # the action's own time-out, not harakiri
        # Counted where it is answered (the dispatcher's `server.error.harakiri`, as for the blocking worker's alarm).
        logger.warning('A job ran past its harakiri deadline; its coroutine was cancelled')
        raise HarakiriInterrupt()


class JobWatchdog:
    """A daemon thread that ends the process when a job outlives its deadline by `grace` seconds (see the module)."""

    def __init__(self, grace: float, logger: logging.Logger, metrics: MetricsRecorder) -> None:
        self._grace = grace
        self._logger = logger
        self._metrics = metrics
        self._deadlines: dict[object, float] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name='pysoa-job-watchdog', daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the worker has finished its jobs)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=_WATCH_INTERVAL_SECONDS * 4)

    def watch(self, job: object, deadline: float) -> None:
        """Watch the job `job` (any key unique while it runs), due by `deadline` (`time.monotonic()`)."""
        with self._lock:
            self._deadlines[job] = deadline

    def done(self, job: object) -> None:
        """The job `job` has finished."""
        with self._lock:
            self._deadlines.pop(job, None)

    def watching(self) -> bool:
        """Whether a job is being watched (one still runs)."""
        with self._lock:
            return bool(self._deadlines)

    def overdue(self, now: float) -> int:
        """How many jobs are past their deadline plus the grace at `now`."""
        with self._lock:
            return sum(1 for deadline in self._deadlines.values() if now > deadline + self._grace)

    def _run(self) -> None:
        while not self._stopping.wait(_WATCH_INTERVAL_SECONDS):
            overdue = self.overdue(time.monotonic())
            if overdue:
                self._exit_now(overdue)

    def _exit_now(self, overdue: int) -> None:
        threads = describe_threads()
        self._logger.error(
            '%d job(s) still running %s seconds after their harakiri deadline could not be cancelled; exiting now',
            overdue,
            self._grace,
            extra={'data': {'thread_status': threads}},
        )
        self._metrics.counter('server.error.harakiri', harakiri_level='emergency').increment()
        try:
            self._metrics.publish_all()
        finally:
            os._exit(1)
