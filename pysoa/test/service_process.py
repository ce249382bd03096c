"""A service run as a child process (`python -m <module> -s <settings>`), for integration tests and demos.

The process is started with the service's own command line, its output goes to a log file, and it is stopped by
its PID: SIGTERM (a graceful stop), then SIGKILL to it and its workers if it outlives the timeout. When the
service's settings take their heartbeat file from an environment variable (`heartbeat_env`), `worker_pids` and
`wait_for_workers` tell which workers have started serving.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from pysoa.test.processes import StartStop, child_pids
from pysoa.test.waiting import wait_until

__all__ = ('ServiceProcess',)

_HEARTBEAT_NAME = re.compile(r'hb-(?P<fid>\d+|\{\{fid\}\})-(?P<pid>\d+)')


class ServiceProcess(StartStop):
    """A service in a child process: `start()`, `stop()`, or use it as a context manager.

    `workers` > 1 runs it with `--fork`; `extra_args` are appended to its command line; `env` adds environment
    variables; `python_path` entries go first on its `PYTHONPATH`; `cwd` is its working directory. Its output goes
    to `log_path` (a temporary file by default, removed by `cleanup()`). With `heartbeat_dir` and `heartbeat_env`,
    the variable `heartbeat_env` is set to a heartbeat file template in `heartbeat_dir`.
    """

    def __init__(
        self,
        module: str,
        settings: str,
        *,
        workers: int = 1,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        python_path: Sequence[str] = (),
        cwd: str | None = None,
        log_path: str | None = None,
        heartbeat_dir: str | None = None,
        heartbeat_env: str | None = None,
    ) -> None:
        self.module = module
        self.settings = settings
        self.workers = workers
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.python_path = list(python_path)
        self.cwd = cwd
        self._own_log = log_path is None
        self.log_path = log_path or tempfile.mkstemp(prefix='pysoa-service-', suffix='.log')[1]
        self.process: subprocess.Popen[bytes] | None = None
        self.heartbeat_dir = heartbeat_dir
        if heartbeat_dir is not None and heartbeat_env is not None:
            self.env.setdefault(heartbeat_env, os.path.join(heartbeat_dir, 'hb-{{fid}}-{{pid}}'))

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
        """Start the service (it is ready once it answers, or see `wait_for_workers`)."""
        environment = dict(os.environ)
        inherited = [p for p in environment.get('PYTHONPATH', '').split(os.pathsep) if p]
        environment['PYTHONPATH'] = os.pathsep.join([*self.python_path, *inherited])
        environment.update(self.env)
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=self.cwd
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
