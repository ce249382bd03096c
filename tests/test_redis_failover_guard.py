"""`failover_guard.confirm` against a real master and replica: a taking is confirmed by the replica's `WAIT`
acknowledgement, and without it only by the Sentinels (here: none answers, so the answer is no)."""

import os
import signal
from collections.abc import Iterator

import pytest
import redis

from pysoa.common.transport.redis_gateway.backend import failover_guard
from pysoa.test.redis_server import RedisServerProcess, find_redis_server_binary
from pysoa.test.waiting import wait_until
from tests.ci import unavailable


@pytest.fixture
def pair() -> Iterator[tuple[RedisServerProcess, RedisServerProcess]]:
    if find_redis_server_binary() is None:
        unavailable('no redis-server')
    master = RedisServerProcess().start()
    replica = RedisServerProcess(extra_args=('--replicaof', master.host, str(master.port)))
    try:
        replica.start()
        with redis.Redis(host=replica.host, port=replica.port) as connection:
            assert wait_until(lambda: connection.info('replication').get('master_link_status') == 'up', 15)
        yield master, replica
    finally:
        if replica.pid is not None:
            os.kill(replica.pid, signal.SIGCONT)
        replica.stop()
        master.stop()


def test_a_taking_the_replica_acknowledges_is_confirmed_and_one_it_does_not_is_not(
    pair: tuple[RedisServerProcess, RedisServerProcess],
) -> None:
    master, replica = pair
    connection = redis.Redis(host=master.host, port=master.port)
    address = (master.host, master.port)
    try:
        connection.rpush('pysoa:service.guard', b'request')
        assert connection.lpop('pysoa:service.guard') == b'request'
        command = failover_guard.command_on(connection)
        assert failover_guard.confirm(command, 1, address, [], 'guard') == failover_guard.Verdict(True, replicas=1)
        # The replica count comes from ROLE too: a master seen with no replica still waits for the one it has.
        assert failover_guard.confirm(command, 0, address, [], 'guard').replicas == 1

        assert replica.pid is not None
        os.kill(replica.pid, signal.SIGSTOP)  # the replica stops acknowledging (as a promoted one would)
        connection.rpush('pysoa:service.guard', b'request')
        connection.lpop('pysoa:service.guard')
        verdict = failover_guard.confirm(command, 1, address, [], 'guard')
        assert not verdict.confirmed and verdict.reason == 'no Sentinel answers'
    finally:
        connection.close()
