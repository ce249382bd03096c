"""The Redis servers of pysoa's asyncio side (the client and the concurrent worker): standard hosts, Sentinel masters
or a Redis Cluster (`async_cluster`), one pool set per event loop.

A ring places queues as the blocking backends do (`base.py`): a reply queue on the server its name hashes to (the
CRC-32 formula every peer uses), a request queue on the next server of a shuffled round robin. Its clients are
`redis.asyncio` ones built from the same `backend_layer_kwargs`, with the same connection defaults.

An asyncio connection belongs to the loop that opened it, so rings are kept per running loop (`ring_for`) and
shared there by transports with equal settings. When the loop shuts down (`asyncio.run` ends, a `Runner` closes),
its rings close their connections: the loop finalizes its async generators then, and each loop's rings are held by
one such generator whose `finally` closes them.
"""

import abc
import asyncio
import concurrent.futures
import itertools
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import redis
import redis.asyncio
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from pysoa.common.transport.redis_gateway.backend.async_commands import ScriptBatcher, ScriptRunner
from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError, consistent_hash_index
from pysoa.common.transport.redis_gateway.backend.hosts import Host, parse_hosts
from pysoa.common.transport.redis_gateway.backend.sentinel import MASTER_CHECK_SECONDS, SentinelRedisClient
from pysoa.common.transport.redis_gateway.backend.standard import DEFAULT_REDIS_PORT
from pysoa.common.transport.redis_gateway.constants import (
    REDIS_BACKEND_TYPE_CLUSTER,
    REDIS_BACKEND_TYPE_SENTINEL,
    REDIS_BACKEND_TYPE_STANDARD,
    RESPONSE_QUEUE_SPECIFIER,
)
from pysoa.utils import dict_to_hashable

__all__ = ('ASYNC_BACKEND_TYPES', 'AsyncRing', 'AsyncSentinelRing', 'AsyncStandardRing', 'ring_for')

_logger = logging.getLogger(__name__)

_Answer = TypeVar('_Answer')

_SERVICE_ATTRIBUTE = '_pysoa_sentinel_service'
"""Set on each Sentinel master client: its service, so a client dropped since can be mapped to today's master."""

ASYNC_BACKEND_TYPES = (REDIS_BACKEND_TYPE_STANDARD, REDIS_BACKEND_TYPE_SENTINEL, REDIS_BACKEND_TYPE_CLUSTER)
"""The `backend_type`s the asyncio transport serves; a transport of any other type calls in a thread."""


