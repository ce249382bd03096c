"""The `pysoa` command, run in process (click's CliRunner) against the echo service over the test's private Redis."""

import json
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pysoa.cli import pysoa_command
from pysoa.cli.errors import EXIT_ERRORS, EXIT_OK, EXIT_TRANSPORT, EXIT_USAGE
from tests.conftest import StartService


def run(arguments: Sequence[str], redis_url: str | None = None, **env: str) -> Result:
    environment = {'PYSOA_REDIS_URL': redis_url or ''} | env
    return CliRunner().invoke(pysoa_command, list(arguments), env=environment)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def echo(start_service: StartService) -> None:
    start_service(workers=1)


# call


@pytest.mark.usefixtures('echo')
def test_call_prints_the_response_body(redis_url: str) -> None:
    result = run(['call', 'echo', 'square', '{"number": 7}'], redis_url)
    assert result.exit_code == EXIT_OK, result.stderr
    assert json.loads(result.stdout) == {'square': 49}


@pytest.mark.usefixtures('echo')
def test_call_takes_redis_from_the_option_before_the_environment(redis_url: str) -> None:
    unreachable = f'redis://127.0.0.1:{free_port()}/0'
    result = run(['--redis', redis_url, 'call', 'echo', 'echo', '{"message": "hi"}'], unreachable)
    assert result.exit_code == EXIT_OK, result.stderr
    assert json.loads(result.stdout) == {'message': 'hi'}


@pytest.mark.usefixtures('echo')
def test_call_with_json_prints_body_and_errors(redis_url: str) -> None:
    result = run(['call', 'echo', 'square', '{"number": 3}', '--json'], redis_url)
    assert result.exit_code == EXIT_OK
    assert json.loads(result.stdout) == {'action': 'square', 'body': {'square': 9}, 'errors': [], 'job_errors': False}

    result = run(['call', 'echo', 'divide', '{"dividend": 1, "divisor": 0}', '--json'], redis_url)
    assert result.exit_code == EXIT_ERRORS
    [error] = json.loads(result.stdout)['errors']
    assert error['field'] == 'divisor'
    assert error['is_caller_error'] is True


@pytest.mark.usefixtures('echo')
def test_call_errors_print_their_codes_and_fields_and_exit_1(redis_url: str) -> None:
    result = run(['call', 'echo', 'square', '{"numbr": 7}'], redis_url)
    assert result.exit_code == EXIT_ERRORS
    assert result.stdout == ''
    assert 'Error MISSING (number): Missing key: number' in result.stderr
    assert 'Traceback' not in result.output


@pytest.mark.usefixtures('echo')
def test_call_passes_switches_and_context(redis_url: str) -> None:
    result = run(
        ['call', 'echo', 'whoami', '--switch', '3', '--switch', '5', '--context', '{"caller": "cli"}'], redis_url
    )
    assert result.exit_code == EXIT_OK, result.stderr
    assert 'pid' in json.loads(result.stdout)


@pytest.mark.usefixtures('echo')
def test_an_unknown_action_lists_the_services_actions(redis_url: str) -> None:
    result = run(['call', 'echo', 'sqaure'], redis_url)
    assert result.exit_code == EXIT_ERRORS
    assert 'Error UNKNOWN (action)' in result.stderr
    assert "The echo service has no action 'sqaure'; its actions are: divide, echo, introspect, large" in result.stderr


