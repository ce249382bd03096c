"""Run a job's blocking request path on the event loop itself, one greenlet per job, for a concurrent worker.

A job whose actions are all `async def run` spends its time awaiting; the request path around them (job log,
middleware, dispatch, reply) is plain, blocking-style code that calls `request.run_coroutine(...).result()` and
`transport.send_response_message(...)`. Run in a greenlet of the loop's thread, those two calls switch back to the
job's task (`wait_on_loop`), which awaits on their behalf and switches in again with the result: the job is one
asyncio task, no thread is involved, and the rest of the code does not know. Each greenlet has its own context
(context variables), copied from its task when it starts.

Needs the `greenlet` package (the `concurrency` extra); without it, `AVAILABLE` is False and a concurrent worker runs
every job on a thread instead.
"""

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

try:
    import greenlet

    AVAILABLE = True
except ImportError:  # an optional extra: the worker falls back to job threads
    AVAILABLE = False

__all__ = ('AVAILABLE', 'LoopTaskFuture', 'greenlet_or_thread', 'in_job_greenlet', 'run_in_greenlet', 'wait_on_loop')

_T = TypeVar('_T')


if AVAILABLE:

    class _JobGreenlet(greenlet.greenlet):  # type: ignore[misc]  # greenlet ships no type information
        """A greenlet that runs one job's request path and asks its task to await things for it."""


def greenlet_or_thread() -> object:
    """What runs the caller: its job greenlet, else its thread (a key for what belongs to one running job)."""
    if AVAILABLE:
        current = greenlet.getcurrent()
        if isinstance(current, _JobGreenlet):
            return current
    return threading.current_thread()


def in_job_greenlet() -> bool:
    """Whether the caller runs in a job's greenlet (so it must not block, and may `wait_on_loop`)."""
    return AVAILABLE and isinstance(greenlet.getcurrent(), _JobGreenlet)


async def run_in_greenlet(function: Callable[..., _T], *args: object) -> _T:
    """Run `function(*args)` in a new job greenlet, awaiting whatever it passes to `wait_on_loop`; its result."""
    child = _JobGreenlet(function)
    child.gr_context = contextvars.copy_context()
    request: Any = child.switch(*args)
    while not child.dead:
        try:
            result = await request
        except BaseException as error:  # cancellation too: the job's code sees it where it waited
            request = child.throw(error)
        else:
            request = child.switch(result)
    value: _T = request
    return value


def wait_on_loop(awaitable: Awaitable[_T]) -> _T:
    """From a job greenlet: have the job's task await `awaitable`, and return its result (or raise its error)."""
    current = greenlet.getcurrent()
    if not isinstance(current, _JobGreenlet) or current.parent is None:
        raise RuntimeError('wait_on_loop() is only for the request path of a job run by run_in_greenlet()')
    result: _T = current.parent.switch(awaitable)
    return result


class LoopTaskFuture(concurrent.futures.Future[Any]):
    """The future `request.run_coroutine` returns in a job greenlet: its `result()` waits without blocking the loop."""

    def __init__(self, task: 'asyncio.Task[Any]') -> None:
        super().__init__()
        self._task = task
        self.set_running_or_notify_cancel()
        task.add_done_callback(self._settle)

    def _settle(self, task: 'asyncio.Task[Any]') -> None:
        if task.cancelled():
            self.set_exception(concurrent.futures.CancelledError())
        elif (error := task.exception()) is not None:
            self.set_exception(error)
        else:
            self.set_result(task.result())

    def result(self, timeout: float | None = None) -> Any:
        """The coroutine's result; in a job greenlet, the job's task awaits it meanwhile (`timeout` is ignored)."""
        if not self.done() and in_job_greenlet():
            wait_on_loop(asyncio.wait([self._task]))
        return super().result(timeout)
