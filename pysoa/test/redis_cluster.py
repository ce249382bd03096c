"""A private Redis Cluster of `redis-server` processes on free loopback ports, for tests and benchmarks.

The cluster is assembled from Python, as `redis-cli --cluster create` would (that tool need not be installed):
each master gets an equal range of the 16384 slots and its own config epoch, the nodes meet, and each replica
follows its master. Nodes use a short node timeout, so a killed master is replaced by its replica within a few
seconds. Every process is stopped by its own PID; nothing else is touched.
"""

import os
import random
import signal
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Self, cast

import redis
from redis.crc import key_slot

from pysoa.test.processes import StartStop
from pysoa.test.redis_server import LOOPBACK, RedisServerError, RedisServerProcess
from pysoa.test.waiting import wait_until

__all__ = ('CLUSTER_SLOTS', 'RedisClusterProcesses', 'free_cluster_port')

CLUSTER_SLOTS = 16384
"""How many hash slots a Redis Cluster has."""

_BUS_PORT_OFFSET = 10000
"""A node also listens on its port + 10000 (the cluster bus), so its port must be at most 55535."""

_PORT_RANGE = (10000, 22767)
"""Node ports are drawn from here: below the usual ephemeral range (32768+), and so are their bus ports."""


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """A loopback port that is free, and whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randint(*_PORT_RANGE)
        if _port_is_free(port) and _port_is_free(port + _BUS_PORT_OFFSET):
            return port
    raise RedisServerError('No free pair of loopback ports (node and cluster bus) found')


class RedisClusterProcesses(StartStop):
    """`masters` masters, each with `replicas` replicas; `start()` returns once the cluster serves every slot."""

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 1,
        *,
        node_timeout_ms: int = 1000,
        binary: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        if masters < 1 or replicas < 0:
            raise ValueError('A cluster needs at least one master and zero or more replicas per master')
        self.masters, self.replicas_per_master = masters, replicas
        cluster_args = (
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',  # in the node's own scratch directory
            '--cluster-node-timeout',
            str(node_timeout_ms),
            # A replica may take over however long it was cut off: the tests kill masters on purpose.
            '--cluster-replica-validity-factor',
            '0',
            # Replicas sync at once, not after the default five seconds' wait for more replicas to come.
            '--repl-diskless-sync-delay',
            '0',
            *extra_args,
        )
        self._cluster_args, self._binary = cluster_args, binary
        self._size = masters * (1 + replicas)
        self.nodes: list[RedisServerProcess] = []
        self._ids: dict[int, str] = {}  # port -> node id
        self._clients: dict[int, redis.Redis] = {}  # port -> a plain client of that node

    @property
    def startup_nodes(self) -> list[str]:
        """A `redis://host:port` URL of every node, as a backend's `hosts` setting takes them."""
        return [f'redis://{node.host}:{node.port}' for node in self.nodes]

    def start(self, timeout: float = 30.0) -> Self:
        """Start every node, assign the slots, join the nodes and their replicas; `RedisServerError` if it fails."""
        deadline = time.monotonic() + timeout
        try:
            while len(self.nodes) < self._size:
                self.nodes.append(self._start_node(deadline))
            self._assemble(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, deadline: float) -> RedisServerProcess:
        # A port found free may be taken before the node binds it: a few tries, each with new ports.
        error = RedisServerError('no attempt')
        for _ in range(5):
            node = RedisServerProcess(port=free_cluster_port(), extra_args=self._cluster_args, binary=self._binary)
            try:
                return node.start(timeout=max(deadline - time.monotonic(), 1.0))
            except RedisServerError as failure:
                error = failure
        raise error

    def _assemble(self, deadline: float) -> None:
        masters, replicas = self.nodes[: self.masters], self.nodes[self.masters :]
        for node in self.nodes:
            self._ids[node.port] = _text(_command(self.client(node), 'CLUSTER', 'MYID'))
        share = CLUSTER_SLOTS // self.masters
        for index, node in enumerate(masters):
            first = index * share
            last = CLUSTER_SLOTS - 1 if index == self.masters - 1 else first + share - 1
            client = self.client(node)
            _command(client, 'CLUSTER', 'ADDSLOTSRANGE', first, last)
            _command(client, 'CLUSTER', 'SET-CONFIG-EPOCH', index + 1)  # distinct epochs: no collision to settle
        first_node = self.client(self.nodes[0])
        for node in self.nodes[1:]:
            _command(first_node, 'CLUSTER', 'MEET', node.host, node.port)
        self._wait(
            deadline,
            'the nodes to meet',
            lambda: all(self._known_nodes(node) == len(self.nodes) for node in self.nodes),
        )
        for index, node in enumerate(replicas):
            master = masters[index % self.masters]
            _command(self.client(node), 'CLUSTER', 'REPLICATE', self._ids[master.port])
        self._wait(deadline, 'every replica to sync', lambda: all(self._replica_in_sync(node) for node in replicas))
        self._wait(deadline, 'the cluster state to be ok', lambda: all(self.is_ok(node) for node in self.nodes))

    def _wait(self, deadline: float, what: str, condition: Callable[[], bool]) -> None:
        if not wait_until(condition, max(deadline - time.monotonic(), 0.0), interval=0.05):
            raise RedisServerError(f'Redis Cluster did not come up: timed out waiting for {what}')

    def client(self, node: RedisServerProcess) -> redis.Redis:
        """A plain client of one node (not cluster-aware), with short timeouts; kept until the node stops."""
        client = self._clients.get(node.port)
        if client is None:
            client = redis.Redis(host=node.host, port=node.port, socket_timeout=2.0, socket_connect_timeout=2.0)
            self._clients[node.port] = client
        return client

    def _forget_client(self, node: RedisServerProcess) -> None:
        client = self._clients.pop(node.port, None)
        if client is not None:
            client.close()

    def _known_nodes(self, node: RedisServerProcess) -> int:
        return len(_text(_command(self.client(node), 'CLUSTER', 'NODES')).strip().splitlines())

    def _replica_in_sync(self, node: RedisServerProcess) -> bool:
        info = self.client(node).info('replication')
        return info.get('role') == 'slave' and info.get('master_link_status') == 'up'

    def is_ok(self, node: RedisServerProcess) -> bool:
        """Whether `node` says the cluster serves every slot."""
        try:
            info = _text(_command(self.client(node), 'CLUSTER', 'INFO'))
        except redis.RedisError:
            return False
        return 'cluster_state:ok' in info

    def live_nodes(self) -> list[RedisServerProcess]:
        """The nodes whose process runs."""
        return [node for node in self.nodes if node.pid is not None]

    def role(self, node: RedisServerProcess) -> str:
        """'master' or 'slave', as the node itself says."""
        return _text(self.client(node).info('replication').get('role'))

    def master_of_slot(self, slot: int) -> RedisServerProcess:
        """The live node that is master of `slot` now (asked of a live node)."""
        for node in self.live_nodes():
            try:
                ranges = cast(list[list[Any]], _command(self.client(node), 'CLUSTER', 'SLOTS'))
            except redis.RedisError:
                continue
            for entry in ranges:
                if int(entry[0]) <= slot <= int(entry[1]):
                    port = int(entry[2][1])
                    return next(candidate for candidate in self.nodes if candidate.port == port)
        raise RedisServerError(f'No live node knows the master of slot {slot}')

    def master_for_key(self, key: str) -> RedisServerProcess:
        """The master holding `key` now."""
        return self.master_of_slot(key_slot(key.encode('utf-8')))

    def replicas_of(self, master: RedisServerProcess) -> list[RedisServerProcess]:
        """The live replicas following `master`."""
        master_id = self._ids[master.port]
        found = []
        for node in self.live_nodes():
            line = next(
                (
                    entry
                    for entry in _text(_command(self.client(node), 'CLUSTER', 'NODES')).splitlines()
                    if 'myself' in entry
                ),
                '',
            )
            fields = line.split()
            if len(fields) > 3 and fields[3] == master_id:
                found.append(node)
        return found

    def failover(self, replica: RedisServerProcess, timeout: float = 15.0) -> None:
        """`CLUSTER FAILOVER` on `replica` (a coordinated switch with its master), returning once it is master."""
        _command(self.client(replica), 'CLUSTER', 'FAILOVER')
        if not wait_until(lambda: self.role(replica) == 'master', timeout, interval=0.05):
            raise RedisServerError(f'{replica!r} did not become master in {timeout} s')

    def kill(self, node: RedisServerProcess) -> None:
        """SIGKILL `node` by its PID, as a crash would; its scratch directory is removed."""
        pid = node.pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        self._forget_client(node)
        node.stop()

    def wait_for_new_master(self, slot: int, old: RedisServerProcess, timeout: float = 20.0) -> RedisServerProcess:
        """Wait until a node other than `old` is master of `slot` and the cluster is ok; return the new master."""

        def replaced() -> bool:
            try:
                return self.master_of_slot(slot) is not old and all(self.is_ok(node) for node in self.live_nodes())
            except RedisServerError:
                return False

        if not wait_until(replaced, timeout, interval=0.05):
            raise RedisServerError(f'No new master for slot {slot} within {timeout} s')
        return self.master_of_slot(slot)

    def wait_until_ok(self, timeout: float = 15.0) -> bool:
        """Wait until every live node says the cluster serves every slot."""
        return wait_until(lambda: all(self.is_ok(node) for node in self.live_nodes()), timeout, interval=0.05)

    def flush(self) -> None:
        """Empty every live master (these are our own servers)."""
        for node in self.live_nodes():
            if self.role(node) == 'master':
                self.client(node).flushall()

    def stop(self) -> None:
        """Stop every node by its PID."""
        for node in self.nodes:
            self._forget_client(node)
            node.stop()

    def __repr__(self) -> str:
        ports = ','.join(str(node.port) for node in self.nodes)
        return f'<RedisClusterProcesses masters={self.masters} ports={ports}>'


def _text(value: object) -> str:
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def _command(client: redis.Redis, *args: str | int) -> object:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]  # unannotated in redis-py
