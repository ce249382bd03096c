"""Loading a service's settings: from its settings module, or from Django, validated by the server's settings class.

`load_server_settings` is what the command line runs once per service start (`-s my_service.settings`), and what
any other tool that needs a service's settings (a `pysoa` command, a health check) should call.
"""

import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING

from pysoa.server.settings import ServerSettings

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('SETTINGS_ENVIRONMENT_VARIABLE', 'import_settings_module', 'load_server_settings', 'settings_module_name')

SETTINGS_ENVIRONMENT_VARIABLE = 'PYSOA_SETTINGS'
"""The environment variable naming the settings module when `-s` names none."""

SETTINGS_NAMES = ('SOA_SERVER_SETTINGS', 'settings')
"""The names a settings module may give its settings dict, looked up in this order."""


def import_settings_module(name: str, kind: str = 'settings module') -> ModuleType:
    """Import the module `name`; `ValueError` naming it (as a `kind`) when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ValueError(f'Cannot import {kind} `{name}`: {error}') from error


def settings_module_name(given: str | None) -> str | None:
    """The settings module to load: `given` (the `-s` option), else `PYSOA_SETTINGS`, else None."""
    return given or os.environ.get(SETTINGS_ENVIRONMENT_VARIABLE) or None


def load_server_settings(server_class: 'type[Server]', settings_module: str | None = None) -> ServerSettings:
    """The validated settings of `server_class`: an instance of its `settings_class`.

    When `server_class.use_django` is set, the settings are Django's `SOA_SERVER_SETTINGS` (Django must be
    configured) and `settings_module` is not used. Otherwise `settings_module` names the module whose
    `SOA_SERVER_SETTINGS` (or else `settings`) dict holds them.

    Raises `ValueError` when the module cannot be imported or holds no settings (or none is named), `ImportError`
    when Django is needed but not installed, and `settings_class.ImproperlyConfigured` when the settings are
    invalid (the message names every wrong key).
    """
    if server_class.use_django:
        from pysoa.server.django.integration import get_django_server_settings

        return server_class.settings_class(get_django_server_settings())

    settings_module = settings_module_name(settings_module)
    if not settings_module:
        raise ValueError(f'No settings module given for the {server_class.service_name} service')
    module = import_settings_module(settings_module)
    for name in SETTINGS_NAMES:
        settings = getattr(module, name, None)
        if settings is not None:
            return server_class.settings_class(settings)
    raise ValueError(
        f'Cannot find `SOA_SERVER_SETTINGS` or `settings` variable in settings module `{settings_module}`.',
    )
