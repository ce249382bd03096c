"""Pytest fixtures for testing a PySOA service in process (registered through the `pytest11` entry point).

A test module (or conftest) defines the `server_class` fixture, and optionally `server_settings`; then
`service_client` calls that service over the local transport, and `action_stubber` stubs actions for one test.

The pysoa client and server are imported inside the fixtures, not at module level: pytest loads this plugin in
every project where pysoa is installed, and that must stay cheap and must not fail for projects that never use it.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pysoa.client.client import Client
    from pysoa.common.settings import SettingsData
    from pysoa.server.server import Server
    from pysoa.test.stub_service import StubActionMock

__all__ = (
    'ActionStubber',
    'action_stubber',
    'server_class',
    'server_settings',
    'service_client',
    'service_client_class',
    'service_client_settings',
)

ActionStubber = Callable[..., 'StubActionMock']
"""The callable that `action_stubber` provides: it takes `stub_action`'s arguments and returns the stub's mock."""


@pytest.fixture(scope='module')
def server_class() -> 'type[Server]':
    """The `Server` subclass under test: define this fixture in your test module or conftest."""
    pytest.fail(
        'The pysoa fixtures need a `server_class` fixture returning your Server subclass; define it in your test '
        'module or in a conftest.py.',
        pytrace=False,
    )


@pytest.fixture(scope='module')
def server_settings(server_class: 'type[Server]') -> Mapping[str, object]:
    """The service's settings, from Django's `SOA_SERVER_SETTINGS` or the module named by `PYSOA_SETTINGS_MODULE`."""
    from pysoa.test.server import load_server_settings

    return load_server_settings(server_class)


@pytest.fixture(scope='module')
def service_client_settings(
    server_class: 'type[Server]',
    server_settings: Mapping[str, object],
) -> dict[str, 'SettingsData']:
    """The client configuration that reaches the service under test over the local transport."""
    from pysoa.test.server import local_client_config

    return local_client_config(server_class, server_settings)


@pytest.fixture(scope='module')
def service_client_class(server_class: 'type[Server]') -> 'type[Client]':
    """A `Client` subclass whose `call_action` defaults to the service under test: `call_action(action, body)`."""
    from pysoa.test.server import make_service_client_class

    return make_service_client_class(server_class)


@pytest.fixture(scope='module')
def service_client(
    server_class: 'type[Server]',
    service_client_class: 'type[Client]',
    service_client_settings: dict[str, 'SettingsData'],
) -> 'Client':
    """A client that calls the service under test in process, through its middleware and validation."""
    from pysoa.test.server import prepare_local_client

    client = service_client_class(service_client_settings)
    prepare_local_client(client, server_class)
    return client


@pytest.fixture
def action_stubber() -> Iterator[ActionStubber]:
    """Stub actions for the duration of one test: `action_stubber(service, action, body=None, errors=None, ...)`."""
    from pysoa.test.stub_service import stub_action

    active: list[stub_action] = []

    def stub(*args: Any, **kwargs: Any) -> 'StubActionMock':
        stubber = stub_action(*args, **kwargs)
        mock_action = stubber.start()
        active.append(stubber)
        return mock_action

    try:
        yield stub
    finally:
        for stubber in reversed(active):
            stubber.stop()
