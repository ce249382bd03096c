"""The Sentinel backend against real Sentinels: discovery, and a forced failover while traffic flows.

The fixture runs one master, one replica and three `redis-server --sentinel` processes, all private; it is
shared by the module, so the failover tests come last (each waits until the replica has caught up).
During the failover only transient transport errors may surface, and traffic resumes without restarts.
"""

import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import redis

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import MessageReceiveTimeout, TransientPySOATransportError
from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.test.redis_server import RedisServerError, RedisServerProcess, find_redis_server_binary
from pysoa.test.waiting import wait_until
from tests.ci import unavailable

MASTER_NAME = 'pysoa-test-master'
JOB = {'control': {'continue_on_error': False}, 'context': {'correlation_id': 'c', 'switches': []}, 'actions': []}


class SentinelCluster:
    """A master, a replica and three Sentinels on private ports."""

    def __init__(self) -> None:
        self.master = RedisServerProcess()
        self.replica: RedisServerProcess | None = None
        self.sentinels: list[RedisServerProcess] = []

    def start(self) -> None:
        self.master.start()
        self.replica = RedisServerProcess(extra_args=('--replicaof', self.master.host, str(self.master.port)))
        self.replica.start()
        replica = redis.Redis(host=self.replica.host, port=self.replica.port)
        try:
            if not wait_until(lambda: replica.info('replication').get('master_link_status') == 'up', 15):
                raise AssertionError('timed out after 15 s waiting for replication')
        finally:
            replica.close()
        for _ in range(3):
            sentinel = RedisServerProcess(extra_args=('--sentinel',))
            sentinel.start()
            self.sentinels.append(sentinel)
            with self.connect(sentinel) as connection:
                command: Any = connection.execute_command
                command('SENTINEL', 'MONITOR', MASTER_NAME, self.master.host, self.master.port, 2)
                command('SENTINEL', 'SET', MASTER_NAME, 'down-after-milliseconds', '2000')
                command('SENTINEL', 'SET', MASTER_NAME, 'failover-timeout', '10000')
        for sentinel in self.sentinels:
            with self.connect(sentinel) as sentinel_connection:
                if not wait_until(lambda: self._knows_replica(sentinel_connection), 20):
                    raise AssertionError('timed out after 20 s waiting for the Sentinels to discover the replica')

    @staticmethod
    def connect(server: RedisServerProcess) -> 'redis.Redis':
        return redis.Redis(host=server.host, port=server.port, socket_timeout=5)

    @staticmethod
    def _knows_replica(connection: 'redis.Redis') -> bool:
        command: Any = connection.execute_command
        replicas = command('SENTINEL', 'REPLICAS', MASTER_NAME)
        return any('s_down' not in replica.get('flags', '') for replica in replicas)

    def master_port(self) -> int:
        with self.connect(self.sentinels[0]) as connection:
            _, port = connection.execute_command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)
        return int(port)

    def failover(self) -> None:
        with self.connect(self.sentinels[0]) as connection:
            connection.execute_command('SENTINEL', 'FAILOVER', MASTER_NAME)

    def switch_master(self, old_port: int, refused_for: float = 30, interval: float = 0.05) -> None:
        """Fail over, asking again while the Sentinels refuse (NOGOODSLAVE: the replica is still catching up after
        an earlier failover), and return once they name a master other than `old_port`."""

        def failover() -> bool:
            try:
                self.failover()
            except redis.ResponseError:
                return False
            return True

        assert wait_until(failover, refused_for, interval=max(interval, 0.05)), 'the Sentinels refused to fail over'
        assert wait_until(lambda: self.master_port() != old_port, 30, interval=interval), 'no failover'

    @property
    def hosts(self) -> list[tuple[str, int]]:
        return [(sentinel.host, sentinel.port) for sentinel in self.sentinels]

    def stop(self) -> None:
        for server in [*self.sentinels, self.replica, self.master]:
            if server is not None:
                if server.pid is not None:
                    os.kill(server.pid, signal.SIGCONT)  # a test may have frozen it, and a frozen server cannot stop
                server.stop()

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator['SentinelCluster']:
        """A started set, stopped after; `unavailable` (a failure in CI) when it cannot start."""
        if find_redis_server_binary() is None:
            unavailable('no redis-server')
        cluster = cls()
        try:
            cluster.start()
        except RedisServerError as error:
            cluster.stop()
            unavailable(f'cannot run Sentinel: {error}')
        except BaseException:
            cluster.stop()
            raise
        try:
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope='module')
def cluster() -> Iterator[SentinelCluster]:
    with SentinelCluster.running() as cluster:
        yield cluster


