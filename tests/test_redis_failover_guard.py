"""`failover_guard.confirm` against a real master and replica: a taking is confirmed by the replica's `WAIT`
acknowledgement, and without it only by the Sentinels (here: none answers, so the answer is no)."""

import os
import signal
from collections.abc import Iterator
from typing import cast

import pytest
import redis

from pysoa.common.transport.redis_gateway.backend import failover_guard
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
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


class _Sentinel:
    """Answers `SENTINEL MASTER` and `SENTINEL REPLICAS` as a Sentinel does (flat name/value lists)."""

    def __init__(self, port: int, epoch: int, flags: str = 'master') -> None:
        self.port, self.epoch, self.flags = port, epoch, flags

    def execute_command(self, *args: object) -> object:
        if args[:2] == ('SENTINEL', 'MASTER'):
            return [
                'name',
                'svc',
                'ip',
                '127.0.0.1',
                'port',
                str(self.port),
                'flags',
                self.flags,
                'config-epoch',
                str(self.epoch),
            ]
        return []


def test_discover_never_goes_back_to_a_master_that_a_newer_configuration_replaced() -> None:
    lagging, informed = _Sentinel(7001, epoch=4), _Sentinel(7002, epoch=5)
    newest = failover_guard.discover([informed], 'svc')  # type: ignore[list-item]
    assert (newest.address, newest.epoch) == (('127.0.0.1', 7002), 5)

    # A Sentinel that has not heard of the failover yet still names the old master: it is passed over.
    sentinels = [lagging, informed]
    assert failover_guard.discover(sentinels, 'svc', newest).address == ('127.0.0.1', 7002)  # type: ignore[arg-type]
    with pytest.raises(failover_guard.StaleSentinelsError, match='epoch 5 named 127.0.0.1:7002'):
        failover_guard.discover([lagging], 'svc', newest)  # type: ignore[list-item]
    # Naming the same master with an older epoch is not stale (nothing moved), nor is anything without a newest.
    assert failover_guard.discover([_Sentinel(7002, epoch=3)], 'svc', newest).epoch == 3  # type: ignore[list-item]
    assert failover_guard.discover([lagging], 'svc').address == ('127.0.0.1', 7001)  # type: ignore[list-item]


def test_discover_passes_over_a_master_that_its_sentinel_is_failing_over() -> None:
    leader, other = _Sentinel(7001, epoch=4, flags='master,failover_in_progress'), _Sentinel(7001, epoch=4)
    with pytest.raises(redis.sentinel.MasterNotFoundError, match='failover_in_progress'):
        failover_guard.discover([leader], 'svc')  # type: ignore[list-item]
    # Another Sentinel that does not know yet still names it (the guard's check after taking covers that case).
    assert failover_guard.discover([leader, other], 'svc').address == ('127.0.0.1', 7001)  # type: ignore[list-item]


def test_a_taking_on_a_master_just_named_is_checked_against_the_sentinels_not_refused_on_an_older_view() -> None:
    # A concurrent worker's asyncio ring may hear of a failover before the blocking backend that guards its takings,
    # whose view may be up to MASTER_CHECK_SECONDS old: a "no" then would lose the request (at-most-once delivery).
    sentinel = _Sentinel(7001, epoch=4)
    backend = SentinelRedisClient(hosts=[('127.0.0.1', 1)], sentinel_services=['svc'])
    backend._sentinel.sentinels = [sentinel]  # type: ignore[list-item]  # a stand-in Sentinel
    backend.get_connection('pysoa:service.svc')  # the blocking backend now takes 7001 for the master

    def master_command(*args: object) -> object:
        return 'role:master\r\nconnected_slaves:0\r\n' if args[0] == 'INFO' else 0

    sentinel.port, sentinel.epoch = 7002, 5  # the failover: the Sentinels name 7002
    assert backend.confirm_taken_at('svc', ('127.0.0.1', 7002), master_command)
    # The other way round (the asyncio ring still on the replaced master) stays a "no".
    assert not backend.confirm_taken_at('svc', ('127.0.0.1', 7001), master_command)
    backend._sentinel.sentinels = []  # the stand-in has nothing to close
    backend.close()


def test_fewer_replicas_are_believed_only_when_the_caller_says_they_have_been_fewer_for_a_while(
    pair: tuple[RedisServerProcess, RedisServerProcess],
) -> None:
    # A replica that a failover promotes leaves the master and the Sentinels' count at once, before every Sentinel
    # says a failover is under way: a lower count must not confirm a taking at first sight (seen in CI: WAIT 0).
    master, replica = pair
    connection = redis.Redis(host=master.host, port=master.port)
    sentinels = cast('list[redis.Redis]', [_Sentinel(master.port, epoch=1)])  # no replica in sync, no failover
    address = (master.host, master.port)
    try:
        with redis.Redis(host=replica.host, port=replica.port) as promoted:
            promoted.execute_command('REPLICAOF', 'NO', 'ONE')  # what a failover does to the replica it promotes
        assert wait_until(lambda: connection.info('replication').get('connected_slaves') == 0, 15)
        connection.rpush('pysoa:service.guard', b'request')
        connection.lpop('pysoa:service.guard')
        command = failover_guard.command_on(connection)

        # Not believed: WAIT for the one replica is tried until CONFIRM_SECONDS, then the request runs (logged).
        verdict = failover_guard.confirm(command, 1, address, sentinels, 'guard')
        assert (verdict.confirmed, verdict.replicas, verdict.seen) == (True, 1, 0)
        # Believed once the caller has seen it for REPLICA_GONE_SECONDS: the count drops, and WAIT 0 confirms.
        verdict = failover_guard.confirm(command, 1, address, sentinels, 'guard', believe_fewer=True)
        assert (verdict.confirmed, verdict.replicas, verdict.seen) == (True, 0, 0)
    finally:
        connection.close()