@pytest.mark.parametrize(
    ('body', 'expected'),
    [
        ('{"number": 7,}', 'line 1, column 14 (character 14)'),
        ('{"number": }', 'line 1, column 12 (character 12)'),
        ('{\n  "a": 1\n  "b": 2\n}', 'line 3, column 3 (character 14)'),
        ('[1, 2]', 'must be a JSON object'),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_usage_error_pointing_at_the_character(body: str, expected: str) -> None:
    result = run(['--redis', 'redis://127.0.0.1:1/0', 'call', 'echo', 'square', body])
    assert result.exit_code == EXIT_USAGE
    assert expected in result.stderr
    assert 'Traceback' not in result.output


def test_the_caret_stands_under_the_bad_character() -> None:
    result = run(['--redis', 'redis://127.0.0.1:1/0', 'call', 'echo', 'square', '{"number": 7,}'])
    lines = result.stderr.splitlines()
    text, caret = lines[-2], lines[-1]
    assert text[caret.index('^')] == '}'


def test_a_bad_context_is_a_usage_error() -> None:
    result = run(['--redis', 'redis://127.0.0.1:1/0', 'call', 'echo', 'square', '--context', '{oops'])
    assert result.exit_code == EXIT_USAGE
    assert '--context' in result.stderr and 'column 2' in result.stderr


@pytest.mark.parametrize('timeout', ['0', '-1', 'soon'])
def test_a_timeout_that_is_not_positive_is_a_usage_error(timeout: str) -> None:
    result = run(['--redis', 'redis://127.0.0.1:1/0', 'call', 'echo', 'square', '--timeout', timeout])
    assert result.exit_code == EXIT_USAGE
    assert '--timeout' in result.stderr


def test_unreachable_redis_names_the_address_and_never_the_password() -> None:
    port = free_port()
    result = run(['--redis', f'redis://:hunter2@127.0.0.1:{port}/0', 'call', 'echo', 'square', '{"number": 1}'])
    assert result.exit_code == EXIT_TRANSPORT
    assert f'Cannot reach Redis 127.0.0.1:{port} db 0, TLS off (from --redis)' in result.stderr
    assert 'hunter2' not in result.output
    assert 'Traceback' not in result.output


def test_a_service_without_workers_names_its_queue_and_the_waiting_requests(redis_url: str) -> None:
    result = run(['call', 'nobody', 'status', '--timeout', '0.5'], redis_url)
    assert result.exit_code == EXIT_TRANSPORT
    assert 'The nobody service did not answer within 0.5s on queue pysoa:service.nobody' in result.stderr
    assert 'where 1 request(s) are waiting: is any worker of the nobody service running?' in result.stderr


@pytest.mark.parametrize(
    ('arguments', 'env', 'expected'),
    [
        (['--redis', 'redis:/localhost'], {}, 'must start with one of redis://'),
        (['--redis', 'redis://localhost:port/0'], {}, 'Port could not be cast'),
        ([], {'PYSOA_REDIS_URL': 'redis://:hunter2@localhost/zero'}, 'PYSOA_REDIS_URL: cannot read the Redis URL'),
        ([], {}, 'Where is Redis?'),
        (['--redis', 'redis://localhost', '--settings', 'x'], {}, 'not both'),
    ],
)
def test_no_readable_redis_is_a_usage_error(arguments: list[str], env: dict[str, str], expected: str) -> None:
    result = run([*arguments, 'call', 'echo', 'square'], None, **env)
    assert result.exit_code == EXIT_USAGE
    assert expected in result.stderr
    assert 'hunter2' not in result.output


# --settings


@pytest.fixture
def client_settings_module(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / 'cli_client_settings.py').write_text(
        'SOA_CLIENT_SETTINGS = {"echo": {"transport": {"path": '
        '"pysoa.common.transport.redis_gateway.client:RedisClientTransport", '
        f'"kwargs": {{"backend_layer_kwargs": {{"hosts": ["{redis_url}"]}}}}}}}}}}\n'
        'OTHER = 3\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return 'cli_client_settings'


@pytest.mark.usefixtures('echo')
def test_settings_module_names_the_client_configuration(client_settings_module: str) -> None:
    result = run(['--settings', client_settings_module, 'call', 'echo', 'square', '{"number": 4}'])
    assert result.exit_code == EXIT_OK, result.stderr
    assert json.loads(result.stdout) == {'square': 16}


@pytest.mark.parametrize(
    ('suffix', 'service', 'expected'),
    [
        ('', 'other', "has no settings for service 'other' (it has: echo)"),
        (':OTHER', 'echo', 'has no client configuration dict `OTHER`'),
        ('_missing', 'echo', 'Cannot import settings module'),
    ],
)
def test_settings_module_mistakes_are_usage_errors(
    client_settings_module: str, suffix: str, service: str, expected: str
) -> None:
    result = run(['--settings', client_settings_module + suffix, 'call', service, 'status'])
    assert result.exit_code == EXIT_USAGE
    assert expected in result.stderr


# status, introspect


@pytest.mark.usefixtures('echo')
def test_status_prints_a_table_and_json(redis_url: str) -> None:
    result = run(['status', 'echo', '--verbose'], redis_url)
    assert result.exit_code == EXIT_OK, result.stderr
    assert result.stdout.splitlines()[0].split() == ['FIELD', 'VALUE']
    assert 'version     1.0.0' in result.stdout
    assert 'Health checks: all passed.' in result.stdout

    result = run(['status', 'echo', '--json'], redis_url)
    status = json.loads(result.stdout)
    assert status['version'] == '1.0.0'
    assert 'healthcheck' not in status


@pytest.mark.usefixtures('echo')
def test_introspect_lists_actions_and_describes_one(redis_url: str) -> None:
    result = run(['introspect', 'echo'], redis_url)
    assert result.exit_code == EXIT_OK, result.stderr
    assert 'square      Return the square of a number.' in result.stdout

    result = run(['introspect', 'echo', 'square'], redis_url)
    assert result.stdout.startswith('square\n\nReturn the square of a number.\n')
    assert 'Request schema:' in result.stdout

    result = run(['introspect', 'echo', '--json'], redis_url)
    assert 'square' in json.loads(result.stdout)['action_names']


@pytest.mark.usefixtures('echo')
def test_introspect_of_an_unknown_action_fails_with_the_services_error(redis_url: str) -> None:
    result = run(['introspect', 'echo', 'nope'], redis_url)
    assert result.exit_code == EXIT_ERRORS
    assert 'Error: INVALID (action_name)' in result.stderr
    assert "The echo service has no action 'nope'; its actions are: divide, echo," in result.stderr


# queues


def test_queues_shows_depth_and_age_of_waiting_requests(redis_url: str) -> None:
    assert run(['call', 'nobody', 'status', '--timeout', '0.2'], redis_url).exit_code == EXIT_TRANSPORT
    result = run(['queues'], redis_url)
    assert result.exit_code == EXIT_OK, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[:4] == ['QUEUE', 'DEPTH', 'OLDEST', 'EXPIRES']
    assert row.split()[:2] == ['pysoa:service.nobody', '1']

    [queue] = json.loads(run(['queues', '--json'], redis_url).stdout)
    assert (queue['service'], queue['depth'], queue['dead_letters'], queue['in_flight']) == ('nobody', 1, None, None)
    # The CLI's request expires with its timeout (0.2 s): sent with the default expiry, it would be 59.8 s old.
    assert queue['oldest_expires_in_seconds'] < 0.2
    assert queue['oldest_age_seconds'] >= 59.8


def test_queues_on_an_empty_redis_says_so(redis_url: str) -> None:
    result = run(['queues'], redis_url)
    assert result.exit_code == EXIT_OK
    assert result.stdout.startswith('No service queues on Redis 127.0.0.1:')


def test_queues_on_unreachable_redis_exits_3() -> None:
    result = run(['--redis', f'redis://127.0.0.1:{free_port()}', 'queues'])
    assert result.exit_code == EXIT_TRANSPORT
    assert 'Cannot reach Redis 127.0.0.1:' in result.stderr


# health


def test_health_worker_reads_the_heartbeat_file(tmp_path: Path) -> None:
    heartbeat = tmp_path / 'heartbeat'
    heartbeat.write_text(repr(time.time()))
    assert run(['health', 'worker', '--heartbeat-file', str(heartbeat)]).exit_code == EXIT_OK

    old = time.time() - 120
    os.utime(heartbeat, (old, old))
    stale = run(['health', 'worker', '--heartbeat-file', str(heartbeat), '--max-age', '60'])
    assert stale.exit_code == EXIT_ERRORS
    assert 'Stale heartbeat' in stale.stderr

    missing = run(['health', 'worker', '--heartbeat-file', str(tmp_path / 'none')])
    assert missing.exit_code == EXIT_ERRORS
    assert 'No heartbeat' in missing.stderr


def test_health_worker_of_a_running_service(start_service: StartService) -> None:
    service = start_service(workers=1)
    assert service.heartbeat_dir is not None
    [name] = os.listdir(service.heartbeat_dir)
    result = run(['health', 'worker', '--heartbeat-file', os.path.join(service.heartbeat_dir, name)])
    assert result.exit_code == EXIT_OK, result.stderr


@pytest.mark.usefixtures('echo')
def test_health_service(redis_url: str) -> None:
    result = run(['health', 'service', 'echo', '--timeout', '5'], redis_url)
    assert result.exit_code == EXIT_OK, result.stderr
    assert result.stdout.startswith('OK: echo 1.0.0 answered in ')

    result = run(['health', 'service', 'nobody', '--timeout', '0.2'], redis_url)
    assert result.exit_code == EXIT_TRANSPORT
    assert 'pysoa:service.nobody' in result.stderr


def test_help_lists_every_command() -> None:
    result = run(['--help'])
    assert result.exit_code == EXIT_OK
    for command in ('call', 'status', 'introspect', 'queues', 'health'):
        assert f'  {command} ' in result.stdout
