"""Where the `pysoa` command finds Redis: `--redis URL`, else `--settings module`, else `PYSOA_REDIS_URL`.

A `Target` gives the client settings for one service, and a connection to every Redis server behind it (for the
commands that read queues). The URL forms are those of `redis_gateway.redis_url`; a settings module is read with
the same loader a service uses, and holds `SOA_CLIENT_SETTINGS` (or the dict named by `module:NAME`), the client
configuration `{service_name: {'transport': ...}}` that `Client` takes.
"""

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import click
import redis

from pysoa.client.settings import REDIS_CLIENT_TRANSPORT_PATH
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient
from pysoa.common.transport.redis_gateway.backend.registry import backend_class_for
from pysoa.common.transport.redis_gateway.constants import REDIS_BACKEND_TYPE_STANDARD
from pysoa.common.transport.redis_gateway.options import fold_backend_shortcuts
from pysoa.common.transport.redis_gateway.redis_url import (
    REDIS_URL_ENVIRONMENT_VARIABLE,
    UrlTransportKwargs,
    describe_redis_address,
    environment_redis_url,
    transport_kwargs_from_url,
    with_environment_hosts,
)
from pysoa.server.settings_loader import import_settings_module

__all__ = (
    'CLIENT_SETTINGS_NAME',
    'Target',
    'TargetOptions',
    'backend_for',
    'pass_target',
    'redis_servers',
    'resolve_target',
)

_P = ParamSpec('_P')
_R = TypeVar('_R')

CLIENT_SETTINGS_NAME = 'SOA_CLIENT_SETTINGS'
"""The name of the client configuration in a `--settings` module that names none."""

ClientConfig = Mapping[str, Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class Target:
    """The Redis to talk to: transport keyword arguments for every service, or a client configuration by service."""

    source: str
    """Where it came from, for messages: `--redis`, `PYSOA_REDIS_URL` or `settings module x`."""
    transport_kwargs: UrlTransportKwargs | None = None
    client_config: ClientConfig | None = None

    def client_settings(self, service: str) -> dict[str, Any]:
        """The client settings for `service`; a usage error when a settings module has none for it."""
        if self.transport_kwargs is not None:
            return {'transport': {'path': REDIS_CLIENT_TRANSPORT_PATH, 'kwargs': dict(self.transport_kwargs)}}
        assert self.client_config is not None
        if service not in self.client_config:
            known = ', '.join(sorted(self.client_config)) or 'none'
            raise click.UsageError(f'The {self.source} has no settings for service {service!r} (it has: {known}).')
        return dict(self.client_config[service])

    def redis_layers(self) -> list[tuple[str, dict[str, Any]]]:
        """Each distinct Redis backend named: `(backend_type, backend_layer_kwargs)`, in the order first named."""
        named: list[tuple[str, Mapping[str, Any]]]
        if self.transport_kwargs is not None:
            named = [(self.transport_kwargs['backend_type'], self.transport_kwargs['backend_layer_kwargs'])]
        else:
            named = []
            for settings in (self.client_config or {}).values():
                kwargs = dict(settings.get('transport', {}).get('kwargs') or {})
                named.append(
                    (kwargs.get('backend_type', REDIS_BACKEND_TYPE_STANDARD), kwargs.get('backend_layer_kwargs') or {})
                )
        layers: list[tuple[str, dict[str, Any]]] = []
        for backend_type, backend_layer_kwargs in named:
            # As the transport does: PYSOA_REDIS_URL fills the hosts of settings that name none.
            layer = with_environment_hosts(backend_type, backend_layer_kwargs)
            if layer not in layers:
                layers.append(layer)
        return layers

    def service_layers(self, service: str) -> list[tuple[str, dict[str, Any]]]:
        """The Redis backends that `service`'s requests go to: `(backend_type, backend_layer_kwargs)`."""
        if self.client_config is None:
            return self.redis_layers()
        return Target(self.source, client_config={service: self.client_settings(service)}).redis_layers()

    def address(self, service: str | None = None) -> str:
        """Where Redis is, for messages (never a password)."""
        layers = self.redis_layers() if service is None else self.service_layers(service)
        return '; '.join(describe_redis_address(backend_type, layer) for backend_type, layer in layers)


def backend_for(backend_type: str, backend_layer_kwargs: Mapping[str, Any]) -> BaseRedisClient:
    """A backend built from transport settings the way the transport builds its own."""
    return backend_class_for(backend_type)(**fold_backend_shortcuts(backend_type, backend_layer_kwargs))


def redis_servers(target: Target) -> Iterator[tuple[str, redis.Redis]]:
    """`(address, connection)` for every Redis server of the target's backends; the backends are closed after."""
    for backend_type, layer in target.redis_layers():
        backend = backend_for(backend_type, layer)
        try:
            for connection in backend.all_connections():
                yield describe_redis_address(backend_type, layer), connection
        finally:
            backend.close()


def _load_client_config(reference: str) -> ClientConfig:
    module_name, _, name = reference.partition(':')
    try:
        module = import_settings_module(module_name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint='--settings') from None
    config = getattr(module, name or CLIENT_SETTINGS_NAME, None)
    if not isinstance(config, Mapping):
        raise click.BadParameter(
            f'The module {module_name!r} has no client configuration dict `{name or CLIENT_SETTINGS_NAME}` '
            f"({{'service_name': {{'transport': ...}}}}); name another one with `{module_name}:NAME`.",
            param_hint='--settings',
        )
    return config


def _from_url(url: str, source: str) -> Target:
    try:
        return Target(source, transport_kwargs=transport_kwargs_from_url(url, source))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=source) from None


def resolve_target(redis_url: str | None, settings: str | None) -> Target:
    """The target of this run, by precedence: `--redis`, `--settings`, then `PYSOA_REDIS_URL`; a usage error if none."""
    if redis_url and settings:
        raise click.UsageError('Give --redis or --settings, not both.')
    if redis_url:
        return _from_url(redis_url, '--redis')
    if settings:
        return Target(f'settings module {settings}', client_config=_load_client_config(settings))
    url = environment_redis_url()
    if url:
        return _from_url(url, REDIS_URL_ENVIRONMENT_VARIABLE)
    raise click.UsageError(
        f'Where is Redis? Give --redis URL, --settings module or set {REDIS_URL_ENVIRONMENT_VARIABLE}.'
    )


@dataclasses.dataclass(frozen=True)
class TargetOptions:
    """The `--redis` and `--settings` options as given, read only by the commands that need Redis."""

    redis_url: str | None = None
    settings: str | None = None

    def resolve(self) -> Target:
        """The target these options name (see `resolve_target`)."""
        return resolve_target(self.redis_url, self.settings)


def pass_target(command: Callable[Concatenate[Target, _P], _R]) -> Callable[_P, _R]:
    """Give the command the `Target` that the group's options name, read when the command runs."""

    @functools.wraps(command)
    def with_target(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        options = click.get_current_context().find_object(TargetOptions) or TargetOptions()
        return command(options.resolve(), *args, **kwargs)

    return with_target
