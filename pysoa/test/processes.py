"""Child processes that a test, benchmark or fixture started: listing their children, stopping them by PID."""

import os
import signal
import subprocess
from typing import Any

__all__ = ('child_pids', 'terminate')


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
