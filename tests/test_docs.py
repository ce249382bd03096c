"""The README and the docs say what the code does: their code runs as written, their options and defaults exist."""

import configparser
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from examples.echo_client import client_settings
from pysoa.client import Client
from pysoa.common.transport.redis_gateway import constants
from pysoa.server.settings import ServerSettings
from pysoa.test.server import ServerTestCase
from pysoa.test.waiting import wait_until
from tests.conftest import StartService
from tests.paths import PROJECT_ROOT

README = PROJECT_ROOT / 'README.rst'
DOCS = PROJECT_ROOT / 'docs'
README_REDIS_URL = 'redis://localhost:6379/0'


def code_blocks(path: Path) -> list[str]:
    """The literal blocks of an RST file (after `::` or `.. code-block::`), dedented."""
    blocks: list[str] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not (line.rstrip().endswith('::') or line.lstrip().startswith('.. code-block::')):
            continue
        body: list[str] = []
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith((' ', '\t'))):
            body.append(lines[index])
            index += 1
        text = textwrap.dedent('\n'.join(body)).strip('\n')
        if text:
            blocks.append(text + '\n')
    return blocks


def block_with(path: Path, marker: str) -> str:
    """The one code block of `path` that contains `marker`."""
    (block,) = [block for block in code_blocks(path) if marker in block]
    return block


def test_the_readme_commands_name_real_extras_and_modules() -> None:
    commands = [block for block in code_blocks(README) if block.startswith('python3 -m venv')]
    assert len(commands) == 2, commands
    parser = configparser.ConfigParser()
    parser.read(PROJECT_ROOT / 'setup.cfg')
    extras = set(parser['options.extras_require'])
    for command in commands:
        for extra in re.findall(r'\.\[(\w+)\]', command):
            assert extra in extras, (extra, extras)
    assert '.venv/bin/python -m examples.demo' in commands[0]
    assert (PROJECT_ROOT / 'examples' / 'demo.py').is_file()


def test_the_readme_service_settings_and_client_work_as_written(
    redis_url: str, tmp_path: Path, start_service: StartService
) -> None:
    # The README's three blocks, saved where it says, with only the Redis address changed (never the shared one).
    package = tmp_path / 'math_service'
    package.mkdir()
    (package / '__main__.py').write_text(block_with(README, 'class MathServer'))
    settings = block_with(README, 'SOA_SERVER_SETTINGS')
    assert README_REDIS_URL in settings
    (package / 'settings.py').write_text(settings.replace(README_REDIS_URL, redis_url))
    client_code = block_with(README, 'from pysoa.client import Client')
    assert README_REDIS_URL in client_code

    service = start_service(
        2,  # the README's `--fork 4`, smaller
        module='math_service',
        settings='math_service.settings',
        python_path=[str(tmp_path)],
        wait_for_workers=False,
    )
    try:
        namespace: dict[str, Any] = {}

        def answers() -> bool:
            try:
                exec(client_code.replace(README_REDIS_URL, redis_url), namespace)
            except Exception:
                return False
            return True

        assert wait_until(answers, timeout=30, interval=0.1), service.output()
        assert namespace['response'].body == {'square': 49}
        # `--fork 2` means two worker processes, each answering.
        assert wait_until(lambda: service.output().count('server starting up') >= 2, timeout=10), service.output()
    finally:
        service.signal(signal.SIGTERM)
        assert service.wait(timeout=20) == 0, service.output()
        service.cleanup()


def test_the_readme_settings_validate_and_backend_type_may_be_left_out() -> None:
    namespace: dict[str, Any] = {}
    exec(block_with(README, 'SOA_SERVER_SETTINGS'), namespace)
    settings = ServerSettings(namespace['SOA_SERVER_SETTINGS'])
    assert settings['transport']['kwargs']['backend_type'] == 'redis.standard'

    # As documented, `redis.standard` is the default; a misspelled value is still refused.
    del namespace['SOA_SERVER_SETTINGS']['transport']['kwargs']['backend_type']
    ServerSettings(namespace['SOA_SERVER_SETTINGS'])
    namespace['SOA_SERVER_SETTINGS']['transport']['kwargs']['backend_type'] = 'redis.standrad'
    with pytest.raises(ServerSettings.ImproperlyConfigured, match='kwargs.backend_type'):
        ServerSettings(namespace['SOA_SERVER_SETTINGS'])