def settings(cluster: SentinelCluster, **backend: Any) -> dict[str, Any]:
    return {
        'backend_type': 'redis.sentinel',
        'backend_layer_kwargs': {'hosts': cluster.hosts, 'sentinel_failover_retries': 8, **backend},
        'receive_timeout_in_seconds': 1,
    }


def test_services_are_discovered_and_used(cluster: SentinelCluster) -> None:
    backend = SentinelRedisClient(hosts=cluster.hosts)
    assert backend._services == [MASTER_NAME]
    pool: Any = backend.get_connection('pysoa:service.x').connection_pool
    assert pool.connection_kwargs['port'] == cluster.master.port

    client = RedisClientTransport('sentinel', noop_metrics, **settings(cluster))
    server = RedisServerTransport('sentinel', noop_metrics, **settings(cluster, sentinel_services=[MASTER_NAME]))
    client.send_request_message(1, {}, JOB)
    request_id, meta, _ = server.receive_request_message()
    assert request_id == 1 and meta is not None
    server.send_response_message(request_id, meta, {'errors': [], 'context': {}, 'actions': []})
    assert client.receive_response_message(5).request_id == 1


def test_unknown_service_gives_up_after_the_retries(cluster: SentinelCluster) -> None:
    backend = SentinelRedisClient(
        hosts=cluster.hosts, sentinel_services=['no-such-master'], sentinel_failover_retries=1
    )
    start = time.monotonic()
    with pytest.raises(CannotGetConnectionError):
        backend.get_connection('pysoa:service.x')
    assert time.monotonic() - start < 5


@dataclasses.dataclass
class Traffic:
    """Requests flowing through the cluster from one client thread to one server thread, and what they met."""

    cluster: SentinelCluster
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    served: list[int] = dataclasses.field(default_factory=list)
    answered: list[tuple[float, int]] = dataclasses.field(default_factory=list)
    transient: list[str] = dataclasses.field(default_factory=list)
    fatal: list[BaseException] = dataclasses.field(default_factory=list)

    def serve(self) -> None:
        server = RedisServerTransport('failover', noop_metrics, **settings(self.cluster))
        while not self.stop.is_set():
            try:
                request_id, meta, _ = server.receive_request_message()
                assert request_id is not None and meta is not None
                server.send_response_message(request_id, meta, {'errors': [], 'context': {}, 'actions': []})
                self.served.append(request_id)
            except MessageReceiveTimeout:
                continue
            except TransientPySOATransportError as error:
                self.transient.append(f'server: {error!r}')
                self.stop.wait(0.1)  # the server loop backs off on transient errors, as the real one does
            except BaseException as error:
                self.fatal.append(error)
                return

    def call(self) -> None:
        client = RedisClientTransport('failover', noop_metrics, **settings(self.cluster))
        request_id = 0
        while not self.stop.is_set():
            request_id += 1
            try:
                client.send_request_message(request_id, {}, JOB, message_expiry_in_seconds=5)
                response = client.receive_response_message(2)
                if response.request_id == request_id:
                    self.answered.append((time.monotonic(), request_id))
            except TransientPySOATransportError as error:  # includes timeouts: a request lost in the failover
                self.transient.append(f'client: {error!r}')
                # A fresh transport (and reply queue) so late answers to lost requests cannot confuse it.
                client = RedisClientTransport('failover', noop_metrics, **settings(self.cluster))
            except BaseException as error:
                self.fatal.append(error)
                return


