"""Redis URLs read strictly, the `PYSOA_REDIS_URL` environment variable, and a password-free address for logs.

The forms read here:

- `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS) and `unix://[user:password@]/path[?db=N]`:
  the standard backend, given the URL itself as its one `hosts` entry (redis-py reads it).
- `redis+sentinel://[user:password@]host[:port][,host[:port]...][/service_name[/db]]`: the Sentinel backend.
  The hosts are the Sentinels (default port 26379), `service_name` the one master to use (all the masters the
  Sentinels know when left out), `db` the database on it; the credentials are the master's.

A URL that cannot be read raises `ValueError` naming where it came from, at start-up: redis-py would otherwise
take a misspelled one (`redis:/host`) for a host name and retry connecting to it for ever.
"""

import os
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Required, TypedDict

from pysoa.common.transport.redis_gateway.constants import REDIS_BACKEND_TYPE_SENTINEL, REDIS_BACKEND_TYPE_STANDARD

__all__ = (
    'REDIS_URL_ENVIRONMENT_VARIABLE',
    'SENTINEL_SCHEME',
    'UrlBackendLayer',
    'UrlConnectionKwargs',
    'UrlTransportKwargs',
    'check_redis_url',
    'describe_redis_address',
    'environment_redis_url',
    'looks_like_url',
    'transport_kwargs_from_url',
    'with_environment_hosts',
)

REDIS_URL_ENVIRONMENT_VARIABLE = 'PYSOA_REDIS_URL'
"""The environment variable naming the Redis of settings whose transport names no hosts."""

SENTINEL_SCHEME = 'redis+sentinel'
_STANDARD_SCHEMES = ('redis', 'rediss', 'unix')
_SENTINEL_DEFAULT_PORT = 26379
_URL_LIKE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:/')


class UrlConnectionKwargs(TypedDict, total=False):
    """The connection arguments a `redis+sentinel://` URL gives its master: credentials and database."""

    username: str
    password: str
    db: int


class UrlBackendLayer(TypedDict, total=False):
    """The `backend_layer_kwargs` a URL gives: the URL itself as the one host, or Sentinels as (host, port)."""

    hosts: Required[list[str] | list[tuple[str, int]]]
    sentinel_services: list[str]
    connection_kwargs: UrlConnectionKwargs


class UrlTransportKwargs(TypedDict):
    """The transport keyword arguments a URL gives (see `transport_kwargs_from_url`)."""

    backend_type: str
    backend_layer_kwargs: UrlBackendLayer


def looks_like_url(text: str) -> bool:
    """Whether `text` starts like a URL (`scheme:/`); a host name never does."""
    return bool(_URL_LIKE.match(text))


def _fail(url: str, source: str, problem: str) -> ValueError:
    return ValueError(f'{source}: cannot read the Redis URL {_without_password(url)!r}: {problem}')


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition('@')
    user = parts.username or ''
    return urllib.parse.urlunsplit(parts._replace(netloc=f'{user}:***@{netloc[2]}'))


def _host_and_port(url: str, source: str, text: str, default: int) -> tuple[str, int]:
    """`host[:port]` or `[v6 address][:port]` read, the port checked."""
    if text.startswith('['):
        host, _, rest = text[1:].partition(']')
        port = rest.removeprefix(':')
    else:
        host, _, port = text.partition(':')
    if not host:
        raise _fail(url, source, f'no host in {text!r}')
    if not port:
        return host, default
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise _fail(url, source, f'the port {port!r} is not a number from 1 to 65535')
    return host, int(port)


def _check_db(url: str, source: str, db: str) -> None:
    if db and not db.isdigit():
        raise _fail(url, source, f'the database {db!r} is not a number')


def check_redis_url(url: str, source: str = 'Redis URL') -> None:
    """Raise `ValueError` (naming `source`, never the password) unless `url` is a Redis URL of a form listed above."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as error:
        raise _fail(url, source, str(error)) from None
    if parts.scheme == SENTINEL_SCHEME:
        _sentinel_parts(url, source)
        return
    if parts.scheme not in _STANDARD_SCHEMES or not url.startswith(f'{parts.scheme}://'):
        known = ', '.join(f'{scheme}://' for scheme in (*_STANDARD_SCHEMES, SENTINEL_SCHEME))
        raise _fail(url, source, f'it must start with one of {known}')
    if parts.scheme == 'unix':
        if not parts.path:
            raise _fail(url, source, 'no socket path')
        _check_db(url, source, urllib.parse.parse_qs(parts.query).get('db', [''])[0])
        return
    try:
        parts.port  # noqa: B018  # reading it checks it
    except ValueError as error:
        raise _fail(url, source, str(error)) from None
    _check_db(url, source, parts.path.strip('/'))


def _sentinel_parts(url: str, source: str) -> tuple[list[tuple[str, int]], str | None, int | None, UrlConnectionKwargs]:
    """The Sentinels, the master's name, its database and credentials of a redis+sentinel:// URL."""
    prefix = f'{SENTINEL_SCHEME}://'
    if not url.startswith(prefix):
        raise _fail(url, source, f'it must start with {prefix}')
    rest = url[len(prefix) :]
    authority, _, path = rest.partition('/')
    credentials, _, host_list = authority.rpartition('@')
    sentinels = [_host_and_port(url, source, entry, _SENTINEL_DEFAULT_PORT) for entry in host_list.split(',')]
    segments = [urllib.parse.unquote(segment) for segment in path.split('/') if segment]
    if len(segments) > 2:
        raise _fail(url, source, 'after the hosts come at most /service_name/db')
    service = segments[0] if segments else None
    db = segments[1] if len(segments) > 1 else ''
    _check_db(url, source, db)
    auth: UrlConnectionKwargs = {}
    if credentials:
        user, has_password, password = credentials.partition(':')
        if user:
            auth['username'] = urllib.parse.unquote(user)
        if has_password:
            auth['password'] = urllib.parse.unquote(password)
    return sentinels, service, int(db) if db else None, auth


