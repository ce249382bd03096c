"""The `tracing` setting: one key on each side turns tracing on; without OpenTelemetry it fails at start-up, naming
the extra to install, and pysoa runs as before as long as tracing stays off."""

import subprocess
import sys
import textwrap

import pytest

from pysoa.client.settings import ClientSettings
from pysoa.common.tracing import CLIENT_TRACING_MIDDLEWARE_PATH, SERVER_TRACING_MIDDLEWARE_PATH
from pysoa.server.settings import ServerSettings
from tests.paths import PROJECT_ROOT

# Each settings class, its tracing middleware and another middleware of its side.
SETTINGS_CLASSES = [
    pytest.param(
        ClientSettings, CLIENT_TRACING_MIDDLEWARE_PATH, 'pysoa.client.middleware:ClientMiddleware', id='client'
    ),
    pytest.param(ServerSettings, SERVER_TRACING_MIDDLEWARE_PATH, 'pysoa.server.sentry:SentryMiddleware', id='server'),
]


def _paths(settings: ClientSettings | ServerSettings) -> list[str]:
    return [entry['path'] for entry in settings['middleware']]


@pytest.mark.parametrize(('settings_class', 'path', 'other'), SETTINGS_CLASSES)
def test_tracing_is_off_by_default(
    settings_class: type[ClientSettings | ServerSettings], path: str, other: str
) -> None:
    settings = settings_class({})
    assert settings['tracing'] is False
    assert path not in _paths(settings)


@pytest.mark.parametrize(('settings_class', 'path', 'other'), SETTINGS_CLASSES)
def test_tracing_puts_the_tracing_middleware_first(
    settings_class: type[ClientSettings | ServerSettings], path: str, other: str
) -> None:
    settings = settings_class({'tracing': True, 'middleware': [{'path': other}]})
    assert _paths(settings) == [path, other]
    assert settings['middleware'][0]['object'].__name__.startswith('Tracing')


@pytest.mark.parametrize(('settings_class', 'path', 'other'), SETTINGS_CLASSES)
def test_tracing_middleware_listed_by_hand_is_not_added_twice(
    settings_class: type[ClientSettings | ServerSettings], path: str, other: str
) -> None:
    settings = settings_class({'tracing': True, 'middleware': [{'path': other}, {'path': path}]})
    assert _paths(settings) == [other, path]


@pytest.mark.parametrize('settings_class', [ClientSettings, ServerSettings])
def test_tracing_must_be_a_boolean(settings_class: type[ClientSettings | ServerSettings]) -> None:
    with pytest.raises(settings_class.ImproperlyConfigured, match='tracing'):
        settings_class({'tracing': 'yes'})


def test_server_tracing_turns_tracing_on_in_the_client_routing_unless_an_entry_says_otherwise() -> None:
    settings = ServerSettings({'tracing': True, 'client_routing': {'plain': {}, 'opted_out': {'tracing': False}}})
    assert settings['client_routing'] == {'plain': {'tracing': True}, 'opted_out': {'tracing': False}}

    untraced = ServerSettings({'client_routing': {'plain': {}}})
    assert untraced['client_routing'] == {'plain': {}}


@pytest.mark.parametrize('settings_class', [ClientSettings, ServerSettings])
def test_tracing_without_opentelemetry_fails_naming_the_extra(
    settings_class: type[ClientSettings | ServerSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, 'opentelemetry.trace', None)  # what a missing package looks like to `import`
    with pytest.raises(settings_class.ImproperlyConfigured, match=r'tracing.*pysoa\[otel\]'):
        settings_class({'tracing': True})
    settings_class({'tracing': False})  # and without tracing, nothing needs it


WITHOUT_OPENTELEMETRY = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoOpenTelemetry(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == 'opentelemetry' or name.startswith('opentelemetry.'):
                raise ImportError(f'No module named {name!r} (hidden by the test)')
            return None

    sys.meta_path.insert(0, NoOpenTelemetry())

    import pysoa, pysoa.client, pysoa.server, pysoa.client.settings, pysoa.server.settings, pysoa.common.tracing
    from pysoa.client.client import Client
    from pysoa.client.settings import ClientSettings
    from tests.tracing_service.server import relay_server

    transport = {'path': 'pysoa.common.transport.local:LocalClientTransport',
                 'kwargs': {'server_class': relay_server('c'), 'server_settings': {}}}
    assert Client({'c': {'transport': transport}}).call_action('c', 'relay', {'path': []}).body == {'visited': ['c']}
    assert not [name for name in sys.modules if name.startswith('opentelemetry')]
    try:
        Client({'c': {'transport': transport, 'tracing': True}})
    except ClientSettings.ImproperlyConfigured as error:
        print(error)
    """
)


def test_pysoa_runs_without_opentelemetry_and_tracing_then_fails_at_start_up() -> None:
    done = subprocess.run(
        [sys.executable, '-c', WITHOUT_OPENTELEMETRY],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "The setting 'tracing' needs OpenTelemetry" in done.stdout
    assert "pip install 'pysoa[otel]'" in done.stdout
