"""Configuration from the environment (`PYSOA_REDIS_URL`, `PYSOA_SETTINGS`) and the start-up checks of settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples.echo_service.server import EchoServer
from pysoa.client import Client
from pysoa.common.transport.description import describe_transport
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.options import ClientTransportOptions, ServerTransportOptions
from pysoa.common.transport.redis_gateway.redis_url import (
    check_redis_url,
    describe_redis_address,
    transport_kwargs_from_url,
    with_environment_hosts,
)
from pysoa.schema.settings import Settings
from pysoa.server.command_line import ServerCommandLine, build_parser
from pysoa.server.settings_loader import load_server_settings
from pysoa.test.service_process import ServiceProcess
from tests.conftest import StartService
from tests.paths import PROJECT_ROOT

REDIS_TRANSPORT = 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'

# Redis URLs


@pytest.mark.parametrize(
    ('url', 'kwargs', 'address'),
    [
        (
            'redis://:secret@cache:6380/2',
            {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': ['redis://:secret@cache:6380/2']}},
            'Redis cache:6380 db 2, TLS off',
        ),
        (
            'rediss://user:secret@cache',
            {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': ['rediss://user:secret@cache']}},
            'Redis cache db 0, TLS on',
        ),
        (
            'unix:///run/redis.sock?db=3',
            {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': ['unix:///run/redis.sock?db=3']}},
            'Redis /run/redis.sock db 3, TLS off',
        ),
        (
            'redis+sentinel://:secret@s1:26380,s2/mymaster/4',
            {
                'backend_type': 'redis.sentinel',
                'backend_layer_kwargs': {
                    'hosts': [('s1', 26380), ('s2', 26379)],
                    'sentinel_services': ['mymaster'],
                    'connection_kwargs': {'password': 'secret', 'db': 4},
                },
            },
            'Redis Sentinel s1:26380, s2:26379 (master mymaster, db 4), TLS off',
        ),
        (
            'redis+sentinel://s1',
            {'backend_type': 'redis.sentinel', 'backend_layer_kwargs': {'hosts': [('s1', 26379)]}},
            'Redis Sentinel s1:26379 (every master, db 0), TLS off',
        ),
    ],
)
def test_redis_urls_become_transport_settings_and_a_password_free_address(
    url: str, kwargs: dict[str, object], address: str
) -> None:
    assert transport_kwargs_from_url(url) == kwargs
    assert describe_redis_address(kwargs['backend_type'], kwargs['backend_layer_kwargs']) == address  # type: ignore[arg-type]  # the parametrized dict holds these types


@pytest.mark.parametrize(
    ('url', 'problem'),
    [
        ('redis:/cache', 'must start with one of redis://, rediss://, unix://, redis+sentinel://'),
        ('http://cache', 'must start with one of'),
        ('redis://cache:63a9', 'Port could not be cast'),
        ('redis://cache/zero', "the database 'zero' is not a number"),
        ('unix://', 'no socket path'),
        ('redis+sentinel://s1:99999/m', "the port '99999' is not a number from 1 to 65535"),
        ('redis+sentinel://s1/m/0/extra', 'at most /service_name/db'),
        ('redis+sentinel://:pw@/m', 'no host'),
    ],
)
def test_unreadable_redis_urls_are_refused_naming_the_source(url: str, problem: str) -> None:
    with pytest.raises(ValueError) as error_info:
        check_redis_url(url, 'MY_SOURCE')
    assert str(error_info.value).startswith('MY_SOURCE: cannot read the Redis URL')
    assert problem in str(error_info.value)


def test_the_password_of_an_unreadable_url_is_not_repeated() -> None:
    with pytest.raises(ValueError) as error_info:
        check_redis_url('redis://:hunter2@cache:port/0')
    assert 'hunter2' not in str(error_info.value)
    assert "'redis://:***@cache:port/0'" in str(error_info.value)


# PYSOA_REDIS_URL


def test_environment_url_fills_hosts_when_the_settings_name_none() -> None:
    environ = {'PYSOA_REDIS_URL': 'redis://cache:6390/1'}
    assert with_environment_hosts('redis.standard', {}, environ) == (
        'redis.standard',
        {'hosts': ['redis://cache:6390/1']},
    )
    named = {'hosts': [('other', 6379)]}
    assert with_environment_hosts('redis.standard', named, environ) == ('redis.standard', named)
    assert with_environment_hosts('redis.standard', {}, {}) == ('redis.standard', {})


def test_environment_sentinel_url_makes_the_backend_sentinel_keeping_the_settings_connection_kwargs() -> None:
    environ = {'PYSOA_REDIS_URL': 'redis+sentinel://:pw@s1/master/2'}
    backend_type, layer = with_environment_hosts('redis.standard', {'connection_kwargs': {'db': 5}}, environ)
    assert backend_type == 'redis.sentinel'
    assert layer == {
        'hosts': [('s1', 26379)],
        'sentinel_services': ['master'],
        'connection_kwargs': {'password': 'pw', 'db': 5},
    }


def test_a_standard_environment_url_for_sentinel_settings_is_refused() -> None:
    with pytest.raises(ValueError, match='PYSOA_REDIS_URL: the settings name backend_type'):
        with_environment_hosts('redis.sentinel', {}, {'PYSOA_REDIS_URL': 'redis://cache'})


def test_transport_options_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PYSOA_REDIS_URL', 'redis://cache:6391/0')
    assert ClientTransportOptions().backend_layer_kwargs['hosts'] == ['redis://cache:6391/0']
    monkeypatch.setenv('PYSOA_REDIS_URL', 'redis://cache:port')
    with pytest.raises(ValueError, match='PYSOA_REDIS_URL: cannot read the Redis URL'):
        ServerTransportOptions()


def test_a_transport_is_described_by_its_address_never_its_password() -> None:
    transport = RedisClientTransport(
        'svc', None, backend_layer_kwargs={'hosts': [('cache', 6379)], 'connection_kwargs': {'password': 'pw'}}
    )
    assert describe_transport(transport) == 'Redis cache:6379 db 0, TLS off'
    assert describe_transport(object()) == 'transport object'


# start-up checks


@pytest.mark.parametrize('name', ['receive_timeout_in_seconds', 'message_expiry_in_seconds'])
@pytest.mark.parametrize('value', [0, -5])
def test_timeouts_of_zero_or_less_are_refused_naming_the_setting(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=f'{name} must be a positive number of seconds, not {value}'):
        ServerTransportOptions(**{name: value})  # type: ignore[arg-type]  # the names are fields of the options
    with pytest.raises(Settings.ImproperlyConfigured, match=f'kwargs.{name}: Value not > 0'):
        Client({'svc': {'transport': {'path': REDIS_TRANSPORT, 'kwargs': {name: value}}}})


def test_a_misspelled_url_in_hosts_is_refused_instead_of_retried_for_ever() -> None:
    with pytest.raises(ValueError, match=r"Redis `hosts` entry: cannot read the Redis URL 'redis:/cache'"):
        RedisClientTransport('svc', None, backend_layer_kwargs={'hosts': ['redis:/cache']})


def test_a_client_config_without_the_service_level_is_refused_with_a_suggestion() -> None:
    with pytest.raises(Settings.ImproperlyConfigured) as error_info:
        Client({'transport': {'path': REDIS_TRANSPORT, 'kwargs': {}}, 'middleware': []})
    assert "`transport` is a setting: did you mean {'<service>': {'transport': ..., 'middleware': ...}}?" in str(
        error_info.value
    )


def test_a_service_named_like_a_setting_is_still_allowed() -> None:
    Client({'transport': {'transport': {'path': REDIS_TRANSPORT}}})


# PYSOA_SETTINGS


def test_settings_module_from_the_environment_when_s_is_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PYSOA_SETTINGS', 'examples.echo_service.settings')
    parser = build_parser('test', runner=True, settings_required=True)
    assert ServerCommandLine.parse(parser, []).settings == 'examples.echo_service.settings'
    assert ServerCommandLine.parse(parser, ['-s', 'other.settings']).settings == 'other.settings'
    assert load_server_settings(EchoServer)['harakiri']['timeout'] > 0


def test_without_s_nor_pysoa_settings_the_settings_are_still_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('PYSOA_SETTINGS', raising=False)
    with pytest.raises(ValueError, match='No settings module given'):
        load_server_settings(EchoServer)


# real services


SETTINGS_WITHOUT_HOSTS = """
import os