def transport_kwargs_from_url(url: str, source: str = 'Redis URL') -> UrlTransportKwargs:
    """The transport keyword arguments `backend_type` and `backend_layer_kwargs` that reach the Redis at `url`."""
    check_redis_url(url, source)
    if not url.startswith(f'{SENTINEL_SCHEME}://'):
        return {'backend_type': REDIS_BACKEND_TYPE_STANDARD, 'backend_layer_kwargs': {'hosts': [url]}}
    sentinels, service, db, auth = _sentinel_parts(url, source)
    layer: UrlBackendLayer = {'hosts': sentinels}
    if service:
        layer['sentinel_services'] = [service]
    connection_kwargs = auth
    if db is not None:
        connection_kwargs['db'] = db
    if connection_kwargs:
        layer['connection_kwargs'] = connection_kwargs
    return {'backend_type': REDIS_BACKEND_TYPE_SENTINEL, 'backend_layer_kwargs': layer}


def environment_redis_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The value of `PYSOA_REDIS_URL`, or None when it is unset or empty."""
    return (os.environ if environ is None else environ).get(REDIS_URL_ENVIRONMENT_VARIABLE) or None


def with_environment_hosts(
    backend_type: str, backend_layer_kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """The backend type and arguments, with `PYSOA_REDIS_URL`'s hosts filled in when the settings name none.

    Settings that name hosts are left as they are; so are all settings when the variable is unset. A Sentinel URL
    makes the backend Sentinel; settings that chose the other backend type explicitly are refused.
    """
    url = environment_redis_url(environ)
    if url is None or backend_layer_kwargs.get('hosts'):
        return backend_type, dict(backend_layer_kwargs)
    from_url = transport_kwargs_from_url(url, REDIS_URL_ENVIRONMENT_VARIABLE)
    if backend_type == REDIS_BACKEND_TYPE_SENTINEL and from_url['backend_type'] != backend_type:
        raise ValueError(
            f'{REDIS_URL_ENVIRONMENT_VARIABLE}: the settings name backend_type {backend_type!r}, which needs a '
            f'{SENTINEL_SCHEME}:// URL',
        )
    layer = dict(backend_layer_kwargs)
    url_layer = from_url['backend_layer_kwargs']
    layer['hosts'] = url_layer['hosts']
    if 'sentinel_services' in url_layer:
        layer.setdefault('sentinel_services', url_layer['sentinel_services'])
    if 'connection_kwargs' in url_layer:  # the settings' own connection arguments win over the URL's
        layer['connection_kwargs'] = {**url_layer['connection_kwargs'], **(layer.get('connection_kwargs') or {})}
    return from_url['backend_type'], layer


def describe_redis_address(backend_type: str, backend_layer_kwargs: Mapping[str, Any]) -> str:
    """Where a transport's Redis is, for logs: hosts, database and TLS on or off; never a password."""
    connection_kwargs: Mapping[str, Any] = backend_layer_kwargs.get('connection_kwargs') or {}
    db = connection_kwargs.get('db', backend_layer_kwargs.get('redis_db', 0))
    tls = bool(connection_kwargs.get('ssl'))
    sentinel = backend_type == REDIS_BACKEND_TYPE_SENTINEL
    shown = []
    for entry in backend_layer_kwargs.get('hosts') or [('localhost', _SENTINEL_DEFAULT_PORT if sentinel else 6379)]:
        if isinstance(entry, str) and looks_like_url(entry):
            address, url_db, url_tls = _url_address(entry)
            shown.append(f'{address} db {url_db or db}')
            tls = tls or url_tls
        elif isinstance(entry, str):
            shown.append(f'{entry} db {db}')
        else:
            shown.append(f'{entry[0]}:{entry[1]} db {db}')
    tls_text = f'TLS {"on" if tls else "off"}'
    if sentinel:
        sentinels = ', '.join(text.rpartition(' db ')[0] for text in shown)
        services = ', '.join(backend_layer_kwargs.get('sentinel_services') or ())
        masters = f'master {services}' if services else 'every master'
        return f'Redis Sentinel {sentinels} ({masters}, db {db}), {tls_text}'
    return f'Redis {", ".join(shown)}, {tls_text}'


def _url_address(url: str) -> tuple[str, str, bool]:
    """The host and port (or socket path), the database (or '') and whether TLS is on, of a standard URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == 'unix':
        return parts.path, urllib.parse.parse_qs(parts.query).get('db', [''])[0], False
    return parts.netloc.rpartition('@')[2], parts.path.strip('/'), parts.scheme == 'rediss'