def test_failover_under_traffic(cluster: SentinelCluster) -> None:
    traffic = Traffic(cluster)
    answered, fatal, stop = traffic.answered, traffic.fatal, traffic.stop

    threads = [threading.Thread(target=traffic.serve, daemon=True), threading.Thread(target=traffic.call, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        assert wait_until(lambda: len(answered) >= 20 or bool(fatal), 20), 'no traffic before the failover'
        old_port = cluster.master_port()
        assert cluster.replica is not None
        cluster.failover()
        assert wait_until(lambda: cluster.master_port() != old_port or bool(fatal), 30), 'no failover'
        assert cluster.master_port() == cluster.replica.port
        switched_at = time.monotonic()
        assert wait_until(lambda: sum(1 for at, _ in answered if at > switched_at) >= 20 or bool(fatal), 30), (
            'no traffic after the failover'
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert not fatal, fatal
    new_master = redis.Redis(host=cluster.replica.host, port=cluster.replica.port)
    try:
        assert new_master.info('replication')['role'] == 'master'
    finally:
        new_master.close()


def test_a_switched_master_is_dropped_by_the_periodic_check_without_an_error(cluster: SentinelCluster) -> None:
    # Issue 10: after the Sentinels switch, nothing may keep using the old master until it errors or is demoted.
    # (How soon is the check's interval, MASTER_CHECK_SECONDS; timing is for benchmarks, not asserted here.)
    backend = SentinelRedisClient(hosts=cluster.hosts)
    old_client = backend.get_connection('pysoa:service.x')
    old_port = cluster.master_port()

    cluster.switch_master(old_port)
    # No error tells the backend: only its check with the Sentinels does (the old master still answers).
    assert wait_until(lambda: backend.get_connection('pysoa:service.x') is not old_client, timeout=10)
    assert backend.get_connection('pysoa:service.x').connection_pool.connection_kwargs['port'] == cluster.master_port()
    backend.close()


def _replica_caught_up(port: int) -> bool:
    with redis.Redis(host='127.0.0.1', port=port, socket_timeout=10) as master:
        info = master.info('replication')
        replica = info.get('slave0') or {}
        return bool(replica.get('state') == 'online' and replica.get('offset') == info['master_repl_offset'])


@dataclasses.dataclass
class QueuedWork:
    """One worker thread serving a queue of requests one by one, slowly enough for a failover to land mid-queue."""

    cluster: SentinelCluster
    delivery: str
    service: str = 'queued'
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    served: list[int] = dataclasses.field(default_factory=list)
    fatal: list[BaseException] = dataclasses.field(default_factory=list)

    def serve(self) -> None:
        server = RedisServerTransport(self.service, noop_metrics, **settings(self.cluster), delivery=self.delivery)
        for _ in range(10_000):  # bounded; each turn is a receive of 1 s at most, or a back-off
            if self.stop.is_set():
                return
            try:
                request_id, meta, _ = server.receive_request_message()
                assert request_id is not None and meta is not None
                self.stop.wait(0.05)  # the work: a failover started mid-queue finds requests still queued
                server.send_response_message(request_id, meta, {'errors': [], 'context': {}, 'actions': []})
                self.served.append(request_id)
            except MessageReceiveTimeout:
                continue
            except TransientPySOATransportError:
                self.stop.wait(0.1)  # the server loop backs off on transient errors, as the real one does
            except BaseException as error:
                self.fatal.append(error)
                return


@pytest.mark.timeout(120)
@pytest.mark.parametrize('delivery', ['at-most-once', 'at-least-once'])
def test_failover_with_requests_queued_answers_none_twice(
    cluster: SentinelCluster, delivery: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 10, item 9: requests wait in the queue when the master changes; none may be answered twice.
    caplog.set_level('WARNING', logger='pysoa.common.transport.redis_gateway.client')
    client = RedisClientTransport('queued', noop_metrics, **settings(cluster))
    sent = list(range(1, 41))
    for request_id in sent:
        client.send_request_message(request_id, {}, JOB, message_expiry_in_seconds=60)
    master_port = cluster.master_port()
    # The replica has every queued request before the switch (it may still be resyncing after the last one).
    assert wait_until(lambda: _replica_caught_up(master_port), 30)

    work = QueuedWork(cluster, delivery)
    worker = threading.Thread(target=work.serve, daemon=True)
    worker.start()
    answered: list[int] = []
    try:
        assert wait_until(lambda: len(work.served) >= 5 or bool(work.fatal), 20), 'nothing served before the failover'

        cluster.switch_master(master_port)
        deadline = time.monotonic() + 40
        for _ in range(200):  # each turn returns a response, a timeout (2 s) or a transient error
            if client.requests_outstanding < 1 or time.monotonic() >= deadline:
                break
            try:
                response = client.receive_response_message(2)
            except TransientPySOATransportError:
                continue
            if response.request_id is not None:
                answered.append(response.request_id)
    finally:
        work.stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive() and not work.fatal, work.fatal
    dropped = [record.getMessage() for record in caplog.records if 'Dropped a response' in record.getMessage()]
    served_twice = sorted({request_id for request_id in work.served if work.served.count(request_id) > 1})
    print(
        f'{delivery}: {len(sent)} queued, {len(set(answered))} answered, {len(sent) - len(set(answered))} not, '
        f'{len(served_twice)} served twice, {len(dropped)} second responses dropped by the client'
    )
    assert len(answered) == len(set(answered))  # the caller never saw a request answered twice
    assert set(answered) <= set(sent)
    # No request ran twice, so none was answered twice. The client may still read an answer a second time: when
    # it took the answer from the old master just before the switch and that pop had not reached the replica, the
    # promoted replica still holds the same answer. The client drops it (logged and counted, never handed to a
    # caller), which is what `dropped` shows.
    assert served_twice == [], (served_twice, dropped)


@pytest.mark.timeout(120)
@pytest.mark.parametrize('delivery', ['at-most-once', 'at-least-once'])
def test_a_request_pushed_to_the_old_master_after_the_switch_is_sent_again_and_answered_once(
    cluster: SentinelCluster, delivery: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 10: a caller that pushes to the old master after the Sentinels promoted the replica (before its next
    # look at them) must not lose the request: the old master drops it when it is demoted.
    caplog.set_level('INFO', logger='pysoa.common.transport.redis_gateway.failover_resend')
    service = f'resend-{delivery}'
    # A backend of the client's own (the worker's, with other settings, keeps looking at the Sentinels).
    client = RedisClientTransport(service, noop_metrics, **settings(cluster, sentinel_failover_retries=7))
    backend = client.core.backend_layer
    assert isinstance(backend, SentinelRedisClient)
    work = QueuedWork(cluster, delivery, service=service)
    worker = threading.Thread(target=work.serve, daemon=True)
    worker.start()
    answered: list[int] = []

    def receive_until_answered(request_id: int) -> None:
        deadline = time.monotonic() + 40
        for _ in range(100):  # each turn returns a response, a timeout (2 s) or a transient error
            if request_id in answered or time.monotonic() >= deadline:
                return
            with contextlib.suppress(TransientPySOATransportError):
                response = client.receive_response_message(2)
                if response.request_id is not None:
                    answered.append(response.request_id)

    try:
        client.send_request_message(1, {}, JOB, message_expiry_in_seconds=60)  # the client now knows the master
        receive_until_answered(1)
        assert answered == [1], work.fatal
        old_port = cluster.master_port()
        assert wait_until(lambda: _replica_caught_up(old_port), 30)
        # From here on, the client does not ask the Sentinels by itself: it still takes the old master for the
        # master, as it does between two of its checks, until an error (the demotion) makes it ask.
        backend.master_check_seconds = 3600.0

        cluster.switch_master(old_port, interval=0.01)
        # The replica is promoted; the old master is still a master (Sentinel demotes it later) and takes the push.
        client.send_request_message(2, {}, JOB, message_expiry_in_seconds=60)
        receive_until_answered(2)
    finally:
        work.stop.set()
        worker.join(timeout=10)
    assert_request_2_resent_once(work, worker, answered, caplog)


def assert_request_2_resent_once(
    work: QueuedWork, worker: threading.Thread, answered: Sequence[int | None], caplog: pytest.LogCaptureFixture
) -> None:
    """Requests 1 and 2 were each answered once and run once, and request 2 was sent again once."""
    assert not worker.is_alive() and not work.fatal, work.fatal
    resent = [record.getMessage() for record in caplog.records if 'Sent request 2 ' in record.getMessage()]
    assert list(answered) == [1, 2], (answered, work.served)
    assert sorted(work.served) == [1, 2]  # each ran once
    assert len(resent) == 1, resent
