"""The `client_routing` setting: the client settings, by service name, of the client that actions get."""

from collections.abc import Mapping
from typing import Any

__all__ = ('validate_client_routing',)


def validate_client_routing(client_class: type, settings: Mapping[str, Any]) -> Mapping[str, Any]:
    """`settings['client_routing']`, each entry validated by `client_class.settings_class` (when it has one).

    Raises `ImproperlyConfigured` naming the setting and the service, so that a mistake in it stops the server
    at start-up instead of failing every job.
    """
    raw: Mapping[str, Any] = settings.get('client_routing') or {}
    settings_class = getattr(client_class, 'settings_class', None)
    if settings_class is None:
        return raw
    routing: dict[str, Any] = {}
    for name, config in raw.items():
        try:
            routing[name] = settings_class(config)
        except settings_class.ImproperlyConfigured as error:
            raise settings_class.ImproperlyConfigured(f"Invalid setting 'client_routing': {name}: {error}") from error
    return routing
