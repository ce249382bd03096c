"""Settings mistakes found by QA are refused at start-up, naming the setting, and transport errors are logged usefully.

Covers: `client_routing` validated when the server is built and in the runner's pre-fork check; `protocol_version`
restricted to the versions that exist; an unknown redis-py keyword in `connection_kwargs` refused when the transport
is built; `backend_type` defaulting to `redis.standard`; the request loop's transient-error line naming the error.
"""

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.settings import ClientSettings
from pysoa.common.metrics import MetricsRecorder, noop_metrics
from pysoa.common.transport.errors import MessageReceiveError
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.standalone import _check_settings_before_forking


def _noop_metrics() -> MetricsRecorder:
    return noop_metrics


LOCAL_SERVER = 'pysoa.common.transport.local:LocalServerTransport'
REDIS_CLIENT = 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'
UNUSED_URL = 'redis://127.0.0.1:1/0'  # nothing listens there, and nothing here connects


class RoutingServer(Server):
    """A server with no actions: only its construction matters here."""

    service_name = 'routing_check'
    action_class_map: dict[str, Any] = {}


def _server_settings(client_routing: dict[str, Any]) -> dict[str, Any]:
    return {'transport': {'path': LOCAL_SERVER}, 'client_routing': client_routing}


def test_a_misspelled_client_routing_key_stops_the_server_at_construction() -> None:
    with pytest.raises(ServerSettings.ImproperlyConfigured) as caught:
        RoutingServer(ServerSettings(_server_settings({'user': {'transprot': {}}})))
    message = str(caught.value)
    assert "Invalid setting 'client_routing'" in message
    assert 'user' in message
    assert 'transprot' in message


def test_valid_client_routing_is_validated_once_and_used_by_every_client() -> None:
    kwargs = {'backend_layer_kwargs': {'hosts': [UNUSED_URL]}}
    routing = {'user': {'transport': {'path': REDIS_CLIENT, 'kwargs': kwargs}}}
    validated = RoutingServer.validate_client_routing(ServerSettings(_server_settings(routing)))
    assert isinstance(validated['user'], ClientSettings)
    server = RoutingServer(ServerSettings(_server_settings(routing)))
    assert server._validated_client_routing() is server._validated_client_routing()
    assert isinstance(server.make_client({}), Client)


def test_the_pre_fork_check_stops_on_a_client_routing_mistake(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / 'qa_bad_routing_settings.py').write_text(
        f'SOA_SERVER_SETTINGS = {_server_settings({"user": {"transprot": {}}})!r}\n',
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, 'argv', ['svc', '-s', 'qa_bad_routing_settings', '--fork', '2'])
    with pytest.raises(SystemExit) as exited:
        _check_settings_before_forking(RoutingServer)
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert 'routing_check' in error
    assert "'client_routing'" in error
    assert 'transprot' in error


def test_the_pre_fork_check_passes_good_client_routing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'qa_good_routing_settings.py').write_text(
        f'SOA_SERVER_SETTINGS = {_server_settings({"user": {"transport": {"path": REDIS_CLIENT}}})!r}\n',
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, 'argv', ['svc', '-s', 'qa_good_routing_settings'])
    _check_settings_before_forking(RoutingServer)  # returns: nothing to report


@pytest.mark.parametrize('version', [7, 0, '3', None])
def test_an_invalid_protocol_version_is_refused_by_the_settings_naming_the_valid_ones(version: Any) -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured) as caught:
        ClientSettings({'transport': {'path': REDIS_CLIENT, 'kwargs': {'protocol_version': version}}})
    assert 'kwargs.protocol_version: Value is not one of: 1, 2, 3' in str(caught.value)


@pytest.mark.parametrize('version', [1, 2, 3, ProtocolVersion.VERSION_1, ProtocolVersion.VERSION_3])
def test_valid_protocol_versions_are_accepted(version: Any) -> None:
    settings = ClientSettings({'transport': {'path': REDIS_CLIENT, 'kwargs': {'protocol_version': version}}})
    transport = settings['transport']['object']('svc', _noop_metrics(), **settings['transport']['kwargs'])
    assert transport.core.protocol_version == ProtocolVersion(version)


