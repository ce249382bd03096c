"""The pytest plugin `pysoa_test_fixtures` (loaded through its entry point, as in users' projects)."""

from typing import Any

import pytest

from pysoa.client.client import Client
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.factories import ActionFactory
from pysoa.test.plugins.pytest.fixtures import ActionStubber

pytest_plugins = ('pytester',)

# The inner runs need neither the cache nor pytest-asyncio (which, unconfigured there, warns about its loop scope).
INNER_RUN_ARGS = ('-p', 'no:cacheprovider', '-p', 'no:asyncio')


class SixAction(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'value': 6}


class FixtureServer(Server):
    service_name = 'fixture_service'
    action_class_map = {'six': SixAction, 'one': ActionFactory(body={'value': 1})}


@pytest.fixture(scope='module')
def server_class() -> type[Server]:
    return FixtureServer


@pytest.fixture(scope='module')
def server_settings() -> dict[str, Any]:
    return {}


def test_service_client_calls_the_service_by_default(service_client: Client) -> None:
    assert service_client.call_action('six').body == {'value': 6}  # type: ignore[call-arg,arg-type]
    with pytest.raises(service_client.ImproperlyConfigured):
        service_client.call_action('six', service_name='other')  # type: ignore[call-arg,arg-type]


def test_service_client_settings(service_client_settings: dict[str, dict[str, Any]]) -> None:
    transport = service_client_settings['fixture_service']['transport']
    assert transport['path'] == 'pysoa.common.transport.local:LocalClientTransport'
    assert transport['kwargs']['server_class'] is FixtureServer


def test_action_stubber_with_body(service_client: Client, action_stubber: ActionStubber) -> None:
    stub = action_stubber('fixture_service', 'six', body={'value': 7})
    assert service_client.call_action('six').body == {'value': 7}  # type: ignore[call-arg,arg-type]
    stub.assert_called_once_with({})


def test_action_stubber_with_return_value_and_several_stubs(
    service_client: Client,
    action_stubber: ActionStubber,
) -> None:
    action_stubber('fixture_service', 'six').return_value = {'value': 8}
    action_stubber('fixture_service', 'one', errors=[{'code': 'NOPE', 'message': 'no'}])
    assert service_client.call_action('six').body == {'value': 8}  # type: ignore[call-arg,arg-type]
    with pytest.raises(service_client.CallActionError):
        service_client.call_action('one')  # type: ignore[call-arg,arg-type]


def test_action_stubber_side_effect(service_client: Client, action_stubber: ActionStubber) -> None:
    action_stubber('fixture_service', 'six', side_effect=lambda body: {'doubled': body['n'] * 2})
    assert service_client.call_action('six', {'n': 4}).body == {'doubled': 8}  # type: ignore[call-arg]


# --- the plugin seen from a user's project ---

USER_TEST = """
import pytest
from pysoa.server.server import Server
from pysoa.test.factories import ActionFactory

class UserServer(Server):
    service_name = 'user'
    action_class_map = {'get': ActionFactory(body={'real': True})}

@pytest.fixture(scope='module')
def server_class():
    return UserServer

def test_stubbed(service_client, action_stubber):
    action_stubber('user', 'get', body={'stubbed': True})
    assert service_client.call_action('get').body == {'stubbed': True}

def test_stub_gone_after_the_test(service_client):
    assert service_client.call_action('get').body == {'real': True}
"""


def test_plugin_is_registered_and_reads_pysoa_settings_module(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makepyfile(user_settings='SOA_SERVER_SETTINGS = {}', test_user=USER_TEST)
    monkeypatch.setenv('PYSOA_SETTINGS_MODULE', 'user_settings')
    monkeypatch.syspath_prepend(pytester.path)
    result = pytester.runpytest_inprocess(*INNER_RUN_ARGS)
    result.assert_outcomes(passed=2)


def test_missing_server_class_is_explained(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user='def test_it(service_client):\n    pass\n')
    result = pytester.runpytest_inprocess(*INNER_RUN_ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(['*need a `server_class` fixture*'])


def test_missing_settings_are_explained(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('PYSOA_SETTINGS_MODULE', raising=False)
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest_inprocess(*INNER_RUN_ARGS)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(['*PYSOA_SETTINGS_MODULE*'])
