"""Commands driven on each thread's own connection: one connection per thread, script reloading, recovery
from a dropped connection or an interrupted command, and a fresh connection after fork."""

import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pysoa.common.transport.redis_gateway.backend import direct
from pysoa.common.transport.redis_gateway.backend.direct import execute_command, supports_direct_commands
from pysoa.common.transport.redis_gateway.backend.scripts import SEND_SCRIPT_SHA
from pysoa.common.transport.redis_gateway.backend.standard import StandardRedisClient
from pysoa.test.redis_server import RedisServerProcess

QUEUE = 'pysoa:service.direct'


@pytest.fixture
def backend(redis_url: str, redis_server: RedisServerProcess) -> Iterator[StandardRedisClient]:
    client = StandardRedisClient(hosts=[(redis_server.host, redis_server.port)])
    try:
        yield client
    finally:
        client.close()


def _send(backend: StandardRedisClient, message: bytes, capacity: int = 10) -> None:
    backend.send_message_to_queue(
        queue_key=QUEUE, message=message, expiry=60, capacity=capacity, connection=backend.get_connection(QUEUE)
    )


def _pop(backend: StandardRedisClient) -> Any:
    return execute_command(backend.get_connection(QUEUE), 'BLPOP', QUEUE, 1)


def test_only_plain_clients_take_the_direct_path(backend: StandardRedisClient) -> None:
    connection = backend.get_connection(QUEUE)
    assert supports_direct_commands(connection)
    assert not supports_direct_commands(object())
    assert not supports_direct_commands(redis.Redis(single_connection_client=True))


def test_send_and_pop_reuse_one_connection_per_thread(backend: StandardRedisClient) -> None:
    for n in range(5):
        _send(backend, b'm%d' % n)
    assert [_pop(backend) for _ in range(5)] == [[QUEUE.encode(), b'm%d' % n] for n in range(5)]
    pool = backend.get_connection(QUEUE).connection_pool
    assert len(pool._in_use_connections) == 1  # type: ignore[attr-defined]

    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(_pop(backend)))
    _send(backend, b'other thread')
    worker.start()
    worker.join(10)
    assert results == [[QUEUE.encode(), b'other thread']]
    assert len(pool._in_use_connections) == 2  # type: ignore[attr-defined]


def test_full_queue_is_an_error_reply(backend: StandardRedisClient) -> None:
    _send(backend, b'one', capacity=1)
    with pytest.raises(redis.ResponseError, match='queue full'):
        _send(backend, b'two', capacity=1)
    assert _pop(backend) == [QUEUE.encode(), b'one']
    assert _pop(backend) is None


def test_send_loads_the_script_when_redis_does_not_know_it(backend: StandardRedisClient) -> None:
    connection = backend.get_connection(QUEUE)
    execute_command(connection, 'SCRIPT', 'FLUSH')
    assert execute_command(connection, 'SCRIPT', 'EXISTS', SEND_SCRIPT_SHA) == [0]
    _send(backend, b'after flush')
    assert _pop(backend) == [QUEUE.encode(), b'after flush']
    assert execute_command(connection, 'SCRIPT', 'EXISTS', SEND_SCRIPT_SHA) == [1]


def test_a_killed_connection_is_replaced(backend: StandardRedisClient) -> None:
    connection = backend.get_connection(QUEUE)
    my_id = execute_command(connection, 'CLIENT', 'ID')
    killer = redis.Redis(connection_pool=redis.ConnectionPool(**connection.connection_pool.connection_kwargs))
    try:
        assert killer.client_kill_filter(_id=my_id) == 1
    finally:
        killer.close()
    # The connection's retry policy (one quick retry) rides it out: the command is sent again on a new socket.
    _send(backend, b'after kill')
    assert _pop(backend) == [QUEUE.encode(), b'after kill']
    assert execute_command(connection, 'CLIENT', 'ID') != my_id


def test_an_interrupted_command_does_not_leave_its_reply_for_the_next(
    backend: StandardRedisClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = backend.get_connection(QUEUE)
    _send(backend, b'first')
    held = connection.connection_pool.__dict__['_pysoa_held_connections'].connection

    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt  # as a harakiri alarm would, after the command went out

    with monkeypatch.context() as patch:
        patch.setattr(held, 'read_response', interrupted)
        with pytest.raises(KeyboardInterrupt):
            _pop(backend)
    # 'first' was popped by the interrupted BLPOP; its reply must not be taken for the next command's.
    _send(backend, b'second')
    assert _pop(backend) == [QUEUE.encode(), b'second']


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_a_forked_child_uses_its_own_connection(backend: StandardRedisClient) -> None:
    connection = backend.get_connection(QUEUE)
    parent_id = execute_command(connection, 'CLIENT', 'ID')
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads; the child here only talks to Redis and exits.
        warnings.simplefilter('ignore', DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: report its connection id, never return into pytest
        code = 1
        try:
            child_id = execute_command(connection, 'CLIENT', 'ID')
            os.write(write_end, str(child_id).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        _, status = os.waitpid(pid, 0)
        child_id = int(os.read(read_end, 64).decode())
    finally:
        os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_id != parent_id
    # The parent's connection is untouched by the child.
    assert execute_command(connection, 'CLIENT', 'ID') == parent_id


def test_without_hiredis_the_connection_packs(backend: StandardRedisClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(direct, '_pack_command', None)
    _send(backend, b'packed by redis-py')
    assert _pop(backend) == [QUEUE.encode(), b'packed by redis-py']
