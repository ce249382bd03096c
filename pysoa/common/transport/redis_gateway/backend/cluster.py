"""The Redis Cluster backend: one cluster, its slot map kept by redis-py's `RedisCluster`, commands sent to masters.

Every key of one service lives in one hash slot. Its queue names carry the hash tag `{service.<name>}`
(`utils.make_redis_queue_name`), and every other key of the service (reply queues, in-flight lists, heartbeats,
delivery counts, dead letters) starts with the queue's name, so Redis hashes them all alike: each Lua script,
BLPOP and BLMOVE touches one slot, on one master. Services spread over the masters by their names' slots.

A queue's connection is the plain `redis.Redis` client of the master that holds its slot, so commands take the
same fast path (`direct`), with the same time limits, as on a standalone Redis. When a master fails over, the old
one answers MOVED (or unblocks its waiting clients with an error), or stops answering: the slot map is then read
again (`reset_clients`, called by the transport on any Redis failure, or here on MOVED), and a push or a pop that
was refused without running is sent once more to the new master.
"""

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import SSLConnection, parse_url
from redis.exceptions import AskError, ClusterDownError, RedisClusterException, TryAgainError

from pysoa.common.transport.errors import InvalidMessageError
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient, CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.hosts import REDIS_URL_SYNTAX, parse_hosts

__all__ = (
    'ClusterRedisClient',
    'NotAClusterError',
    'UntaggedQueueError',
    'check_queue_key',
    'has_hash_tag',
    'not_a_cluster',
)

_logger = logging.getLogger(__name__)

_REDIRECTED = (AskError, TryAgainError, ClusterDownError)
"""Errors of a command that the node refused without running it (MOVED is an AskError): safe to send again."""


class NotAClusterError(ValueError):
    """`backend_type` 'redis.cluster' was pointed at a Redis that runs without cluster mode."""


class UntaggedQueueError(InvalidMessageError):
    """A queue name without a hash tag: a peer not configured for Redis Cluster (a 1.x or standard one) named it."""


def has_hash_tag(key: str) -> bool:
    """Whether Redis Cluster hashes `key` by a tag (`{...}`, not empty) rather than by the whole key."""
    _, opened, rest = key.partition('{')
    tag, closed, _ = rest.partition('}')
    return bool(opened and closed and tag)


def check_queue_key(queue_key: str) -> None:
    """Raise `UntaggedQueueError` for a queue name without a hash tag (see the module)."""
    if not has_hash_tag(queue_key):
        raise UntaggedQueueError(
            f'Queue {queue_key!r} has no hash tag: it was named by a peer not configured with backend_type '
            "'redis.cluster' (a PySOA 1.x or 'redis.standard' client or service). A Redis Cluster service and its "
            'clients must all use the cluster backend (docs/cluster.rst).'
        )


def not_a_cluster(error: Exception, startup_nodes: Sequence[str]) -> Exception:
    """The error to raise for `error`, raised by redis-py while reading the slot map from `startup_nodes`."""
    if 'Cluster mode is not enabled' in str(error):
        return NotAClusterError(
            f"backend_type 'redis.cluster' needs Redis Cluster nodes, but the Redis at {', '.join(startup_nodes)} "
            "runs without cluster mode: use backend_type 'redis.standard' for it, or enable `cluster-enabled` there"
        )
    return CannotGetConnectionError(f'Cannot read the Redis Cluster slot map: {error}')


