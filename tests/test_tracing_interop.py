"""Tracing next to real PySOA 1.4.9 peers (from PyPI, in the cached upstream virtualenv) over one private Redis.

A 1.4.9 server answers a traced client's requests, whose context carries `pysoa_trace_context`, as any other; a
1.4.9 client's requests (without it) start a new trace in a traced service, and a trace context that a 1.4.9 client
is given in its context reaches the service intact and is continued.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ci import require_module

require_module('opentelemetry.sdk')

from interop.peers import PeerServer, run_peer_client  # noqa: E402

from pysoa.client.client import Client  # noqa: E402
from pysoa.client.errors import CallActionError  # noqa: E402
from pysoa.common.tracing import TRACE_CONTEXT_KEY  # noqa: E402
from pysoa.test.redis_server import RedisServerProcess  # noqa: E402
from pysoa.test.waiting import wait_until  # noqa: E402
from tests.conftest import StartService  # noqa: E402
from tests.tracing_support import SpanRecord, Spans, caught_spans, only  # noqa: E402

# Building the upstream venv on first use (a pip install from PyPI) can outlast the default per-test timeout.
pytestmark = pytest.mark.timeout(300)

UPSTREAM_SERVICE = 'interop_tracing_upstream'
TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'


@pytest.fixture
def spans() -> Iterator[Spans]:
    yield from caught_spans()


def test_a_pysoa_1_server_answers_a_traced_clients_requests(
    spans: Spans, upstream_python: str, upstream_env: dict[str, str], redis_server: RedisServerProcess
) -> None:
    server = PeerServer(upstream_python, upstream_env, redis_server.host, redis_server.port, UPSTREAM_SERVICE)
    kwargs = {'backend_layer_kwargs': {'hosts': [(redis_server.host, redis_server.port)]}}
    transport = {'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport', 'kwargs': kwargs}
    client = Client({UPSTREAM_SERVICE: {'transport': transport, 'tracing': True}})
    with server:
        response = client.call_action(UPSTREAM_SERVICE, 'echo', {'n': 1}, context={'interop_extra': 'carried'})
        with pytest.raises(CallActionError):
            client.call_action(UPSTREAM_SERVICE, 'fail')
    server.remove_log()

    assert response.body['implementation'] == '1.4.9'
    assert response.body['echo'] == {'n': 1}
    assert response.body['context']['extra'] == 'carried'
    records = spans.records()
    assert only(records, f'CLIENT {UPSTREAM_SERVICE}/echo')['status'] == 'UNSET'
    failed = only(records, f'CLIENT {UPSTREAM_SERVICE}/fail')
    assert failed['status'] == 'ERROR'
    assert failed['attributes']['pysoa.error_codes'] == ['DELIBERATE', 'OTHER']  # type: ignore[index]


def _upstream_call(
    upstream_python: str, upstream_env: dict[str, str], redis_server: RedisServerProcess, context: dict[str, Any]
) -> None:
    plan = {
        'redis': f'{redis_server.host}:{redis_server.port}',
        'service': 'c',
        'context': context,
        'calls': [{'action': 'relay', 'body': {'path': []}}],
    }
    output = run_peer_client(upstream_python, upstream_env, plan)
    assert output['implementation'] == '1.4.9'
    (result,) = output['results']
    assert result['job_errors'] == [], result
    assert result['actions'][0]['errors'] == [], result


def _job_spans(path: Path, count: int) -> list[SpanRecord]:
    def read() -> list[SpanRecord]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    assert wait_until(lambda: len(read()) >= count, timeout=10), read()
    return [record for record in read() if record['kind'] == 'SERVER']


def test_pysoa_1_client_requests_start_a_new_trace_or_continue_the_one_they_carry(
    upstream_python: str,
    upstream_env: dict[str, str],
    redis_server: RedisServerProcess,
    start_service: StartService,
    tmp_path: Path,
) -> None:
    span_file = tmp_path / 'spans.jsonl'
    start_service(
        1,
        module='tests.tracing_service',
        settings='tests.tracing_service.settings',
        env={'TRACING_SERVICE': 'c', 'TRACING_SPANS_FILE': str(span_file)},
    )

    _upstream_call(upstream_python, upstream_env, redis_server, {})
    (job,) = _job_spans(span_file, 2)
    assert job['parent_id'] is None
    assert 'pysoa.trace_context_error' not in job['attributes']  # type: ignore[operator]

    _upstream_call(upstream_python, upstream_env, redis_server, {TRACE_CONTEXT_KEY: {'traceparent': TRACEPARENT}})
    continued = _job_spans(span_file, 4)[1]
    assert continued['trace_id'] == '0af7651916cd43dd8448eb211c80319c'
    assert continued['parent_id'] == 'b7ad6b7169203331'
