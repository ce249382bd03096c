"""Django cache backends whose `close()` suits a PySOA server, which closes caches after every job.

Django closes caches after each web request; a server does the same after each job and, with
`for_shutdown=True`, once when it stops. These backends choose what that close means.
"""

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import PyLibMCCache, PyMemcacheCache

__all__ = (
    'PySOAMemcachedCache',
    'PySOAProcessScopedMemoryCache',
    'PySOAPyLibMCCache',
    'PySOARequestScopedMemoryCache',
)


class PySOARequestScopedMemoryCache(LocMemCache):  # type: ignore[misc]  # Django has no type hints: its base class is Any
    """An in-memory cache emptied at the end of every job: a cache scoped to one request."""

    def close(self, **kwargs: object) -> None:
        """Forget everything: the job is over."""
        self.clear()


class PySOAProcessScopedMemoryCache(LocMemCache):  # type: ignore[misc]  # Django has no type hints: its base class is Any
    """An in-memory cache that lives as long as the server process: closing it keeps its content."""

    def close(self, **kwargs: object) -> None:
        """Keep everything: the cache outlives jobs."""


class PySOAMemcachedCache(PyMemcacheCache):  # type: ignore[misc]  # Django has no type hints: its base class is Any
    """Memcached through `pymemcache`, keeping its connections open between jobs (closed only at shutdown).

    Upstream based this on Django's `MemcachedCache` (python-memcached), which Django 4.1 removed.
    """

    def close(self, for_shutdown: bool = False, **kwargs: object) -> None:
        """Close the connections only when the server shuts down."""
        if for_shutdown:
            super().close(**kwargs)


class PySOAPyLibMCCache(PyLibMCCache):  # type: ignore[misc]  # Django has no type hints: its base class is Any
    """Memcached through `pylibmc`, keeping its connections open between jobs (closed only at shutdown)."""

    def close(self, for_shutdown: bool = False, **kwargs: object) -> None:
        """Close the connections only when the server shuts down."""
        if for_shutdown:
            super().close(**kwargs)
