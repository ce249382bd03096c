"""A cached virtualenv holding upstream PySOA 1.4.9 from PyPI, for the interop tests (the benchmark uses it too).

The venv is made once per Python version under `<repo>/.cache/upstream-venv/` (git-ignored; override the parent
folder with `PYSOA_UPSTREAM_VENV_DIR`), behind a lock file so two processes asking at once build it only once.
It is complete when its `ready.json` exists: that file records the versions pip resolved, so a report can say
exactly what "upstream" was. Nothing here imports upstream into the calling process; callers run the venv's
Python in a subprocess.

On CPython 3.11, `pip install pysoa==1.4.9` resolves to msgpack 0.6.2 (built from its sdist as the pure-Python
fallback: no prebuilt wheel exists for 3.11), redis 3.5.3, conformity 1.28, currint 2, pymetrics 1.0, pytz, six.
No other combination is needed.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ('UPSTREAM_REQUIREMENTS', 'UpstreamEnv', 'UpstreamEnvError', 'ensure_upstream_env', 'upstream_env_dir')

UPSTREAM_REQUIREMENTS = ('pysoa==1.4.9',)
"""What pip installs into the venv; the rest is resolved from upstream's own pins."""

REPO_ROOT = Path(__file__).resolve().parents[2]
_READY = 'ready.json'
_PROBE = (
    'import json, sys, msgpack, redis, conformity, currint, pysoa\n'
    'from pysoa.client.client import Client\n'
    'from pysoa.server.server import Server\n'
    'from pysoa.common.transport.redis_gateway.client import RedisClientTransport\n'
    'print(json.dumps({"python": sys.version.split()[0], "pysoa": pysoa.__version__,\n'
    '    "msgpack": ".".join(map(str, msgpack.version)), "msgpack_packer": msgpack.Packer.__module__,\n'
    '    "redis": redis.__version__, "conformity": conformity.__version__}))\n'
)


class UpstreamEnvError(RuntimeError):
    """The upstream virtualenv could not be made or does not work."""


@dataclass(frozen=True)
class UpstreamEnv:
    """A ready upstream venv: its interpreter and the versions installed in it."""

    directory: Path
    python: Path
    versions: dict[str, Any]

    def environ(self, pythonpath: Path | str | None = None) -> dict[str, str]:
        """An environment for running the venv's Python, with this process's venv and path settings removed."""
        env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
        env['VIRTUAL_ENV'] = str(self.directory)
        env['PATH'] = f'{self.directory / "bin"}{os.pathsep}{env.get("PATH", "")}'
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        if pythonpath is not None:
            env['PYTHONPATH'] = str(pythonpath)
        return env


def upstream_env_dir() -> Path:
    """Where the venv for this Python lives (keyed by implementation, version and the requirements)."""
    parent = Path(os.environ.get('PYSOA_UPSTREAM_VENV_DIR') or REPO_ROOT / '.cache' / 'upstream-venv')
    tag = f'{sys.implementation.name}{sys.version_info.major}.{sys.version_info.minor}'
    pins = '-'.join(r.replace('==', '') for r in UPSTREAM_REQUIREMENTS)
    return parent / f'{tag}-{pins}'


@contextmanager
def _locked(lock_path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path`, waiting at most `timeout` seconds for it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, 'a+') as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UpstreamEnvError(f'timed out after {timeout:.0f}s waiting for the lock {lock_path}')
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a build step outside the repo (whose `pysoa` would shadow upstream's), returning its stdout."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=Path.home())
    except subprocess.TimeoutExpired:
        raise UpstreamEnvError(f'`{" ".join(command)}` took more than {timeout:.0f}s')
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise UpstreamEnvError(f'`{" ".join(command)}` exited with {done.returncode}:\n{tail}')
    return done.stdout


def _load_ready(directory: Path) -> UpstreamEnv | None:
    """The venv described by `ready.json`, or None when it is missing, partial or broken."""
    python = directory / 'bin' / 'python'
    try:
        versions = json.loads((directory / _READY).read_text())
    except (OSError, ValueError):
        return None
    if not python.exists():
        return None
    return UpstreamEnv(directory=directory, python=python, versions=versions)


def _build(directory: Path, timeout: float) -> UpstreamEnv:
    """Make the venv from scratch, install the requirements and check that upstream imports."""
    if directory.exists():
        shutil.rmtree(directory)
    deadline = time.monotonic() + timeout
    _run([sys.executable, '-m', 'venv', str(directory)], timeout)
    python = directory / 'bin' / 'python'
    env = UpstreamEnv(directory=directory, python=python, versions={})
    pip = [str(python), '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-q']
    _run(pip + list(UPSTREAM_REQUIREMENTS), max(deadline - time.monotonic(), 1), env=env.environ())
    probe = _run([str(python), '-P', '-c', _PROBE], max(deadline - time.monotonic(), 1), env=env.environ())
    versions = json.loads(probe.strip().splitlines()[-1])
    versions['requirements'] = ' '.join(UPSTREAM_REQUIREMENTS)
    freeze = _run([str(python), '-m', 'pip', 'freeze', '--disable-pip-version-check'], 60, env=env.environ())
    versions['installed'] = ' '.join(freeze.split())
    (directory / _READY).write_text(json.dumps(versions, indent=2) + '\n')
    return UpstreamEnv(directory=directory, python=python, versions=versions)


def ensure_upstream_env(timeout: float = 600) -> UpstreamEnv:
    """Return the cached upstream venv, building it first when needed; raise `UpstreamEnvError` on failure."""
    directory = upstream_env_dir()
    ready = _load_ready(directory)
    if ready is not None:
        return ready
    try:
        with _locked(directory.with_name(directory.name + '.lock'), timeout):
            # Another process may have finished the build while this one waited for the lock.
            ready = _load_ready(directory)
            if ready is not None:
                return ready
            return _build(directory, timeout)
    except OSError as error:
        raise UpstreamEnvError(f'cannot make {directory}: {error}') from error


if __name__ == '__main__':
    try:
        made = ensure_upstream_env()
    except UpstreamEnvError as error:
        sys.exit(f'upstream venv: {error}')
    print(made.python)
    print(json.dumps(made.versions, indent=2))
