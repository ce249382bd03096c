"""factory_boy factories for servers and their settings, and `ActionFactory` for throwaway actions."""

import importlib
from typing import Any

from factory.base import Factory
from factory.declarations import Dict, SubFactory

from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest

__all__ = ('ActionFactory', 'ServerFactory', 'ServerSettingsFactory')

LOCAL_SERVER_TRANSPORT_PATH = 'pysoa.common.transport.local:LocalServerTransport'


class ServerSettingsFactory(Factory[ServerSettings]):
    """Builds `ServerSettings` from a dict, always with the local server transport."""

    class Meta:
        model = ServerSettings

    data = Dict({'transport': {'path': LOCAL_SERVER_TRANSPORT_PATH}})  # type: ignore[no-untyped-call]  # untyped

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        # Whatever transport the given settings name, a factory-made server must not reach for Redis.
        kwargs['data'] = dict(kwargs['data'], transport={'path': LOCAL_SERVER_TRANSPORT_PATH})
        return kwargs

    @classmethod
    def from_module(cls, module_path: str) -> ServerSettings:
        """Build settings from the `settings` dict of the module at `module_path`."""
        # factory_boy takes keyword arguments only (1.x passed the dict positionally, which always failed).
        return cls.build(data=importlib.import_module(module_path).settings)


class ServerFactory(Factory[Server]):
    """Builds a `Server` with factory-made settings."""

    class Meta:
        model = Server

    settings = SubFactory(ServerSettingsFactory)  # type: ignore[no-untyped-call]  # untyped in factory_boy


def ActionFactory(body: dict[str, Any] | None = None, exception: BaseException | None = None) -> type[Action]:
    """Make an action class that raises `exception` if given, else answers with `body` (default `{}`)."""

    class FactoryAction(Action):
        """An action made by `ActionFactory`."""

        def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
            if exception is not None:
                raise exception
            return dict(body or {})

    return FactoryAction