def async_connection_kwargs(connection_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """`connection_kwargs` for a `redis.asyncio` client, with the blocking backends' defaults (see
    `BaseRedisClient._with_default_connection_kwargs`, whose reasons hold here too)."""
    kwargs = dict(connection_kwargs or {})
    kwargs.setdefault('socket_connect_timeout', 5.0)
    kwargs.setdefault('socket_keepalive', True)
    kwargs.setdefault('socket_timeout', None)
    retry = kwargs.get('retry')
    if retry is None:
        kwargs['retry'] = AsyncRetry(ExponentialBackoff(cap=0.2, base=0.02), 1)
    elif isinstance(retry, Retry):
        # A blocking retry policy from the settings: the same back-off and count, for the asyncio client.
        kwargs['retry'] = AsyncRetry(retry._backoff, retry._retries)
    return kwargs


DEFAULT_MAX_CONNECTIONS = 50
"""Connections per server and loop unless `connection_kwargs` names `max_connections`: beyond it, a command waits
for a free connection (within its own time limit) instead of opening yet another."""


def _pool_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of a blocking pool (one that waits for a free connection; `timeout=None`: the command's own
    time limit bounds the wait)."""
    return {**kwargs, 'max_connections': kwargs.get('max_connections') or DEFAULT_MAX_CONNECTIONS, 'timeout': None}


class AsyncRing(abc.ABC):
    """The servers queues are placed on, with a `redis.asyncio` client for each; used on one event loop only."""

    def __init__(self, ring_size: int) -> None:
        if ring_size < 1:
            raise ValueError('A Redis backend needs at least one server')
        self._ring_size = ring_size
        self._request_queue_indexes = itertools.cycle(random.SystemRandom().sample(range(ring_size), k=ring_size))

    async def connection(self, queue_key: str) -> redis.asyncio.Redis:
        """The client for `queue_key`: hashed for a reply queue, the next in the rotation for a request queue."""
        if RESPONSE_QUEUE_SPECIFIER in queue_key:
            return await self._connection(consistent_hash_index(queue_key, self._ring_size))
        return await self._connection(next(self._request_queue_indexes))

    async def connection_within(self, queue_key: str, seconds: float) -> redis.asyncio.Redis:
        """`connection(queue_key)`, or `TimeoutError` when finding the server (asking Sentinels) takes longer."""
        if not self.asks_for_servers:
            return await self.connection(queue_key)
        async with asyncio.timeout(max(seconds, 0.001)):
            return await self.connection(queue_key)

    asks_for_servers: ClassVar[bool] = False
    """Whether finding a queue's server may take a network round trip (Sentinel), so is worth a time limit."""

    @abc.abstractmethod
    async def _connection(self, index: int) -> redis.asyncio.Redis:
        """The client of server number `index`."""

    def script_runner(self, client: redis.asyncio.Redis) -> ScriptRunner:
        """Runs scripts on `client` (one of this ring's), batched with the runs other tasks ask for meanwhile."""
        batchers: dict[int, tuple[redis.asyncio.Redis, ScriptBatcher]] = self.__dict__.setdefault('_batchers', {})
        entry = batchers.get(id(client))
        if entry is None or entry[0] is not client:
            entry = batchers[id(client)] = (client, ScriptBatcher(client))
        return entry[1].run

    def master_of(self, client: redis.asyncio.Redis) -> tuple[str, tuple[str, int]] | None:
        """The Sentinel service and the address of the master `client` talks to; None where servers never move."""
        return None

    marks_sends: ClassVar[bool] = False
    """Whether a client records each request it sends beside it, as on the blocking backend of the same type
    (`BaseRedisClient.marks_sends`): where a failover can lose a pushed request (`async_failover_resend`)."""

    async def current_connection(self, client: redis.asyncio.Redis) -> redis.asyncio.Redis:
        """The client that now serves the place of the ring `client` was handed out for (after a failover, the new
        master's); where servers never move, `client` itself."""
        return client

    def reset_clients(self) -> None:
        """Forget what may be stale after an error (a Sentinel master that moved); hosts never move."""
        return None

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection of this ring."""


class AsyncStandardRing(AsyncRing):
    """Redis servers addressed directly, as `StandardRedisClient` reads its `hosts` and `connection_kwargs`."""

    def __init__(self, hosts: Iterable[object] | None = None, connection_kwargs: dict[str, Any] | None = None) -> None:
        kwargs = async_connection_kwargs(connection_kwargs)
        entries = parse_hosts(hosts, DEFAULT_REDIS_PORT) or [('localhost', DEFAULT_REDIS_PORT)]
        self._clients = [self._make_client(entry, kwargs) for entry in entries]
        super().__init__(len(self._clients))

    @staticmethod
    def _make_client(entry: Host, kwargs: dict[str, Any]) -> redis.asyncio.Redis:
        pool_kwargs = _pool_kwargs(kwargs)
        pool: redis.asyncio.BlockingConnectionPool
        if isinstance(entry, str):
            if entry.startswith('unix://'):
                pool_kwargs.pop('socket_keepalive', None)
            pool = redis.asyncio.BlockingConnectionPool.from_url(entry, **pool_kwargs)
        else:
            host, port = entry
            pool = redis.asyncio.BlockingConnectionPool(host=host, port=port, **pool_kwargs)
        return redis.asyncio.Redis.from_pool(pool)

    async def _connection(self, index: int) -> redis.asyncio.Redis:
        return self._clients[index]

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


class AsyncSentinelRing(AsyncRing):
    """Masters found through Sentinel by the rules `SentinelRedisClient` follows (it does the asking, in a thread of
    this ring's own), each served by a client of its own address: a master the Sentinels no longer name (asked at
    most once per `MASTER_CHECK_SECONDS`, and after any error) is dropped before it is used again.

    A client per address, not redis-py's `master_for`, whose connections go wherever the Sentinels point when they
    connect: the failover guard and the settling of in-flight requests (`async_server`) must know which server a
    client talks to.
    """

    asks_for_servers = True
    marks_sends = True

    def __init__(
        self,
        hosts: Iterable[object] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
        sentinel_services: Iterable[str] | None = None,
        sentinel_failover_retries: int = 0,
        sentinel_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._failover_retries = sentinel_failover_retries
        self._master_kwargs = async_connection_kwargs(connection_kwargs)
        self._finder_kwargs: dict[str, Any] = {
            'hosts': parse_hosts(hosts, SentinelRedisClient.DEFAULT_PORT, urls=False, what='Sentinel'),
            'sentinel_kwargs': sentinel_kwargs,
        }
        self._finder: SentinelRedisClient | None = None
        # One thread asks the Sentinels (a blocking client, each question bounded): never the loop's default
        # executor, which the actions of a concurrent worker may keep busy.
        self._asking = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='pysoa-sentinel')
        self._services = list(sentinel_services or ())
        if self._services:
            SentinelRedisClient._validate_service_names(self._services)
        self._masters: dict[str, tuple[redis.asyncio.Redis, tuple[str, int], float]] = {}  # client, address, when
        self._dropped: list[redis.asyncio.Redis] = []
        self._lock = asyncio.Lock()
        self.master_check_seconds: float | None = None
        """This ring's own interval instead of `MASTER_CHECK_SECONDS` (tests stage a client with a stale view)."""
        super().__init__(max(len(self._services), 1))

    async def connection(self, queue_key: str) -> redis.asyncio.Redis:
        if not self._services:
            async with self._lock:
                if not self._services:
                    # No `sentinel_services`: every master the Sentinels watch, asked once.
                    services = (await self._ask(self._finder_for)).services
                    AsyncRing.__init__(self, len(services))
                    self._services = services
        return await super().connection(queue_key)

    def _finder_for(self) -> SentinelRedisClient:
        """The blocking backend that asks the Sentinels (made in the asking thread: without services, it asks)."""
        if self._finder is None:
            try:
                self._finder = SentinelRedisClient(sentinel_services=self._services or None, **self._finder_kwargs)
            except redis.ConnectionError as error:
                raise CannotGetConnectionError(str(error)) from error
        return self._finder

    async def _ask(self, question: Callable[[], _Answer]) -> _Answer:
        return await asyncio.get_running_loop().run_in_executor(self._asking, question)

    async def _connection(self, index: int) -> redis.asyncio.Redis:
        return await self._connection_for(self._services[index])

    async def _connection_for(self, service: str) -> redis.asyncio.Redis:
        for attempt in range(self._failover_retries + 1):
            try:
                return await self._master(service)
            except redis.sentinel.MasterNotFoundError as error:
                self.reset_clients()
                _logger.warning('No Redis master found for %s (failover under way?): %s', service, error)
                if attempt < self._failover_retries:
                    await asyncio.sleep(0.25 * (attempt + 1))
        raise CannotGetConnectionError('Master not found; gave up reloading master info after failover.')

    async def _master(self, service: str) -> redis.asyncio.Redis:
        known = self._masters.get(service)
        if known is not None and time.monotonic() - known[2] < self._check_seconds():
            return known[0]
        # One task at a time asks the Sentinels: concurrent first calls must share one client, not each make one.
        async with self._lock:
            return await self._checked_master(service)

    async def _checked_master(self, service: str) -> redis.asyncio.Redis:
        known = self._masters.get(service)
        if known is not None and time.monotonic() - known[2] < self._check_seconds():
            return known[0]
        address = await self._ask(lambda: self._finder_for().find_master(service))
        if known is not None:
            client, old_address, _ = known
            if address == old_address:
                self._masters[service] = (client, address, time.monotonic())
                return client
            _logger.warning(
                'Sentinel master for %s moved from %s:%s to %s:%s; dropping the old one',
                service,
                *old_address,
                *address,
            )
            del self._masters[service]
            await client.connection_pool.disconnect()  # connections to the old master must not be used again
            self._dropped.append(client)
        master = AsyncStandardRing._make_client(address, self._master_kwargs)
        setattr(master, _SERVICE_ATTRIBUTE, service)
        self._masters[service] = (master, address, time.monotonic())
        _logger.info('Sentinel master for %s is at %s:%s', service, *address)
        return master

    def _check_seconds(self) -> float:
        return MASTER_CHECK_SECONDS if self.master_check_seconds is None else self.master_check_seconds

    async def current_connection(self, client: redis.asyncio.Redis) -> redis.asyncio.Redis:
        """The client of the master that now serves the Sentinel service `client` was handed out for."""
        service = getattr(client, _SERVICE_ATTRIBUTE, None)
        return client if service is None else await self._connection_for(service)

    def master_of(self, client: redis.asyncio.Redis) -> tuple[str, tuple[str, int]] | None:
        for service, (known, address, _) in self._masters.items():
            if known is client:
                return service, address
        return None

    def reset_clients(self) -> None:
        # The clients are kept (a command may be under way on one): the next use asks the Sentinels first, and a
        # master they still name keeps its client.
        self._masters = {service: (client, address, -1e9) for service, (client, address, _) in self._masters.items()}

    async def close(self) -> None:
        clients, self._dropped = [*self._dropped, *(c for c, _, _ in self._masters.values())], []
        self._masters = {}
        for client in clients:
            await client.aclose()
        finder, self._finder = self._finder, None
        if finder is not None:
            finder.close()
        self._asking.shutdown(wait=False)


def _ring_class(backend_type: str) -> type[AsyncRing]:
    if backend_type == REDIS_BACKEND_TYPE_CLUSTER:
        from pysoa.common.transport.redis_gateway.backend.async_cluster import AsyncClusterRing  # imports this module

        return AsyncClusterRing
    return _RING_CLASSES[backend_type]


_RING_CLASSES: dict[str, type[AsyncRing]] = {
    REDIS_BACKEND_TYPE_STANDARD: AsyncStandardRing,
    REDIS_BACKEND_TYPE_SENTINEL: AsyncSentinelRing,
}


class _LoopRings:
    """The rings of one event loop, closed when the loop finalizes its async generators."""

    def __init__(self) -> None:
        self.rings: dict[Hashable, AsyncRing] = {}
        self.keeper: AsyncIterator[None] | None = None


_rings_by_loop: 'weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopRings]' = weakref.WeakKeyDictionary()


async def _keep(loop_rings: _LoopRings) -> AsyncIterator[None]:
    try:
        yield
        yield  # never reached: the loop closes this generator at shutdown
    finally:
        rings = list(loop_rings.rings.values())
        loop_rings.rings.clear()
        for ring in rings:
            try:
                await ring.close()
            except Exception:  # closing must not stop the loop's shutdown
                _logger.warning('Could not close a Redis connection of the asyncio client', exc_info=True)


async def ring_for(backend_type: str, backend_layer_kwargs: Mapping[str, Any]) -> AsyncRing:
    """The ring for these settings on the running loop, made on first use there."""
    loop = asyncio.get_running_loop()
    loop_rings = _rings_by_loop.get(loop)
    if loop_rings is None:
        loop_rings = _rings_by_loop[loop] = _LoopRings()
        keeper = _keep(loop_rings)
        await keeper.__anext__()  # started, so the loop knows it and closes it at shutdown
        loop_rings.keeper = keeper
    try:
        settings: dict[Hashable, object] = {name: value for name, value in backend_layer_kwargs.items()}
        key: Hashable = (backend_type, dict_to_hashable(settings))
        hash(key)
    except TypeError:  # settings holding unhashable objects just do not share a ring
        key = (backend_type, id(backend_layer_kwargs))
    ring = loop_rings.rings.get(key)
    if ring is None:
        ring = loop_rings.rings[key] = _ring_class(backend_type)(**backend_layer_kwargs)
    return ring
