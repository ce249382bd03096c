"""Bad client configuration and bad call arguments give errors that name the culprit and what was expected."""

import asyncio
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.errors import ImproperlyConfigured
from pysoa.client.settings import ClientSettings
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.types import ActionRequest
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.server import Server
from pysoa.test.mock_transport import mock_transport_settings

LOCAL = 'pysoa.common.transport.local:LocalClientTransport'


class EchoAction(Action):
    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: Any) -> dict[str, Any]:
        return {'body': dict(request.body), 'switches': sorted(request.switches)}


class EchoServer(Server):
    service_name = 'echo'
    action_class_map = {'echo': EchoAction}


def _local() -> dict[str, Any]:
    return {'transport': {'path': LOCAL, 'kwargs': {'server_class': EchoServer, 'server_settings': {}}}}


@pytest.fixture
def client() -> Client:
    return Client({'echo': _local(), 'shop': _local()})


# Configuration


def test_a_service_config_that_is_not_a_dict_names_the_service() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match=r'service `shop` must be a dict .*not str'):
        Client({'shop': 'redis://localhost'})  # type: ignore[dict-item]


def test_a_config_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match=r'mapping service names .*not list'):
        Client(['shop'])  # type: ignore[arg-type]


def test_a_config_keyed_by_something_else_than_service_names_is_refused() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match=r'service names \(str\), not int 1'):
        Client({1: _local()})  # type: ignore[dict-item]


def test_no_config_still_makes_a_client_that_names_no_service() -> None:
    client = Client({})
    with pytest.raises(ImproperlyConfigured, match=r'Unrecognized service name "shop" \(configured services: none\)'):
        client.call_action('shop', 'echo')
    assert Client(None).settings == {}  # type: ignore[arg-type]


def test_settings_objects_are_still_accepted_as_they_are() -> None:
    settings = ClientSettings(_local())
    assert Client({'echo': settings}).call_action('echo', 'echo', body={'a': 1}).body['body'] == {'a': 1}


def test_an_unknown_service_error_lists_the_configured_services(client: Client) -> None:
    with pytest.raises(ImproperlyConfigured, match=r'"nobody" \(configured services: "echo", "shop"\)'):
        client.call_action('nobody', 'echo')
    with pytest.raises(ImproperlyConfigured, match='configured services: "echo", "shop"'):
        asyncio.run(client.call_action_async('nobody', 'echo'))


# Call arguments


@pytest.mark.parametrize(
    'call',
    [
        lambda c: c.call_action('echo', 'echo', timeout='3'),
        lambda c: c.call_actions('echo', [{'action': 'echo'}], timeout='3'),
        lambda c: c.call_action_future('echo', 'echo', timeout='3'),
        lambda c: c.call_actions_parallel('echo', [{'action': 'echo'}], timeout='3'),
        lambda c: c.call_jobs_parallel([{'service_name': 'echo', 'actions': [{'action': 'echo'}]}], timeout='3'),
    ],
)
def test_a_timeout_that_is_not_a_number_is_a_type_error(client: Client, call: Any) -> None:
    with pytest.raises(TypeError, match=r"timeout must be a number of seconds .*not str '3'"):
        call(client)


def test_send_request_names_its_own_expiry_argument(client: Client) -> None:
    with pytest.raises(TypeError, match='message_expiry_in_seconds must be a number'):
        client.send_request('echo', [{'action': 'echo'}], message_expiry_in_seconds='3')  # type: ignore[arg-type]


def test_numeric_timeouts_still_work(client: Client) -> None:
    assert client.call_action('echo', 'echo', timeout=3).action == 'echo'
    assert client.call_action('echo', 'echo', timeout=2.5).action == 'echo'


def test_a_context_that_is_not_a_dict_is_a_type_error(client: Client) -> None:
    with pytest.raises(TypeError, match=r"context must be a dict or None, not str 'x'"):
        client.call_action('echo', 'echo', context='x')  # type: ignore[arg-type]


def test_control_extra_that_is_not_a_dict_is_a_type_error(client: Client) -> None:
    with pytest.raises(TypeError, match='control_extra must be a dict'):
        client.call_action('echo', 'echo', control_extra=['x'])  # type: ignore[arg-type]


@pytest.mark.parametrize('switches', ['x', b'x', 5, {'a': 1}])
def test_switches_that_are_not_a_collection_of_ints_are_a_type_error(client: Client, switches: Any) -> None:
    with pytest.raises(TypeError, match='switches must be a list'):
        client.call_action('echo', 'echo', switches=switches)


