"""The standard backend: a fixed list of Redis servers, given as hosts, `(host, port)` pairs or URLs."""

from collections.abc import Iterable
from typing import Any

import redis

from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient
from pysoa.common.transport.redis_gateway.backend.hosts import REDIS_URL_SYNTAX, Host, parse_hosts

__all__ = ('DEFAULT_REDIS_PORT', 'StandardRedisClient')

DEFAULT_REDIS_PORT = 6379
"""The port of a `hosts` entry given as a bare host name."""


class StandardRedisClient(BaseRedisClient):
    """Redis servers addressed directly; `hosts` entries are host names, `(host, port)` or redis://, rediss://, unix://.

    `connection_kwargs` go to every `redis.Redis` (password, `username` for ACL users, `db`, TLS options, ...).
    """

    DEFAULT_PORT = DEFAULT_REDIS_PORT
    ACCEPTS_URLS = True
    URL_SYNTAX = REDIS_URL_SYNTAX

    def __init__(
        self,
        hosts: Iterable[object] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = self._with_default_connection_kwargs(connection_kwargs)
        self._connection_list = self._get_connection_list(hosts, **kwargs)
        super().__init__(ring_size=len(self._connection_list))

    @classmethod
    def check_settings(
        cls,
        hosts: Iterable[object] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
        **_other: object,
    ) -> None:
        """Raise ValueError for a bad host or connection keyword: the backend is built on first use, too late to say."""
        for client in cls._get_connection_list(hosts, **cls._with_default_connection_kwargs(connection_kwargs)):
            client.close()

    @classmethod
    def _get_connection_list(cls, hosts: Iterable[object] | None, **connection_kwargs: Any) -> list[redis.Redis]:
        entries = parse_hosts(hosts, cls.DEFAULT_PORT) or [('localhost', cls.DEFAULT_PORT)]
        return [cls._connect(entry, connection_kwargs) for entry in entries]

    @classmethod
    def _connect(cls, entry: Host, connection_kwargs: dict[str, Any]) -> redis.Redis:
        # redis-py refuses an unknown keyword only when it builds a connection (lazily, for URLs): a typo in the
        # settings must stop the transport now, naming the key, not surface as a transient error at the first send.
        try:
            client = cls._make_client(entry, connection_kwargs)
            pool = getattr(client, 'connection_pool', None)  # test doubles of redis.Redis may have none
            if pool is not None:
                pool.connection_class(**pool.connection_kwargs)  # no I/O: connecting happens on first use
        except TypeError as error:
            raise ValueError(f'Invalid connection_kwargs for Redis host {entry!r}: {error}') from None
        return client

    @staticmethod
    def _make_client(entry: Host, connection_kwargs: dict[str, Any]) -> redis.Redis:
        if isinstance(entry, str):
            # A URL names its own database and credentials; settings may still add socket options.
            url_kwargs = dict(connection_kwargs)
            if entry.startswith('unix://'):
                url_kwargs.pop('socket_keepalive', None)
            connection: redis.Redis = redis.Redis.from_url(entry, **url_kwargs)
            return connection
        host, port = entry
        return redis.Redis(host=host, port=port, **connection_kwargs)

    def _get_connection(self, index: int) -> redis.Redis:
        self._check_index(index)
        return self._connection_list[index]

    def close(self) -> None:
        """Disconnect every pooled connection."""
        for connection in self._connection_list:
            connection.close()
