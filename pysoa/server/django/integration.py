"""What `Server` asks of Django when `use_django = True`: its settings, and cleanup around each job.

Each function is a no-op (or an explicit error, for the settings) when Django is not installed or
not configured, so the server can call them unconditionally in Django mode.
"""

import logging
from typing import Any

from pysoa.server.django.database import django_close_old_database_connections, django_reset_database_queries

__all__ = (
    'after_request',
    'before_request',
    'close_caches',
    'close_old_connections',
    'django_is_configured',
    'get_django_server_settings',
    'reset_queries',
)

_logger = logging.getLogger(__name__)


def django_is_configured() -> bool:
    """True when Django is installed and its settings are configured."""
    try:
        from django.conf import settings
    except ImportError:
        return False
    return bool(settings.configured)


def get_django_server_settings() -> dict[str, Any]:
    """The `SOA_SERVER_SETTINGS` dict from the Django settings.

    Raises `ImportError` when Django is not installed and `ValueError` when the setting is missing.
    """
    try:
        from django.conf import settings
    except ImportError:
        raise ImportError(
            'Could not import Django. You must install Django if you enable Django support in your service.'
        )
    try:
        server_settings: dict[str, Any] = settings.SOA_SERVER_SETTINGS
    except AttributeError:
        raise ValueError('Cannot find `SOA_SERVER_SETTINGS` in the Django settings.')
    return server_settings


def close_old_connections() -> None:
    """Close unusable or expired database connections (before and after each job)."""
    django_close_old_database_connections()


def reset_queries() -> None:
    """Clear Django's debug query log (before each job)."""
    django_reset_database_queries()


def close_caches(shutdown: bool = False) -> None:
    """Call `close(for_shutdown=shutdown)` on each cache this process has used (after each job, and at shutdown)."""
    if not django_is_configured():
        return
    from django.core.cache import caches

    for cache in caches.all(initialized_only=True):
        try:
            cache.close(for_shutdown=shutdown)
        except Exception:
            # A cache that fails to close must not take the job's response (or the shutdown) down with it.
            _logger.exception('Error while closing Django cache %r', cache)


# What a Django server does around its jobs. `close_connections` is false in tests that share one database
# connection between the test and the server (see `pysoa.test.server`).


def before_request(close_connections: bool) -> None:
    """Before each job: clear the query log, then close unusable or expired database connections."""
    reset_queries()
    if close_connections:
        close_old_connections()


def after_request(close_connections: bool) -> None:
    """After each job: close unusable or expired database connections, then the caches used."""
    if close_connections:
        close_old_connections()
    close_caches()
