"""Waiting, in tests, for something that nothing signals: a file, a child process's state, a server's queue."""

import time
from collections.abc import Callable

__all__ = ('wait_until',)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Check `condition` every `interval` seconds until it holds (True) or `timeout` seconds pass (False).

    Only for what offers nothing to block on (another process's files, queues or state); within one process,
    wait on an event instead.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