SOA_SERVER_SETTINGS = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': {'receive_timeout_in_seconds': 1},
    },
    'heartbeat_file': os.environ.get('ECHO_HEARTBEAT_FILE'),
}
"""


def test_a_service_whose_settings_name_no_hosts_uses_pysoa_redis_url(
    start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / 'hostless_settings.py').write_text(SETTINGS_WITHOUT_HOSTS)
    log = tmp_path / 'service.log'
    start_service(workers=1, settings='hostless_settings', python_path=[str(tmp_path)], log_path=str(log))
    client = Client(
        {'echo': {'transport': {'path': REDIS_TRANSPORT, 'kwargs': {'backend_layer_kwargs': {'hosts': [redis_url]}}}}}
    )
    assert client.call_action('echo', 'square', {'number': 5}).body == {'square': 25}
    address = redis_url.removeprefix('redis://').removesuffix('/0')
    assert f'listening on Redis {address} db 0, TLS off.' in log.read_text()


class _WithoutSettingsOption(ServiceProcess):
    def command(self) -> list[str]:
        return [sys.executable, '-m', self.module]


def test_a_service_started_without_s_reads_pysoa_settings(redis_url: str, tmp_path: Path) -> None:
    service = _WithoutSettingsOption(
        'examples.echo_service',
        '',
        env={'PYSOA_REDIS_URL': redis_url, 'PYSOA_SETTINGS': 'examples.echo_service.settings'},
        python_path=[str(PROJECT_ROOT)],
        cwd=str(PROJECT_ROOT),
        heartbeat_dir=str(tmp_path),
        heartbeat_env='ECHO_HEARTBEAT_FILE',
    )
    try:
        service.start()
        service.wait_for_workers()
    finally:
        service.stop()
        service.cleanup()


def test_a_service_with_an_unreadable_redis_url_stops_at_start_up() -> None:
    environment = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYSOA_REDIS_URL='redis:/cache:6379')
    result = subprocess.run(
        [sys.executable, '-m', 'examples.echo_service', '-s', 'examples.echo_service.settings'],
        capture_output=True,
        text=True,
        env=environment,
        cwd=str(PROJECT_ROOT),
        timeout=60,
    )
    assert result.returncode != 0
    assert "Redis `hosts` entry: cannot read the Redis URL 'redis:/cache:6379'" in result.stderr
