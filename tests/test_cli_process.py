"""The `pysoa` command as a real process (`python -m pysoa`): its output and exit statuses against a real service."""

import json
import os
import socket
import subprocess
import sys

import pytest

from pysoa.cli.errors import EXIT_ERRORS, EXIT_OK, EXIT_TRANSPORT, EXIT_USAGE
from tests.conftest import StartService
from tests.paths import PROJECT_ROOT


def pysoa(*arguments: str, redis_url: str = '') -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYSOA_REDIS_URL=redis_url)
    return subprocess.run(
        [sys.executable, '-m', 'pysoa', *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=str(PROJECT_ROOT),
        timeout=60,
    )


@pytest.fixture
def echo(start_service: StartService) -> None:
    start_service(workers=1)


@pytest.mark.usefixtures('echo')
def test_call_and_its_exit_statuses(redis_url: str) -> None:
    done = pysoa('call', 'echo', 'square', '{"number": 12}', redis_url=redis_url)
    assert (done.returncode, json.loads(done.stdout)) == (EXIT_OK, {'square': 144})

    failed = pysoa('call', 'echo', 'divide', '{"dividend": 1, "divisor": 0}', redis_url=redis_url)
    assert failed.returncode == EXIT_ERRORS
    assert 'Error ' in failed.stderr and '(divisor)' in failed.stderr

    usage = pysoa('call', 'echo', 'square', '{"number": ', redis_url=redis_url)
    assert usage.returncode == EXIT_USAGE
    assert 'not valid JSON' in usage.stderr

    silent = pysoa('call', 'nobody', 'status', '--timeout', '0.5', redis_url=redis_url)
    assert silent.returncode == EXIT_TRANSPORT
    assert 'pysoa:service.nobody' in silent.stderr
    for result in (done, failed, usage, silent):
        assert 'Traceback' not in result.stderr


def test_unreachable_redis_exits_3_without_a_traceback() -> None:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    result = pysoa('--redis', f'redis://:hunter2@127.0.0.1:{port}/0', 'status', 'echo')
    assert result.returncode == EXIT_TRANSPORT
    assert f'127.0.0.1:{port}' in result.stderr
    assert 'hunter2' not in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.usefixtures('echo')
def test_queues_and_health_as_processes(redis_url: str) -> None:
    pysoa('call', 'nobody', 'status', '--timeout', '0.2', redis_url=redis_url)
    queues = pysoa('queues', redis_url=redis_url)
    assert queues.returncode == EXIT_OK, queues.stderr
    assert 'pysoa:service.nobody  1 ' in queues.stdout

    assert pysoa('health', 'service', 'echo', '--timeout', '5', redis_url=redis_url).returncode == EXIT_OK
