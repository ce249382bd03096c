"""The `client_routing` setting: the client settings, by service name, of the client that actions get."""

from collections.abc import Mapping
from typing import Any

from pysoa.client.settings import ClientSettings

__all__ = ('ClientRouting', 'validate_client_routing')

ClientRouting = Mapping[str, dict[str, Any] | ClientSettings]
"""Client settings by service name, as `Client` takes them: raw dicts, or settings objects already validated."""


def validate_client_routing(client_class: type, settings: Mapping[str, Any]) -> ClientRouting:
    """`settings['client_routing']`, each entry validated by `client_class.settings_class` (when it has one).

    Raises `ImproperlyConfigured` naming the setting and the service, so that a mistake in it stops the server
    at start-up instead of failing every job.
    """
    raw: ClientRouting = settings.get('client_routing') or {}
    settings_class: type[ClientSettings] | None = getattr(client_class, 'settings_class', None)
    if settings_class is None:
        return raw
    routing: dict[str, ClientSettings] = {}
    for name, config in raw.items():
        try:
            routing[name] = settings_class(config)
        except settings_class.ImproperlyConfigured as error:
            raise settings_class.ImproperlyConfigured(f"Invalid setting 'client_routing': {name}: {error}") from error
    return routing
