"""The client's declared return types are the ones it returns: mypy checks `assert_type` on every overload."""

import os
import textwrap
from pathlib import Path

import pytest

import pysoa

mypy_api = pytest.importorskip('mypy.api')

ROOT = Path(pysoa.__file__).resolve().parent.parent

# Each line is one case: what a call returns, for the options that change it (see pysoa.client.results).
CHECKS = """
from collections.abc import Generator
from typing import assert_type

from pysoa.client import Client
from pysoa.common.errors import Error
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.types import ActionResponse, JobResponse


async def check(client: Client, flag: bool) -> None:
    assert_type(client.call_action('s', 'a'), ActionResponse)
    assert_type(client.call_action('s', 'a', raise_action_errors=False, timeout=0.5), ActionResponse)
    assert_type(client.call_action('s', 'a', raise_job_errors=False), ActionResponse | list[Error])
    assert_type(client.call_action('s', 'a', {}, None, flag), ActionResponse | list[Error])
    assert_type(client.call_action_future('s', 'a').result(0.5), ActionResponse)
    assert_type(client.call_action_future('s', 'a', raise_job_errors=flag).result(), ActionResponse | list[Error])
    assert_type(await client.call_action_async('s', 'a'), ActionResponse)
    assert_type(await client.call_action_async('s', 'a', raise_job_errors=False), ActionResponse | list[Error])

    assert_type(client.call_actions('s', [], raise_job_errors=False, timeout=0.5), JobResponse)
    assert_type(await client.call_actions_async('s', []), JobResponse)

    assert_type(client.call_actions_parallel('s', []), Generator[ActionResponse, None, None])
    assert_type(
        client.call_actions_parallel('s', [], raise_job_errors=False),
        Generator[ActionResponse | list[Error], None, None],
    )
    assert_type(
        client.call_actions_parallel('s', [], catch_transport_errors=True),
        Generator[ActionResponse | PySOATransportError, None, None],
    )
    assert_type(
        client.call_actions_parallel('s', [], None, flag, True, flag),
        Generator[ActionResponse | list[Error] | PySOATransportError, None, None],
    )
    assert_type(
        client.call_actions_parallel_future('s', [], raise_job_errors=False).result(),
        Generator[ActionResponse | list[Error], None, None],
    )

    assert_type(client.call_jobs_parallel([], raise_job_errors=False), list[JobResponse])
    assert_type(client.call_jobs_parallel([], catch_transport_errors=True), list[JobResponse | PySOATransportError])
    assert_type(
        client.call_jobs_parallel_future([], catch_transport_errors=flag).result(),
        list[JobResponse | PySOATransportError],
    )
    assert_type(await client.call_jobs_parallel_async([]), list[JobResponse])
"""


def test_call_return_types_follow_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / 'client_types.py'
    source.write_text(textwrap.dedent(CHECKS))
    # The pysoa under test, whatever else is installed.
    monkeypatch.setenv('MYPYPATH', str(ROOT))
    stdout, stderr, status = mypy_api.run(
        [
            '--strict',
            '--config-file',
            os.fspath(ROOT / 'pyproject.toml'),
            '--cache-dir',
            os.fspath(tmp_path / 'mypy-cache'),
            '--no-error-summary',
            os.fspath(source),
        ],
    )

    assert status == 0, stdout + stderr
    assert stdout == stderr == ''
