"""Run the echo service as a child process (`python -m examples.echo_service ...`) and stop it by its PID.

Used by the demo and by the tests that exercise real worker processes.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ('EchoServiceProcess', 'PROJECT_ROOT', 'child_pids', 'wait_until')

_HEARTBEAT_NAME = re.compile(r'hb-(?P<fid>\d+|\{\{fid\}\})-(?P<pid>\d+)')

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The directory holding the `examples` package (put on the child's `PYTHONPATH`)."""


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Check `condition` every `interval` seconds until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


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


class EchoServiceProcess:
    """The echo service in a child process: `start()`, `stop()`, or use it as a context manager.

    `workers` > 1 runs it with `--fork`; `extra_args` are appended to its command line; `env` adds
    environment variables. Its output goes to `log_path`.
    """

    def __init__(
        self,
        redis_url: str,
        workers: int = 2,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_path: str | None = None,
        module: str = 'examples.echo_service',
        settings: str = 'examples.echo_service.settings',
        heartbeat_dir: str | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.workers = workers
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.module = module
        self.settings = settings
        self._own_log = log_path is None
        self.log_path = log_path or tempfile.mkstemp(prefix='pysoa-echo-', suffix='.log')[1]
        self.process: subprocess.Popen[bytes] | None = None
        self.heartbeat_dir = heartbeat_dir
        if heartbeat_dir is not None:
            self.env.setdefault('ECHO_HEARTBEAT_FILE', os.path.join(heartbeat_dir, 'hb-{{fid}}-{{pid}}'))

    @property
    def pid(self) -> int | None:
        """The PID of the service's main process (the supervising parent under `--fork`)."""
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        """The command line that starts the service."""
        command = [sys.executable, '-m', self.module, '-s', self.settings]
        if self.workers > 1:
            command += ['--fork', str(self.workers)]
        return command + self.extra_args

    def start(self) -> Self:
        """Start the service (it is ready once its workers answer; see `examples.echo_client.wait_until_ready`)."""
        environment = dict(os.environ)
        environment['PYSOA_REDIS_URL'] = self.redis_url
        python_path = [str(PROJECT_ROOT)] + [p for p in environment.get('PYTHONPATH', '').split(os.pathsep) if p]
        environment['PYTHONPATH'] = os.pathsep.join(python_path)
        environment.update(self.env)
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=str(PROJECT_ROOT)
            )
        return self

    def signal(self, signal_number: int) -> None:
        """Send a signal to the service's main process."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal_number)

    def wait(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for the service to exit; return its exit code (`TimeoutExpired` if not)."""
        if self.process is None:
            raise RuntimeError('The service was not started')
        return self.process.wait(timeout)

    def stop(self, timeout: float = 20.0) -> int | None:
        """Stop the service: SIGTERM (graceful), then SIGKILL to it and its workers if it outlives `timeout`."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            # Workers first, while the parent still lives: once it is gone they are no longer listed as its children.
            for pid in [*child_pids(self.process.pid), self.process.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            code = self.process.wait(timeout)
        self.process = None
        return code

    def worker_pids(self) -> dict[int, int]:
        """Worker number -> PID of the live workers that have started serving (their heartbeat file exists).

        Needs `heartbeat_dir`. Without `--fork` the single server process is worker 0.
        """
        if self.heartbeat_dir is None or self.process is None:
            return {}
        live = set(child_pids(self.process.pid)) if self.workers > 1 else {self.process.pid}
        workers = {}
        for name in os.listdir(self.heartbeat_dir):
            match = _HEARTBEAT_NAME.fullmatch(name)
            if match and int(match['pid']) in live:
                workers[int(match['fid']) if match['fid'].isdigit() else 0] = int(match['pid'])
        return workers

    def wait_for_workers(self, timeout: float = 20.0) -> dict[int, int]:
        """Wait until every worker serves (see `worker_pids`); return them, or raise `TimeoutError`."""
        expected = self.workers if self.workers > 1 else 1
        if not wait_until(lambda: len(self.worker_pids()) == expected, timeout):
            raise TimeoutError(f'{expected} workers did not start in {timeout} s; output:\n{self.output()[-3000:]}')
        return self.worker_pids()

    def output(self) -> str:
        """Everything the service has written so far."""
        return Path(self.log_path).read_text(errors='replace')

    def cleanup(self) -> None:
        """Remove the log file, if this object created it."""
        if self._own_log:
            Path(self.log_path).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
