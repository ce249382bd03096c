"""The server side of pysoa: `Server`, its settings, middleware, errors and actions.

`Server` is loaded on first access, so that importing a submodule such as `pysoa.server.errors`
does not pull in the whole server (and the client it builds).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('Server',)


def __getattr__(name: str) -> object:
    if name == 'Server':
        from pysoa.server.server import Server

        return Server
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
