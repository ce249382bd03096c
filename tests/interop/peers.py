"""Start interop peers (the `peer` package) under our interpreter or upstream's, and read what they report.

A peer server runs `python -P -m peer.echo_service -s peer.settings` in its own process, stopped by its PID; a
peer client runs `python -P -m peer.client` with a JSON plan on stdin. `-P` and a working directory outside the
repo keep our `pysoa` from shadowing upstream's in the upstream venv.
"""

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Self

import redis

from pysoa.test.processes import StartStop, terminate
from pysoa.test.waiting import wait_until
from tests.ci import unavailable
from tests.interop.upstream_env import UpstreamEnv, UpstreamEnvError, ensure_upstream_env

PEER_PATH = Path(__file__).resolve().parent


def require_upstream_env() -> UpstreamEnv:
    """The cached upstream venv, built on first use; skips the test (fails it in CI) when it cannot be made."""
    try:
        return ensure_upstream_env()
    except UpstreamEnvError as error:
        unavailable(f'cannot build the upstream pysoa==1.4.9 virtualenv: {error}')


def peer_environ(base: dict[str, str], redis_address: str, service: str) -> dict[str, str]:
    """The environment for a peer process: `peer` importable, pointed at one Redis and service name."""
    env = dict(base)
    env['PYTHONPATH'] = str(PEER_PATH)
    env['PYSOA_INTEROP_REDIS'] = redis_address
    env['PYSOA_INTEROP_SERVICE'] = service
    return env


def our_environ() -> dict[str, str]:
    """This process's environment minus anything that would change what a child Python imports."""
    return {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}


def _connected(connection: redis.Redis, name: str) -> int:
    """How many connections named `name` Redis has: a server names its connection and opens it to receive."""
    return sum(1 for client in connection.client_list() if client.get('name') == name)


class PeerServer(StartStop):
    """The echo service in a child process, under `python`, serving `service` on the Redis at host:port."""

    def __init__(self, python: Path | str, env: dict[str, str], host: str, port: int, service: str) -> None:
        self.python = str(python)
        self.env = peer_environ(env, f'{host}:{port}', service)
        self.host = host
        self.port = port
        self.service = service
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f'pysoa-interop-{service}-', suffix='.log', delete=False)

    def start(self, timeout: float = 30) -> Self:
        """Start the server and wait until its connection, named after the service, reaches Redis."""
        connection = redis.Redis(host=self.host, port=self.port)
        try:
            self._process = subprocess.Popen(
                [self.python, '-P', '-m', 'peer.echo_service', '-s', 'peer.settings'],
                env=self.env,
                cwd=tempfile.gettempdir(),
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            process = self._process

            def receiving() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(f'peer server {self.service} exited early:\n{self.log_tail()}')
                return _connected(connection, f'peer-{self.service}') > 0

            if not wait_until(receiving, timeout):
                raise RuntimeError(f'peer server {self.service} not receiving after {timeout}s:\n{self.log_tail()}')
        except BaseException:
            self.stop()
            raise
        finally:
            connection.close()
        return self

    def log_tail(self, size: int = 4000) -> str:
        """The end of what the server printed."""
        self._log.flush()
        return Path(self._log.name).read_bytes()[-size:].decode('utf-8', 'replace')

    def stop(self, timeout: float = 10) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout)
        self._log.close()

    def remove_log(self) -> None:
        """Delete the log file."""
        Path(self._log.name).unlink(missing_ok=True)


def run_peer_client(python: Path | str, env: dict[str, str], plan: dict[str, Any], timeout: float = 60) -> Any:
    """Run `peer.client` under `python` with `plan`, and return the JSON it printed."""
    done = subprocess.run(
        [str(python), '-P', '-m', 'peer.client'],
        input=json.dumps(plan).encode(),
        env=peer_environ(env, plan['redis'], plan['service']),
        cwd=tempfile.gettempdir(),
        capture_output=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f'peer client exited with {done.returncode}:\n{done.stderr.decode("utf-8", "replace")[-4000:]}'
        )
    return json.loads(done.stdout)
