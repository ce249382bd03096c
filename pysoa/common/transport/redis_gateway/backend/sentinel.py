"""The Sentinel backend: the ring is the set of masters (services) that a group of Sentinels watches.

The Sentinels are asked where each master is (`SENTINEL MASTER`), and a plain client is made for that address;
every question to a Sentinel, like every Redis command, runs under the calling thread's time limit
(`direct.time_limit`), so a slow or dead Sentinel cannot hold a call past its deadline.

A master that is still reachable after the Sentinels have switched (a partition that healed, a freeze that
ended; Sentinel leaves an old master writable for several seconds) gives no error, and a client or worker that
kept using it would run or answer requests twice: the new master has them too. So:

- before a cached master is used, the Sentinels are asked again whenever their last answer is older than
  `MASTER_CHECK_SECONDS`, and a master they no longer name is dropped at once (`reset_clients`, called by the
  transport on any Redis error, makes the next use ask them at once);
- a worker that took a request runs it only once the taking is known to be on the replicas (`confirm_taken`,
  `failover_guard`): a replica promoted later does not hold the request any more, so nobody runs it again.
"""

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import attrs
import redis
import redis.sentinel

from pysoa.common.backoff import jittered_backoff
from pysoa.common.transport.redis_gateway.backend import failover_guard
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient, CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.direct import remaining_seconds, supports_direct_commands, time_limit
from pysoa.common.transport.redis_gateway.backend.hosts import parse_hosts

__all__ = ('MASTER_CHECK_SECONDS', 'STALE_GRACE_SECONDS', 'SentinelRedisClient')

MASTER_CHECK_SECONDS = 0.5
"""How old the Sentinels' word on a master may be when the master is used (at most one question per interval)."""

STALE_GRACE_SECONDS = 60.0
"""How long the Sentinels may name only masters of older configurations than one seen before that is forgotten (a
Sentinel set rebuilt from scratch starts its epochs again; a failover takes seconds, not minutes)."""

_SERVICE_ATTRIBUTE = '_pysoa_sentinel_service'
"""Set on each master client: the Sentinel service it serves and the master's address, so a connection can be mapped
to today's master (a client other than today's may still talk to the same master: threads that found it together)."""

_logger = logging.getLogger(__name__)

_REDIS_SENTINEL_CLASS = redis.sentinel.Sentinel
"""redis-py's own class, kept at import: a 1.x test suite replaces `redis.sentinel.Sentinel` with a stand-in (whose
`master_for` hands out test doubles), and this backend then drives it the 1.x way (`_StandInSentinel`)."""


@attrs.define
class _Master:
    client: redis.Redis
    address: tuple[str, int]
    confirmed_at: float
    replicas: int
    """How many replicas the Sentinels could promote, when last asked: a taken request must reach that many."""
    epoch: int
    """The configuration epoch the Sentinels named it in."""
    fewer_since: float | None = None
    """Since when the Sentinels and the master have agreed on fewer replicas than `replicas` (monotonic)."""


