"""The standard backend: a fixed list of Redis servers, given as hosts, `(host, port)` pairs or URLs."""

import re
from collections.abc import Iterable
from typing import Any

import redis

from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient

__all__ = ('StandardRedisClient', 'check_connection_kwargs')

HostSpec = str | tuple[str, int] | list[Any]

DEFAULT_REDIS_PORT = 6379
"""The port of a `hosts` entry given as a bare host name."""

REDIS_URL_SYNTAX = re.compile(r'^(unix|rediss?)://')
"""Matches the `hosts` entries that are URLs rather than host names."""


class StandardRedisClient(BaseRedisClient):
    """Redis servers addressed directly; `hosts` entries are host names, `(host, port)` or redis://, rediss://, unix://.

    `connection_kwargs` go to every `redis.Redis` (password, `username` for ACL users, `db`, TLS options, ...).
    """

    DEFAULT_PORT = DEFAULT_REDIS_PORT
    URL_SYNTAX = REDIS_URL_SYNTAX

    def __init__(
        self,
        hosts: Iterable[HostSpec] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = self._with_default_connection_kwargs(connection_kwargs)
        self._connection_list = self._get_connection_list(hosts, **kwargs)
        super().__init__(ring_size=len(self._connection_list))

    def _script_host_connection(self) -> redis.Redis:
        return self._connection_list[0]

    @classmethod
    def _get_connection_list(cls, hosts: Iterable[HostSpec] | None, **connection_kwargs: Any) -> list[redis.Redis]:
        if isinstance(hosts, (str, bytes)):
            raise ValueError('Redis hosts must be specified as an iterable of hosts.')
        if not hosts:
            return [cls._connect(('localhost', cls.DEFAULT_PORT), connection_kwargs)]
        return [cls._connect(entry, connection_kwargs) for entry in hosts]

    @classmethod
    def _connect(cls, entry: HostSpec, connection_kwargs: dict[str, Any]) -> redis.Redis:
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

    @classmethod
    def _make_client(cls, entry: HostSpec, connection_kwargs: dict[str, Any]) -> redis.Redis:
        if isinstance(entry, str):
            if cls.URL_SYNTAX.match(entry):
                # A URL names its own database and credentials; settings may still add socket options.
                url_kwargs = dict(connection_kwargs)
                if entry.startswith('unix://'):
                    url_kwargs.pop('socket_keepalive', None)
                connection: redis.Redis = redis.Redis.from_url(entry, **url_kwargs)
                return connection
            return redis.Redis(host=entry, port=cls.DEFAULT_PORT, **connection_kwargs)
        # Lists are accepted as pairs because settings read from JSON or YAML cannot hold tuples.
        if (
            isinstance(entry, (tuple, list))
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], int)
            and not isinstance(entry[1], bool)
        ):
            return redis.Redis(host=entry[0], port=entry[1], **connection_kwargs)
        raise ValueError(
            f'Each Redis `hosts` entry must be a host name (port {cls.DEFAULT_PORT}), a redis://, rediss:// or '
            f'unix:// URL, or a (host, port) pair; {entry!r} is none of these.'
        )

    def _get_connection(self, index: int) -> redis.Redis:
        self._check_index(index)
        return self._connection_list[index]

    def close(self) -> None:
        """Disconnect every pooled connection."""
        for connection in self._connection_list:
            connection.close()


def check_connection_kwargs(hosts: Iterable[HostSpec] | None, connection_kwargs: dict[str, Any] | None) -> None:
    """Raise ValueError if the standard backend could not be built from `hosts` and `connection_kwargs` (no I/O)."""
    kwargs = BaseRedisClient._with_default_connection_kwargs(connection_kwargs)
    for client in StandardRedisClient._get_connection_list(hosts, **kwargs):
        client.close()
