"""terminate(): SIGTERM first, SIGKILL for a child that ignores it, nothing for one that already exited."""

import signal
import subprocess
import sys

from pysoa.test.processes import terminate

IGNORES_SIGTERM = (
    'import signal, sys, time\n'
    'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
    'print("ready", flush=True)\n'
    'time.sleep(60)\n'
)


def test_a_child_that_obeys_sigterm_ends_with_it() -> None:
    process = subprocess.Popen(
        [sys.executable, '-c', 'import time; print("ready", flush=True); time.sleep(60)'], stdout=subprocess.PIPE
    )
    assert process.stdout is not None and process.stdout.readline() == b'ready\n'
    terminate(process, timeout=10)
    assert process.returncode == -signal.SIGTERM
    process.stdout.close()


def test_a_child_that_ignores_sigterm_is_killed() -> None:
    process = subprocess.Popen([sys.executable, '-c', IGNORES_SIGTERM], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b'ready\n'
    terminate(process, timeout=0.5)
    assert process.returncode == -signal.SIGKILL
    process.stdout.close()


def test_an_exited_child_is_left_alone() -> None:
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait(10)
    terminate(process, timeout=1)
    assert process.returncode == 0
