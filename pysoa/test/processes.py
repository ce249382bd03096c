"""Child processes that a test, benchmark or fixture started: listing their children, stopping them by PID."""

import abc
import os
import signal
import subprocess
from types import TracebackType
from typing import Any, Self

__all__ = ('StartStop', 'child_pids', 'terminate')


class StartStop(abc.ABC):
    """Base of the helpers that run child processes: `with helper:` starts them, and stops them at the end."""

    @abc.abstractmethod
    def start(self) -> Self:
        """Start the processes; return this helper."""

    @abc.abstractmethod
    def stop(self) -> object:
        """Stop the processes by their PIDs."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def terminate(process: 'subprocess.Popen[Any]', timeout: float) -> None:
    """Send SIGTERM to `process`, and SIGKILL if it is still alive `timeout` seconds later; no-op if it has exited."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # a no-op if it exited meanwhile
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def child_pids(pid: int) -> list[int]:
    """The PIDs of the direct children of process `pid` (Linux `/proc`); [] when it has none or is gone."""
    children: list[int] = []
    try:
        for task in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{task}/children') as listing:
                children.extend(int(child) for child in listing.read().split())
    except (FileNotFoundError, ProcessLookupError):
        return []
    return sorted(children)
