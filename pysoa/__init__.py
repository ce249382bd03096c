"""pysoa: RPC between Python services over Redis, the maintained successor of PySOA 1.x.

The main entry points are importable from here: `Client`, `Server` and `Action`. They load on first
access, so `import pysoa` stays cheap and free of import cycles.
"""

from typing import TYPE_CHECKING, Any

from pysoa.version import __version__, __version_info__

if TYPE_CHECKING:
    from pysoa.client.client import Client
    from pysoa.server.action.base import Action
    from pysoa.server.server import Server

__all__ = (
    'Action',
    'Client',
    'Server',
    '__version__',
    '__version_info__',
)

_LAZY = {
    'Action': 'pysoa.server.action.base',
    'Client': 'pysoa.client.client',
    'Server': 'pysoa.server.server',
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