class ClusterRedisClient(BaseRedisClient):
    """One Redis Cluster; `hosts` are startup nodes (host names, `(host, port)`, redis:// or rediss:// URLs).

    `connection_kwargs` go to the client of every node (password, `username`, TLS options, ...); a URL's
    credentials and scheme apply to the whole cluster, so all URLs must agree on them. `cluster_kwargs` go to
    redis-py's `RedisCluster` (e.g. `require_full_coverage`, `address_remap`).
    """

    DEFAULT_PORT = 6379
    ACCEPTS_URLS = True
    QUEUE_HASH_TAG = True

    def __init__(
        self,
        hosts: Iterable[object] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._startup_nodes, self._node_kwargs = self.read_settings(hosts, connection_kwargs)
        self._retry = self._node_kwargs.pop('retry')
        self._cluster_kwargs = self.cluster_options(cluster_kwargs)
        self._cluster: RedisCluster | None = None
        self._stale = False
        self._lock = threading.Lock()
        super().__init__(ring_size=1)  # no ring: a key's slot names its master

    @classmethod
    def check_settings(
        cls,
        hosts: Iterable[object] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
        **_other: object,
    ) -> None:
        """Raise ValueError for a bad startup node or connection keyword, without connecting."""
        _, kwargs = cls.read_settings(hosts, connection_kwargs)
        if cluster_kwargs is not None and not isinstance(cluster_kwargs, dict):
            raise ValueError(f'cluster_kwargs must be a dict, got {type(cluster_kwargs).__name__}')
        kwargs.pop('retry')
        try:
            redis.Redis(**kwargs).close()  # refuses an unknown keyword; connecting happens on first use
        except TypeError as error:
            raise ValueError(f'Invalid connection_kwargs for Redis Cluster: {error}') from None

    @classmethod
    def read_settings(
        cls, hosts: Iterable[object] | None, connection_kwargs: dict[str, Any] | None
    ) -> tuple[list[ClusterNode], dict[str, Any]]:
        """The startup nodes, and the keyword arguments of every node's client (with `retry`), from the settings."""
        kwargs = dict(connection_kwargs or {})
        if kwargs.get('db', 0) != 0:
            raise ValueError('Redis Cluster has only database 0: remove `db` from connection_kwargs (or `redis_db`)')
        kwargs.pop('db', None)
        # A node that stops answering must not hang a topology refresh (which redis-py runs without time limits);
        # pops and pushes get their own limits from the transport (`direct.time_limit`).
        kwargs.setdefault('socket_timeout', 5.0)
        kwargs = cls._with_default_connection_kwargs(kwargs)
        nodes: list[ClusterNode] = []
        url_options: dict[str, Any] | None = None
        for entry in parse_hosts(hosts, cls.DEFAULT_PORT, what='Redis Cluster') or [('localhost', cls.DEFAULT_PORT)]:
            if isinstance(entry, tuple):
                nodes.append(_node(*entry))
                continue
            options = cls._url_options(entry)
            nodes.append(_node(options.pop('host'), options.pop('port', cls.DEFAULT_PORT)))
            if url_options is not None and options != url_options:
                raise ValueError(
                    'All Redis Cluster `hosts` URLs must have the same scheme, credentials and options '
                    f'(they are one cluster): {entry!r} differs from the first'
                )
            url_options = options
        return nodes, {**kwargs, **(url_options or {})}

    @staticmethod
    def cluster_options(cluster_kwargs: dict[str, Any] | None) -> dict[str, Any]:
        """The arguments of redis-py's `RedisCluster` (blocking or asyncio): `cluster_kwargs` over our defaults."""
        # Services on masters that still serve their slots keep working while another master is down for good.
        return {'require_full_coverage': False, **(cluster_kwargs or {})}

    @staticmethod
    def _url_options(url: str) -> dict[str, Any]:
        if not REDIS_URL_SYNTAX.match(url) or url.startswith('unix://'):
            raise ValueError(f'Redis Cluster nodes are reached over TCP: use redis:// or rediss://, not {url!r}')
        options: dict[str, Any] = dict(parse_url(url))  # type: ignore[no-untyped-call]  # unannotated in redis-py
        if options.pop('db', 0) != 0:
            raise ValueError(f'Redis Cluster has only database 0: {url!r} names another')
        if url.startswith('rediss://'):
            options['connection_class'] = SSLConnection
        return options

    # ---- the slot map

    def _topology(self) -> RedisCluster:
        """The cluster client (its slot map read on first use, and again after a failure)."""
        with self._lock:
            try:
                if self._cluster is None:
                    self._cluster = RedisCluster(
                        startup_nodes=list(self._startup_nodes),
                        retry=self._retry,
                        **{**self._cluster_kwargs, **self._node_kwargs},
                    )
                elif self._stale:
                    self._cluster.nodes_manager.initialize()
            except RedisClusterException as error:
                raise not_a_cluster(error, [node.name for node in self._startup_nodes]) from error
            except (redis.ConnectionError, redis.TimeoutError) as error:
                raise CannotGetConnectionError(f'Cannot reach the Redis Cluster: {error!r}') from error
            self._stale = False
            return self._cluster

    def get_connection(self, queue_key: str) -> redis.Redis:
        """The client of the master holding `queue_key`'s slot; the key must carry a hash tag (see the module)."""
        check_queue_key(queue_key)
        cluster = self._topology()
        try:
            node = cluster.get_node_from_key(queue_key)  # type: ignore[no-untyped-call]  # unannotated in redis-py
            client: redis.Redis = cluster.get_redis_connection(node)
        except (RedisClusterException, redis.RedisError) as error:
            self._stale = True
            raise CannotGetConnectionError(f'No Redis Cluster master for {queue_key!r}: {error}') from error
        return client

    def connections_for(self, queue_key: str) -> list[redis.Redis]:
        """Only the master of the queue's slot holds the queue's keys."""
        return [self.get_connection(queue_key)]

    def all_connections(self) -> list[redis.Redis]:
        """The client of every master, each holding its own slots."""
        cluster = self._topology()
        primaries = cluster.get_primaries()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        return [cluster.get_redis_connection(node) for node in primaries]

    def _get_connection(self, index: int) -> redis.Redis:
        return self.all_connections()[index]

    def reset_clients(self) -> None:
        """Read the slot map again before the next command (a master may have moved)."""
        self._stale = True

    # ---- commands that follow a moved slot

    def push(
        self,
        connection: redis.Redis,
        queue_key: str,
        elements: bytes | Sequence[bytes],
        *,
        expiry: int,
        capacity: int,
    ) -> bool:
        """As `BaseRedisClient.push`; refused by a node that no longer holds the slot, sent once to the new one."""
        try:
            return super().push(connection, queue_key, elements, expiry=expiry, capacity=capacity)
        except _REDIRECTED as error:
            connection = self._moved(queue_key, error)
        return super().push(connection, queue_key, elements, expiry=expiry, capacity=capacity)

    def pop(self, connection: redis.Redis, queue_key: str, timeout: float) -> object:
        """As `BaseRedisClient.pop`; a pop cut short by a failover waits on the new master for the time left."""
        started = time.monotonic()
        try:
            return super().pop(connection, queue_key, timeout)
        except _REDIRECTED as error:
            connection = self._moved(queue_key, error)
        except redis.ResponseError as error:
            # A master that turns replica unblocks its waiting clients with this error (and a kept connection would
            # then wait on a replica that never gets the push).
            if not str(error).startswith('UNBLOCKED'):
                raise
            connection = self._moved(queue_key, error)
        remaining = timeout - (time.monotonic() - started)
        if remaining < 0.01:
            return None
        return super().pop(connection, queue_key, remaining)

    def _moved(self, queue_key: str, error: Exception) -> redis.Redis:
        _logger.info(
            'Redis Cluster slot of %s moved or is failing over (%s): reading the slot map again', queue_key, error
        )
        self._stale = True
        return self.get_connection(queue_key)

    def close(self) -> None:
        """Close the clients of every node."""
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()

    def __repr__(self) -> str:
        nodes = ','.join(node.name for node in self._startup_nodes)
        return f'<{type(self).__name__} startup_nodes={nodes}>'


def _node(host: str, port: int) -> ClusterNode:
    return ClusterNode(host, port)  # type: ignore[no-untyped-call]  # unannotated in redis-py
