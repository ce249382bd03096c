"""The `hosts` setting of a Redis backend read once: host names, `(host, port)` pairs and, where allowed, URLs."""

import re
from collections.abc import Iterable
from typing import Literal, overload

from pysoa.common.transport.redis_gateway.redis_url import check_redis_url, looks_like_url

__all__ = ('REDIS_URL_SYNTAX', 'Host', 'parse_hosts')

REDIS_URL_SYNTAX = re.compile(r'^(unix|rediss?)://')
"""Matches the `hosts` entries that are URLs rather than host names."""

Host = tuple[str, int] | str
"""One entry once read: a `(host, port)` pair, or a redis://, rediss:// or unix:// URL."""


@overload
def parse_hosts(
    hosts: Iterable[object] | None, default_port: int, *, urls: Literal[False], what: str = 'Redis'
) -> list[tuple[str, int]]: ...


@overload
def parse_hosts(
    hosts: Iterable[object] | None, default_port: int, *, urls: bool = True, what: str = 'Redis'
) -> list[Host]: ...


def parse_hosts(
    hosts: Iterable[object] | None, default_port: int, *, urls: bool = True, what: str = 'Redis'
) -> list[Host] | list[tuple[str, int]]:
    """Read a `hosts` setting: a bare name gets `default_port`, a pair stays, a URL stays (when `urls`).

    Lists count as pairs, because settings read from JSON or YAML cannot hold tuples. Without `urls` every
    string is a host name. None reads as no hosts. Raises ValueError, naming the first entry that is none of
    these (`what` names the kind of server in that message).
    """
    if hosts is None:
        return []
    if isinstance(hosts, str | bytes) or not isinstance(hosts, Iterable):
        raise ValueError(f'{what} hosts must be specified as an iterable of hosts, not {type(hosts).__name__}.')
    return [_parse_host(entry, default_port, urls, what) for entry in hosts]


def _parse_host(entry: object, default_port: int, urls: bool, what: str) -> Host:
    if isinstance(entry, str):
        if urls and looks_like_url(entry):
            # Else a misspelled URL would be taken for a host name, and connecting to it retried for ever.
            check_redis_url(entry, f'{what} `hosts` entry')
        return entry if urls and REDIS_URL_SYNTAX.match(entry) else (entry, default_port)
    if isinstance(entry, tuple | list) and len(entry) == 2:
        host, port = entry
        if isinstance(host, str) and isinstance(port, int) and not isinstance(port, bool):
            return host, port
    forms = 'a redis://, rediss:// or unix:// URL, ' if urls else ''
    raise ValueError(
        f'Each {what} `hosts` entry must be a host name (port {default_port}), {forms}or a (host, port) pair; '
        f'{entry!r} is none of these.'
    )