def test_the_testing_guide_example_passes() -> None:
    namespace: dict[str, Any] = {}
    exec(block_with(DOCS / 'testing.rst', 'class TestEcho(ServerTestCase)'), namespace)
    case_class = namespace['TestEcho']
    assert issubclass(case_class, ServerTestCase)
    tests = [name for name in vars(case_class) if name.startswith('test_')]
    assert tests
    for name in tests:
        case = case_class()
        case.setup_method()
        try:
            getattr(case, name)()
        finally:
            case.teardown_method()


def test_the_mock_transport_example_passes() -> None:
    namespace: dict[str, Any] = {}
    exec(block_with(DOCS / 'testing.rst', 'mock_transport_settings(user_service)'), namespace)
    assert namespace['client'].call_action('user', 'get_user', {'id': 2}).body == {'id': 2, 'name': 'Ada'}


def _documented_options() -> list[str]:
    table = (DOCS / 'operations.rst').read_text().split('Running a service', 1)[1].split('Signals:', 1)[0]
    return re.findall(r'``(-[-\w]+)', table)


def test_every_documented_command_line_option_is_accepted() -> None:
    options = _documented_options()
    assert {'-s', '--settings', '-f', '--fork', '--no-respawn', '--use-file-watcher', '-d', '--daemon'} <= set(options)
    assert '--log-format' in options
    help_text = subprocess.run(
        [sys.executable, '-m', 'examples.echo_service', '--help'],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(PROJECT_ROOT),
    )
    assert help_text.returncode == 0, help_text.stderr
    for option in options:
        assert option in help_text.stdout, (option, help_text.stdout)


def _first_start_line(start_service: StartService, tmp_path: Path, extra_args: list[str]) -> str:
    # The echo service's settings without their `logging`, so that the server's default logging applies.
    (tmp_path / 'default_logging_settings.py').write_text(
        'from examples.echo_service.settings import SOA_SERVER_SETTINGS as _ECHO\n'
        "SOA_SERVER_SETTINGS = {key: value for key, value in _ECHO.items() if key != 'logging'}\n"
    )
    service = start_service(
        1,
        settings='default_logging_settings',
        extra_args=extra_args,
        python_path=[str(tmp_path)],
        wait_for_workers=False,
    )
    assert wait_until(lambda: 'server starting up' in service.output(), timeout=30), service.output()
    service.stop()
    lines = [line for line in service.output().splitlines() if 'server starting up' in line]
    return lines[0]


def test_log_format_text_gives_plain_lines(start_service: StartService, tmp_path: Path) -> None:
    line = _first_start_line(start_service, tmp_path, ['--log-format', 'text'])
    assert not line.lstrip().startswith('{'), line
    assert ' INFO ' in line


def test_log_format_json_is_the_default(start_service: StartService, tmp_path: Path) -> None:
    record = json.loads(_first_start_line(start_service, tmp_path, []))
    assert record['level'] == 'INFO'
    assert record['service_name'] == 'echo'
    assert datetime.datetime.fromisoformat(record['timestamp']).tzinfo is not None  # RFC 3339: with its offset
    assert {'correlation_id', 'request_id', 'action_name', 'message'} <= set(record)


