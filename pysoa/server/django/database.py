"""Per-job database hygiene for Django services: drop broken or expired connections, clear the query log.

Both functions do nothing when Django is not installed or not configured, or has no `DATABASES`.
"""

import logging

__all__ = ('django_close_old_database_connections', 'django_reset_database_queries')

_logger = logging.getLogger(__name__)


def _databases_configured() -> bool:
    try:
        from django.conf import settings
    except ImportError:
        return False
    return bool(settings.configured and getattr(settings, 'DATABASES', None))


def django_close_old_database_connections() -> None:
    """Close the connections that are unusable or past `CONN_MAX_AGE`, like Django does around each web request.

    Only connections this process has opened are looked at, and a connection inside a transaction
    (autocommit off, e.g. a test wrapped in `atomic`) is left alone.
    """
    if not _databases_configured():
        return
    from django.db import DatabaseError, connections

    _logger.debug('Cleaning Django connections')
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue  # never connected or already closed: nothing to check, and checking would connect
        try:
            if connection.get_autocommit():
                connection.close_if_unusable_or_obsolete()
        except DatabaseError:
            # A connection that breaks while being checked (server gone, timed out) is dropped by Django on
            # its next use; it is no reason to disturb the server.
            _logger.debug('Ignoring an error while checking a Django connection', exc_info=True)


def django_reset_database_queries() -> None:
    """Empty the query log Django keeps when `DEBUG` is on, so that it does not grow job after job."""
    if not _databases_configured():
        return
    from django.db import reset_queries

    _logger.debug('Resetting Django query log')
    reset_queries()