def test_an_invalid_protocol_version_given_directly_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r'protocol_version must be one of 1, 2, 3, got 7'):
        RedisClientTransport('svc', _noop_metrics(), protocol_version=7)


@pytest.mark.parametrize('host', [UNUSED_URL, ('127.0.0.1', 1), '127.0.0.1'])
def test_an_unknown_connection_kwargs_key_is_refused_when_the_transport_is_built(host: Any) -> None:
    kwargs = {'backend_layer_kwargs': {'hosts': [host], 'connection_kwargs': {'pasword': 'x'}}}
    with pytest.raises(ValueError, match="Invalid connection_kwargs.*'pasword'"):
        RedisClientTransport('svc', _noop_metrics(), **kwargs)
    with pytest.raises(ValueError, match="Invalid connection_kwargs.*'pasword'"):
        RedisServerTransport('svc', _noop_metrics(), **kwargs)


def test_a_client_call_with_an_unknown_connection_kwargs_key_fails_with_value_error_not_a_transient_one() -> None:
    client = Client(
        {
            'shop': {
                'transport': {
                    'path': REDIS_CLIENT,
                    'kwargs': {'backend_layer_kwargs': {'hosts': [UNUSED_URL], 'connection_kwargs': {'pasword': 'x'}}},
                },
            },
        }
    )
    with pytest.raises(ValueError, match="'pasword'"):
        client.call_action('shop', 'status', timeout=1)


def test_valid_connection_kwargs_build_without_connecting() -> None:
    kwargs = {'backend_layer_kwargs': {'hosts': [UNUSED_URL], 'connection_kwargs': {'password': 'x', 'db': 2}}}
    RedisClientTransport('svc', _noop_metrics(), **kwargs)  # port 1 is never contacted


def test_backend_type_defaults_to_the_standard_backend() -> None:
    settings = ServerSettings({})
    assert 'backend_type' not in settings['transport'].get('kwargs', {})
    client_settings = ClientSettings({'transport': {'path': REDIS_CLIENT, 'kwargs': {}}})
    transport = client_settings['transport']['object']('svc', _noop_metrics(), **client_settings['transport']['kwargs'])
    assert transport.core.backend_type == 'redis.standard'
    server_transport = RedisServerTransport('svc', _noop_metrics(), backend_layer_kwargs={'hosts': [UNUSED_URL]})
    assert server_transport.core.backend_type == 'redis.standard'


def test_an_unknown_backend_type_is_still_refused() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match='kwargs.backend_type'):
        ClientSettings({'transport': {'path': REDIS_CLIENT, 'kwargs': {'backend_type': 'redis.standrad'}}})


class _NoAlarm:
    def arm(self) -> None:
        """Nothing to arm: these loops end by themselves."""


def test_the_transient_error_log_line_names_the_error(caplog: pytest.LogCaptureFixture) -> None:
    server = RoutingServer(ServerSettings(_server_settings({})))
    failures = iter([MessageReceiveError('Error 111 connecting to 127.0.0.1:44659. Connection refused.')])

    def handle_next_request() -> None:
        error = next(failures, None)
        server.shutting_down = True  # one pass of the loop is enough
        if error is not None:
            raise error

    server.handle_next_request = handle_next_request  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger='pysoa.server'):
        server._loop(_NoAlarm())  # type: ignore[arg-type]
    lines = [record.getMessage() for record in caplog.records if 'Transient error' in record.getMessage()]
    assert len(lines) == 1
    assert 'MessageReceiveError: Error 111 connecting to 127.0.0.1:44659. Connection refused.' in lines[0]


def test_a_redis_double_without_a_connection_pool_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    from pysoa.common.transport.redis_gateway.backend import standard

    class PoollessRedis:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    monkeypatch.setattr(standard.redis, 'Redis', PoollessRedis)
    connection = standard.StandardRedisClient._connect(('127.0.0.1', 1), {'password': 'x'})
    assert isinstance(connection, PoollessRedis)
    assert connection.kwargs == {'host': '127.0.0.1', 'port': 1, 'password': 'x'}
