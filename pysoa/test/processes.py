"""Stopping child processes that a test, benchmark or fixture started, always by their PID."""

import signal
import subprocess
from typing import Any

__all__ = ('terminate',)


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