def test_documented_defaults_are_the_real_ones() -> None:
    operations = (DOCS / 'operations.rst').read_text()
    assert f'(default {constants.DEFAULT_MESSAGE_EXPIRY_IN_SECONDS})' in operations
    assert f'({constants.DEFAULT_QUEUE_CAPACITY:,})' in operations
    assert f'deadline ({constants.DEFAULT_QUEUE_FULL_RETRIES})' in operations
    assert f'blocks (default {constants.DEFAULT_RECEIVE_TIMEOUT_IN_SECONDS})' in operations
    assert constants.DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT == 100 * 1024
    assert constants.DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER == 250 * 1024
    assert 'client 100 KiB, server 250 KiB' in operations
    defaults = ServerSettings.defaults
    assert f'default {defaults["harakiri"]["timeout"]})' in operations
    assert f'(default {defaults["harakiri"]["shutdown_grace"]})' in operations
    assert '``redis.standard`` (default)' in operations


def test_the_daemon_option_detaches_and_prints_the_pid(redis_url: str, tmp_path: Path) -> None:
    log = tmp_path / 'daemon.log'
    environment = dict(os.environ, PYSOA_REDIS_URL=redis_url, PYTHONPATH=str(PROJECT_ROOT))
    # Files, not pipes: the detached server keeps the standard streams it inherited (see docs/operations.rst).
    with open(tmp_path / 'stdout', 'wb') as stdout, open(log, 'wb') as output:
        result = subprocess.run(
            [sys.executable, '-m', 'examples.echo_service', '-s', 'examples.echo_service.settings', '-d'],
            stdout=stdout,
            stderr=output,
            timeout=60,
            env=environment,
            cwd=str(PROJECT_ROOT),
        )
    assert result.returncode == 0
    match = re.fullmatch(r'PID=(\d+)\n', (tmp_path / 'stdout').read_text())
    assert match, (tmp_path / 'stdout').read_text()
    pid = int(match[1])
    try:
        assert wait_until(lambda: 'server starting up' in log.read_text(), timeout=30), log.read_text()
        os.kill(pid, 0)  # the detached server lives on after the command returned
    finally:
        os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: 'Server shutdown complete' in log.read_text(), timeout=20), log.read_text()


def test_the_daemon_option_with_fork_detaches_the_supervisor_once(redis_url: str, tmp_path: Path) -> None:
    log = tmp_path / 'daemon.log'
    heartbeats = tmp_path / 'heartbeats'
    heartbeats.mkdir()
    environment = dict(
        os.environ,
        PYSOA_REDIS_URL=redis_url,
        PYTHONPATH=str(PROJECT_ROOT),
        ECHO_HEARTBEAT_FILE=str(heartbeats / 'hb-{{fid}}-{{pid}}'),
    )
    command = [sys.executable, '-m', 'examples.echo_service', '-s', 'examples.echo_service.settings']
    with open(tmp_path / 'stdout', 'wb') as stdout, open(log, 'wb') as output:
        result = subprocess.run(
            [*command, '--fork', '2', '--daemon'],
            stdout=stdout,
            stderr=output,
            timeout=60,
            env=environment,
            cwd=str(PROJECT_ROOT),
        )
    assert result.returncode == 0
    match = re.fullmatch(r'PID=(\d+)\n', (tmp_path / 'stdout').read_text())
    assert match, (tmp_path / 'stdout').read_text()
    supervisor = int(match[1])
    try:
        assert wait_until(lambda: len(os.listdir(heartbeats)) == 2, timeout=30), log.read_text()
        client = Client({'echo': client_settings(redis_url)})
        assert client.call_action('echo', 'echo', {'message': 'hi'}).body == {'message': 'hi'}
        assert 'exited with code' not in log.read_text()  # no worker forked itself away from the supervisor
        assert (tmp_path / 'stdout').read_text().count('PID=') == 1
    finally:
        os.kill(supervisor, signal.SIGTERM)
    assert wait_until(lambda: log.read_text().count('Server shutdown complete') == 2, timeout=20), log.read_text()
    assert not os.listdir(heartbeats)