def test_switches_in_the_context_that_are_not_a_collection_are_named(client: Client) -> None:
    with pytest.raises(TypeError, match=r"context\['switches'\] must be a list"):
        client.call_action('echo', 'echo', context={'switches': 5})


def test_switches_still_merge(client: Client) -> None:
    response = client.call_action('echo', 'echo', switches={3, 1}, context={'switches': (2,)})
    assert response.body['switches'] == [1, 2, 3]


@pytest.mark.parametrize('body', ['x', ['a'], 5])
def test_a_body_that_is_not_a_dict_is_a_type_error(client: Client, body: Any) -> None:
    with pytest.raises(TypeError, match='body must be a dict or None'):
        client.call_action('echo', 'echo', body=body)
    with pytest.raises(TypeError, match='body must be a dict or None'):
        client.call_action_future('echo', 'echo', body=body)


def test_actions_given_as_one_dict_instead_of_a_list_is_a_type_error(client: Client) -> None:
    with pytest.raises(TypeError, match='actions must be a list of ActionRequest objects or dicts .*not dict'):
        client.call_actions('echo', {'action': 'echo'})  # type: ignore[arg-type]


def test_an_action_without_action_key_is_a_value_error(client: Client) -> None:
    with pytest.raises(ValueError, match=r"actions\[1\] has no `action` key: \{'body': \{\}\}"):
        client.call_actions('echo', [{'action': 'echo'}, {'body': {}}])


def test_an_action_item_of_the_wrong_type_is_a_type_error(client: Client) -> None:
    with pytest.raises(TypeError, match=r"actions\[0\] must be an ActionRequest or a dict .*not str 'echo'"):
        client.call_actions('echo', ['echo'])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r'actions\[0\] must be an ActionRequest'):
        client.call_actions_parallel('echo', ['echo'])  # type: ignore[list-item]


def test_an_action_with_an_unknown_key_is_a_value_error(client: Client) -> None:
    with pytest.raises(ValueError, match=r'actions\[0\] has unknown key\(s\) bdy'):
        client.call_actions('echo', [{'action': 'echo', 'bdy': {}}])


def test_well_formed_actions_still_work(client: Client) -> None:
    response = client.call_actions('echo', [ActionRequest(action='echo', body={'a': 1}), {'action': 'echo'}])
    assert [a.body['body'] for a in response.actions] == [{'a': 1}, {}]
    responses = list(client.call_actions_parallel('echo', ({'action': 'echo', 'body': {'n': n}} for n in range(3))))
    assert [r.body['body'] for r in responses] == [{'n': 0}, {'n': 1}, {'n': 2}]


def test_a_job_without_service_name_is_a_value_error(client: Client) -> None:
    with pytest.raises(ValueError, match=r"jobs\[1\] has no `service_name` key; .*got \{'service': 'echo'"):
        client.call_jobs_parallel(
            [
                {'service_name': 'echo', 'actions': [{'action': 'echo'}]},
                {'service': 'echo', 'actions': [{'action': 'echo'}]},
            ],
        )


def test_a_job_that_is_not_a_dict_is_a_type_error(client: Client) -> None:
    with pytest.raises(TypeError, match=r'jobs\[0\] must be a dict with `service_name` and `actions` keys, not str'):
        client.call_jobs_parallel(['echo'])  # type: ignore[list-item]


# The receive timeout message


def _silent_client() -> Client:
    """Its requests are never answered, so every receive times out, as over Redis when the service is down."""
    return Client({'quiet': mock_transport_settings(lambda request: None, receive_timeout_in_seconds=4)})


def test_a_receive_timeout_says_how_long_it_waited() -> None:
    with pytest.raises(MessageReceiveTimeout, match=r'^No message received for service quiet \(waited 2 seconds'):
        _silent_client().call_action('quiet', 'echo', timeout=2)


def test_a_receive_timeout_without_a_call_timeout_names_the_transport_default() -> None:
    with pytest.raises(MessageReceiveTimeout, match=r'\(waited 4 seconds; is the service running\?\)$'):
        _silent_client().call_action('quiet', 'echo')


def test_a_receive_timeout_of_a_future_names_the_result_timeout() -> None:
    future = _silent_client().call_action_future('quiet', 'echo', timeout=2)
    with pytest.raises(MessageReceiveTimeout, match=r'waited 0.5 seconds'):
        future.result(0.5)  # type: ignore[arg-type]