class SentinelRedisClient(BaseRedisClient):
    """Masters found through Sentinel; `hosts` are the Sentinels, `sentinel_services` the masters to use.

    Without `sentinel_services`, every master the Sentinels know is used, in the order they report.
    `sentinel_failover_retries` is how often a master the Sentinels cannot name is asked for again (with back-off,
    within the caller's deadline) before the call fails with `CannotGetConnectionError`.
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
        self._masters: dict[str, _Master] = {}
        self._newest: dict[str, failover_guard.MasterView] = {}  # per service: the highest configuration epoch seen
        # The most replicas each master was seen with, kept when its client is dropped: a master the Sentinels name
        # again in the middle of a failover must not start from their count, which the promoted replica has left.
        # (Only within the configuration it was seen in: a master promoted again later starts afresh.)
        self._replicas_seen: dict[tuple[str, tuple[str, int]], tuple[int, int]] = {}
        self._stale_since: dict[str, float] = {}
        self._lock = threading.Lock()

        self._master_kwargs = self._with_default_connection_kwargs(connection_kwargs)
        # A Sentinel that dies mid-answer must not hang the worker (and nobody blocks on a Sentinel): without a
        # caller's deadline, each question has `failover_guard.SENTINEL_SECONDS`.
        sentinel_connection_kwargs = self._with_default_connection_kwargs(
            {'socket_timeout': 5.0, **(sentinel_kwargs or {})},
        )
        # Used for its list of Sentinel clients (plain redis-py clients), not for its connection pools.
        self._sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call, unused-ignore]  # unannotated before redis-py 8.2
            parse_hosts(hosts, self.DEFAULT_PORT, urls=False, what='Sentinel') or [('localhost', self.DEFAULT_PORT)],
            sentinel_kwargs=sentinel_connection_kwargs,
        )
        self.master_check_seconds: float | None = None
        """This backend's own interval instead of `MASTER_CHECK_SECONDS` (tests stage a client with a stale view)."""
        self._stand_in = not isinstance(self._sentinel, _REDIS_SENTINEL_CLASS)
        self._stand_in_clients: dict[str, redis.Redis] = {}
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

    @property
    def sentinels(self) -> list[redis.Redis]:
        """A client for each Sentinel, in the order they were given (the one that answered last first)."""
        sentinels: list[redis.Redis] = self._sentinel.sentinels
        return sentinels

    def _get_service_names(self) -> list[str]:
        """Ask each Sentinel in turn for the masters it watches; raise `redis.ConnectionError` if none answers."""
        failures = []
        for sentinel in self.sentinels:
            try:
                # A stand-in's Sentinels are test doubles that answer as redis-py's clients do, not to raw commands.
                masters = (
                    [str(name) for name in sentinel.sentinel_masters()]
                    if self._stand_in
                    else failover_guard.masters_known(sentinel)
                )
            except (redis.ConnectionError, redis.TimeoutError) as error:
                failures.append(f'{sentinel!r}: {error}')
                continue
            if masters:
                return masters
            failures.append(f'{sentinel!r}: knows no masters')
        raise redis.ConnectionError('Could not get master info from Sentinel:\n' + '\n'.join(failures))

    @property
    def marks_sends(self) -> bool:
        # A stand-in's masters are test doubles of 1.x suites, which know only what 1.x sent.
        return not self._stand_in

    def reset_clients(self) -> None:
        """Make the next use of each master ask the Sentinels first (after an error: the master may have moved)."""
        # The clients are kept: if the Sentinels still name the same master, its connections simply reconnect.
        with self._lock:
            for master in self._masters.values():
                master.confirmed_at = -1e9
            self._stand_in_clients = {}

    def _master_for(self, service: str) -> redis.Redis:
        if self._stand_in:
            return self._stand_in_master_for(service)
        master = self._masters.get(service)
        now = time.monotonic()
        interval = MASTER_CHECK_SECONDS if self.master_check_seconds is None else self.master_check_seconds
        if master is not None and now - master.confirmed_at < interval:
            return master.client
        view = self._discover(service, now)  # MasterNotFoundError when no Sentinel names one
        if master is not None and master.address == view.address:
            # The most replicas seen: a failover takes the promoted one out of the count (see `failover_guard`). The
            # master's own count too: the Sentinels see a replica that joined only at their next look (up to 10 s),
            # and a worker that took nothing meanwhile would not have seen it either.
            master.confirmed_at = now
            master.replicas = max(master.replicas, view.replicas, failover_guard.attached_replicas(master.client))
            return master.client
        if master is not None:
            self._drop(service, master, f'the Sentinels moved it to {view.address[0]}:{view.address[1]}')
        seen, epoch = self._replicas_seen.get((service, view.address), (0, -1))
        replicas = max(view.replicas, seen if epoch == view.epoch else 0)
        with self._lock:
            current = self._masters.get(service)
            if current is not None and current is not master and current.address == view.address:
                return current.client  # another thread found it meanwhile: one client per master
            client = redis.Redis(host=view.address[0], port=view.address[1], **self._master_kwargs)
            setattr(client, _SERVICE_ATTRIBUTE, (service, view.address))
            self._masters[service] = _Master(client, view.address, now, replicas, view.epoch)
        _logger.info('Sentinel master for %s is at %s:%s', service, *view.address)
        return client

    @property
    def services(self) -> list[str]:
        """The Sentinel services (masters) this backend uses, in ring order."""
        return list(self._services)

    def find_master(self, service: str) -> tuple[str, int]:
        """Where the Sentinels say the master of `service` is now, by the rules this backend follows itself (a
        Sentinel failing it over, or naming a master a newer configuration replaced, is passed over), without
        connecting to it: for the asyncio ring, which keeps its own clients. Raises `MasterNotFoundError`."""
        return self._discover(service, time.monotonic()).address

    def _discover(self, service: str, now: float) -> failover_guard.MasterView:
        """What the Sentinels say of `service`, never going back to a master a newer configuration replaced."""
        try:
            view = failover_guard.discover(self.sentinels, service, self._newest.get(service))
        except failover_guard.StaleSentinelsError:
            if now - self._stale_since.setdefault(service, now) < STALE_GRACE_SECONDS:
                raise
            _logger.warning(
                'For %.0f s the Sentinels have named only masters of %s older than a configuration seen before; '
                'believing them (was the Sentinel set rebuilt?)',
                now - self._stale_since.pop(service),
                service,
            )
            self._newest.pop(service, None)
            view = failover_guard.discover(self.sentinels, service)
        self._stale_since.pop(service, None)
        self._note(service, view)
        return view

    def _note(self, service: str, view: failover_guard.MasterView | None) -> None:
        newest = self._newest.get(service)
        if view is not None and (newest is None or view.epoch >= newest.epoch):
            self._newest[service] = view

    def _stand_in_master_for(self, service: str) -> redis.Redis:
        """The 1.x way, for a stand-in Sentinel: its `master_for` client, kept until `reset_clients`."""
        client = self._stand_in_clients.get(service)
        if client is None:
            # MasterNotFoundError is retried by `_connection_for`.
            client = self._sentinel.master_for(service)  # type: ignore[no-untyped-call, unused-ignore]  # unannotated before redis-py 8.2
            self._stand_in_clients[service] = client
        return client

    def _drop(self, service: str, master: _Master, why: str) -> None:
        _logger.warning('Dropping the Redis master %s:%s of %s: %s', *master.address, service, why)
        self._replicas_seen[service, master.address] = (master.replicas, master.epoch)
        with self._lock:
            if self._masters.get(service) is master:
                del self._masters[service]
        # Connections to the old master must not be used again (a thread mid-command on one gets an error).
        master.client.connection_pool.disconnect()

    def _get_connection(self, index: int) -> redis.Redis:
        self._check_index(index)
        return self._connection_for(self._services[index])

    def _connection_for(self, service: str) -> redis.Redis:
        for attempt in range(self._sentinel_failover_retries + 1):
            try:
                return self._master_for(service)
            except redis.sentinel.MasterNotFoundError:
                _logger.warning('No Redis master found for %s (failover under way?)', service)
                if attempt < self._sentinel_failover_retries:
                    delay = jittered_backoff(attempt)
                    left = remaining_seconds()
                    if left is not None and left <= delay:
                        break  # the caller's deadline comes first
                    time.sleep(delay)
        raise CannotGetConnectionError('Master not found; gave up reloading master info after failover.')

    def current_connection(self, connection: redis.Redis) -> redis.Redis:
        """The client of the master that now serves the place of the ring `connection` was handed out for."""
        place = getattr(connection, _SERVICE_ATTRIBUTE, None)
        return connection if place is None else self._connection_for(place[0])

    def confirm_taken(self, connection: redis.Redis) -> bool:
        """Whether what this thread just took or wrote on `connection` reached the replicas a failover could promote.

        False when the Sentinels have switched (or are switching) away from that master, or it cannot be reached:
        then the request must not be run (or answered) there; the promoted replica still holds it. See
        `failover_guard.confirm` for the rule and what is left.
        """
        place = getattr(connection, _SERVICE_ATTRIBUTE, None)
        if place is None or not supports_direct_commands(connection):
            return True  # not one of this backend's masters, or a test double: no replication to ask about
        service, address = place
        return self.confirm_taken_at(service, address, failover_guard.command_on(connection))

    def confirm_taken_at(self, service: str, address: tuple[str, int], command: failover_guard.MasterCommand) -> bool:
        """`confirm_taken` for a taking made on another client of master `address` of `service` (a concurrent
        worker's asyncio connection), whose commands `command` runs. False when the Sentinels name another master."""
        try:
            with time_limit(2 * failover_guard.SENTINEL_SECONDS, within_outer=False):
                master = self._masters.get(service)
                if master is not None and master.address != address:
                    # The other client may have heard of a failover first: this view, up to `MASTER_CHECK_SECONDS`
                    # old, must not refuse (and so lose, at most once) a request taken on the master just promoted.
                    master.confirmed_at = -1e9
                self._master_for(service)
        except (redis.RedisError, OSError):
            return False
        master = self._masters.get(service)
        if master is None or master.address != address:
            return False
        return self._confirm(service, master, command)

    def _confirm(self, service: str, master: _Master, command: failover_guard.MasterCommand) -> bool:
        # Its own budget: the worker that took the request may be at the end of its receive time, and a "no" for
        # want of time would drop the request (at-most-once delivery) although nothing failed over.
        now = time.monotonic()
        fewer = master.fewer_since is not None and now - master.fewer_since >= failover_guard.REPLICA_GONE_SECONDS
        with time_limit(failover_guard.CONFIRM_SECONDS + 2 * failover_guard.SENTINEL_SECONDS, within_outer=False):
            verdict = failover_guard.confirm(command, master.replicas, master.address, self.sentinels, service, fewer)
        self._note(service, verdict.newest)
        if not verdict.confirmed:
            self._drop(service, master, verdict.reason)
            return False
        master.replicas = verdict.replicas
        if verdict.seen is not None:
            master.fewer_since = (master.fewer_since or now) if verdict.seen < master.replicas else None
        return True

    def close(self) -> None:
        """Close the master clients and the Sentinel connections."""
        with self._lock:
            masters, self._masters = self._masters, {}
        for master in masters.values():
            master.client.close()
        if not self._stand_in:
            for sentinel in self.sentinels:
                sentinel.close()