@pytest.mark.parametrize('workers', [2, 1])
def test_a_settings_mistake_stops_the_service_at_start_up_with_one_message(
    redis_url: str, tmp_path: Path, workers: int
) -> None:
    (tmp_path / 'misspelled_settings.py').write_text(
        'from examples.echo_service.settings import SOA_SERVER_SETTINGS as _ECHO\n'
        'SOA_SERVER_SETTINGS = dict(_ECHO, midleware=[])\n'
    )
    environment = dict(
        os.environ, PYSOA_REDIS_URL=redis_url, PYTHONPATH=os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)])
    )
    command = [sys.executable, '-m', 'examples.echo_service', '-s', 'misspelled_settings']
    if workers > 1:
        command += ['--fork', str(workers)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment, cwd=PROJECT_ROOT)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count('Unknown setting(s): midleware') == 1, result.stderr
    assert 'Re-spawning' not in result.stderr


def test_body_errors_are_as_the_concepts_page_says() -> None:
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': 'examples.echo_service.server:EchoServer', 'server_settings': {}},
    }
    client = Client({'echo': {'transport': transport}})
    concepts = (DOCS / 'concepts.rst').read_text()
    assert 'extra keys give ``UNKNOWN`` naming them' in concepts

    errors = client.call_action('echo', 'echo', {'message': 'hi', 'extra': 1}, raise_action_errors=False).errors
    assert [(e.code, e.field, e.is_caller_error) for e in errors] == [('UNKNOWN', None, True)]
    assert 'extra' in errors[0].message
    errors = client.call_action('echo', 'echo', {}, raise_action_errors=False).errors
    assert [(e.code, e.field, e.is_caller_error) for e in errors] == [('MISSING', 'message', True)]


def _operations_section(title: str, next_title: str | None) -> str:
    text = (DOCS / 'operations.rst').read_text().split(f'\n{title}\n', 1)[1]
    return text.split(f'\n{next_title}\n', 1)[0] if next_title else text


def _defined_terms(section: str) -> set[str]:
    # Definition-list terms: lines at column 0 made of ``names``, e.g. ``queue_capacity``, ``queue_full_retries``.
    terms: set[str] = set()
    for line in section.splitlines():
        if re.fullmatch(r'``\w+``( \(\w+\))?(, ``\w+``( \(\w+\))?)*', line):
            terms.update(re.findall(r'``(\w+)``', line))
    return terms


def test_every_server_setting_is_documented_and_every_documented_one_exists() -> None:
    documented = _defined_terms(_operations_section('Server settings', 'Redis'))
    assert documented == set(ServerSettings.schema), documented ^ set(ServerSettings.schema)


def test_every_redis_transport_setting_is_documented_and_every_documented_one_exists() -> None:
    from pysoa.common.transport.redis_gateway.settings import (
        RedisClientTransportSchema,
        RedisServerTransportSchema,
    )

    section = _operations_section('Redis', None)
    documented = _defined_terms(section)
    real = set(RedisClientTransportSchema.contents) | set(RedisServerTransportSchema.contents)
    assert documented == real, documented ^ real
    backend_layer = set(RedisClientTransportSchema.contents['backend_layer_kwargs'].contents)
    mentioned = set(re.findall(r'``(\w+)``', section.split('``backend_layer_kwargs``', 1)[1].split('\n``', 1)[0]))
    assert backend_layer <= mentioned, backend_layer - mentioned


def test_every_module_the_code_layout_page_names_exists() -> None:
    text = (DOCS / 'layout.rst').read_text()
    redis_gateway = 'pysoa/common/transport/redis_gateway/'
    named = set(re.findall(r'\b(?:pysoa|tests)/[\w/]+\.(?:py|lua)\b', text))
    named |= {redis_gateway + path for path in re.findall(r'(?:\.\.\./|``)redis_gateway/([\w/]+\.(?:py|lua))', text)}

    assert len(named) > 20, named  # the page is read as intended, not silently matched against nothing
    assert sorted(path for path in named if not (PROJECT_ROOT / path).is_file()) == []
