"""The Sentinel backend: the ring is the set of masters (services) that a group of Sentinels watches.

Each master's connection pool asks the Sentinels where the master is, so after a failover the next
connection goes to the new master; `reset_clients` (called by the transport on any Redis error) also
drops the cached clients, so nothing needs a restart.

A master that is still reachable after the Sentinels have switched (a partition that healed, a freeze that
ended) gives no error, and a client or worker that kept using it would run or answer requests twice: the new
master has them too. So before a cached master is used, the Sentinels are asked again whenever their last
answer is older than `MASTER_CHECK_SECONDS`, and a master they no longer name is dropped at once.
"""

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
import redis.sentinel

from pysoa.common.backoff import jittered_backoff
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient, CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.hosts import parse_hosts

__all__ = ('MASTER_CHECK_SECONDS', 'SentinelRedisClient')

MASTER_CHECK_SECONDS = 0.5
"""How old the Sentinels' word on a master may be when the master is used (at most one question per interval)."""

_logger = logging.getLogger(__name__)


class SentinelRedisClient(BaseRedisClient):
    """Masters found through Sentinel; `hosts` are the Sentinels, `sentinel_services` the masters to use.

    Without `sentinel_services`, every master the Sentinels know is used, in the order they report.
    """

    DEFAULT_PORT = 26379

    def __init__(
        self,
        hosts: Iterable[object] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
        sentinel_services: Iterable[str] | None = None,
        sentinel_failover_retries: int = 0,
        sentinel_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if sentinel_failover_retries < 0:
            raise ValueError('sentinel_failover_retries must be >= 0')
        self._sentinel_failover_retries = sentinel_failover_retries
        self._master_clients: dict[str, redis.Redis] = {}
        # service -> (the master's address when its client was made, when the Sentinels last confirmed it)
        self._confirmed: dict[str, tuple[object, float]] = {}
        self._lock = threading.Lock()

        master_kwargs = self._with_default_connection_kwargs(connection_kwargs)
        # A Sentinel that dies mid-answer must not hang the worker (and nobody blocks on a Sentinel).
        sentinel_connection_kwargs = self._with_default_connection_kwargs(
            {'socket_timeout': 5.0, **(sentinel_kwargs or {})},
        )
        self._sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves Sentinel unannotated
            parse_hosts(hosts, self.DEFAULT_PORT, urls=False, what='Sentinel') or [('localhost', self.DEFAULT_PORT)],
            sentinel_kwargs=sentinel_connection_kwargs,
            **master_kwargs,
        )
        if sentinel_services:
            self._validate_service_names(sentinel_services)
            self._services = list(sentinel_services)
        else:
            self._services = self._get_service_names()
        super().__init__(ring_size=len(self._services))

    @staticmethod
    def _validate_service_names(services: Iterable[str]) -> None:
        if isinstance(services, (str, bytes)):
            raise ValueError('Sentinel services must be specified as an iterable of strings.')
        for entry in services:
            if not isinstance(entry, str):
                raise ValueError('Sentinel services must be specified as strings.')

    def _get_service_names(self) -> list[str]:
        """Ask each Sentinel in turn for the masters it watches; raise `redis.ConnectionError` if none answers."""
        failures = []
        for sentinel in self._sentinel.sentinels:
            try:
                masters = sentinel.sentinel_masters()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                failures.append(f'{sentinel!r}: {error}')
                continue
            if isinstance(masters, dict) and masters:
                return list(masters)
            failures.append(f'{sentinel!r}: knows no masters')
        raise redis.ConnectionError('Could not get master info from Sentinel:\n' + '\n'.join(failures))

    def reset_clients(self) -> None:
        """Forget the cached master clients, so the next call asks the Sentinels again."""
        # Not closed here: another thread may be mid-command on one; dropped clients close when collected.
        with self._lock:
            self._master_clients = {}
            self._confirmed = {}

    def _get_master_client_for(self, service_name: str) -> redis.Redis:
        client = self._master_clients.get(service_name)
        if client is not None and not self._still_master(service_name, client):
            client = None
        if client is None:
            client = self._sentinel.master_for(service_name)  # type: ignore[no-untyped-call]  # unannotated in redis-py
            # Ask now, so a missing master surfaces here (and is retried) rather than on first use.
            address = client.connection_pool.get_master_address()
            _logger.info('Sentinel master for %s is at %s', service_name, address)
            with self._lock:
                self._master_clients[service_name] = client
                self._confirmed[service_name] = (address, time.monotonic())
        return client

    def _still_master(self, service_name: str, client: redis.Redis) -> bool:
        """Whether the Sentinels still name `client`'s master (asked at most once per `MASTER_CHECK_SECONDS`)."""
        address, confirmed_at = self._confirmed.get(service_name, (None, 0.0))
        now = time.monotonic()
        if now - confirmed_at < MASTER_CHECK_SECONDS:
            return True
        # Raises MasterNotFoundError, which the caller retries.
        current = self._sentinel.discover_master(service_name)  # type: ignore[no-untyped-call]  # unannotated in redis-py
        if current == address:
            self._confirmed[service_name] = (address, now)
            return True
        _logger.warning(
            'Sentinel master for %s moved from %s to %s; dropping the old one', service_name, address, current
        )
        with self._lock:
            if self._master_clients.get(service_name) is client:
                del self._master_clients[service_name]
        client.connection_pool.disconnect()  # connections to the old master must not be used again
        return False

    def _get_connection(self, index: int) -> redis.Redis:
        self._check_index(index)
        service = self._services[index]
        for attempt in range(self._sentinel_failover_retries + 1):
            try:
                return self._get_master_client_for(service)
            except redis.sentinel.MasterNotFoundError:
                self.reset_clients()
                _logger.warning('No Redis master found for %s (failover under way?)', service)
                if attempt < self._sentinel_failover_retries:
                    time.sleep(jittered_backoff(attempt))
        raise CannotGetConnectionError('Master not found; gave up reloading master info after failover.')

    def close(self) -> None:
        """Close the master clients and the Sentinel connections."""
        with self._lock:
            clients, self._master_clients = self._master_clients, {}
        for client in clients.values():
            client.close()
        for sentinel in self._sentinel.sentinels:
            sentinel.close()
