"""Redis Cluster for asyncio callers: a `redis.asyncio.cluster.RedisCluster` per event loop, with the key layout and
the settings of the blocking cluster backend (`cluster.py`).

`connection(queue_key)` gives the cluster client, seen through `execute_command`: it routes each command (`EVALSHA`
by its keys, `BLPOP` by its key, `SCRIPT LOAD` to every master) to the master of the key's slot, and follows MOVED
and failovers on its own, re-reading the slot map. So the asyncio Redis commands written for one server
(`execute_command` with a time limit around it) run unchanged on it. Like every asyncio connection, it belongs to
the loop that opened it.
"""

import asyncio
import functools
from collections.abc import Iterable
from typing import Any, cast

import redis.asyncio
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.connection import SSLConnection
from redis.exceptions import RedisClusterException

from pysoa.common.transport.redis_gateway.backend.async_commands import ScriptRunner, run_script
from pysoa.common.transport.redis_gateway.backend.async_rings import AsyncRing
from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.cluster import ClusterRedisClient, check_queue_key, not_a_cluster

__all__ = ('AsyncClusterRing',)


class _ClusterCommands:
    """`execute_command` of the cluster client, taking subcommands as one server's client does (`'SCRIPT', 'LOAD'`).

    The cluster client routes a command by its name, and knows `SCRIPT LOAD` (to every master) only as one word.
    """

    def __init__(self, cluster: RedisCluster) -> None:
        self._cluster = cluster

    async def execute_command(self, *args: Any) -> object:
        if len(args) > 1 and isinstance(args[0], str) and args[0].upper() == 'SCRIPT':
            args = (f'SCRIPT {args[1]}', *args[2:])
        return await self._cluster.execute_command(*args)


class AsyncClusterRing(AsyncRing):
    """Redis Cluster for one event loop; the settings are those of `ClusterRedisClient`.

    One "server" for the ring: the cluster client, which routes each command to its slot's master itself.
    """

    asks_for_servers = True  # the first use reads the slot map

    def __init__(
        self,
        hosts: Iterable[object] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
    ) -> None:
        nodes, kwargs = ClusterRedisClient.read_settings(hosts, connection_kwargs)
        kwargs.pop('retry')  # the cluster client retries by itself (and the caller's time limit bounds it)
        if kwargs.pop('connection_class', None) is SSLConnection:
            kwargs['ssl'] = True  # how the asyncio cluster client is told to use TLS
        # No socket timeout of its own unless one is set: every command runs under its caller's time limit, and a
        # blocking pop must wait as long as it was asked to.
        kwargs['socket_timeout'] = (connection_kwargs or {}).get('socket_timeout')
        self._startup = [(node.host, node.port) for node in nodes]
        self._kwargs = {**ClusterRedisClient.cluster_options(cluster_kwargs), **kwargs}
        self._cluster: RedisCluster | None = None
        self._commands: _ClusterCommands | None = None
        self._lock = asyncio.Lock()
        super().__init__(1)

    async def connection(self, queue_key: str) -> redis.asyncio.Redis:
        """The cluster client, for commands on `queue_key` (which must carry a hash tag)."""
        check_queue_key(queue_key)
        if self._commands is None:
            # One task reads the slot map: tasks that ask at once must share one cluster client, not each make one.
            async with self._lock:
                if self._commands is None:
                    await self._connect()
        # Typed as a single server's client: only `execute_command` is used on it.
        return cast(redis.asyncio.Redis, self._commands)

    async def _connect(self) -> None:
        startup_nodes = [ClusterNode(host, port) for host, port in self._startup]
        try:
            cluster = RedisCluster(startup_nodes=startup_nodes, **self._kwargs)
        except TypeError as error:
            raise ValueError(f'Invalid connection_kwargs for the asyncio Redis Cluster client: {error}') from None
        try:
            await cluster.initialize()
        except (RedisClusterException, redis.RedisError, OSError) as error:
            await cluster.aclose()
            if isinstance(error, RedisClusterException):
                raise not_a_cluster(error, [f'{host}:{port}' for host, port in self._startup]) from error
            raise CannotGetConnectionError(f'Cannot reach the Redis Cluster: {error!r}') from error
        self._cluster, self._commands = cluster, _ClusterCommands(cluster)

    async def _connection(self, index: int) -> redis.asyncio.Redis:
        raise NotImplementedError('the cluster client is had by queue name (`connection`)')  # never called

    def script_runner(self, client: redis.asyncio.Redis) -> ScriptRunner:
        """Runs each script alone: the cluster client routes every command by its own keys (no shared pipeline)."""
        return functools.partial(run_script, client)

    def reset_clients(self) -> None:
        """Nothing to forget: the cluster client re-reads the slot map itself after MOVED or a lost node."""
        return None

    async def close(self) -> None:
        """Close every connection of the cluster client."""
        cluster, self._cluster, self._commands = self._cluster, None, None
        if cluster is not None:
            await cluster.aclose()
