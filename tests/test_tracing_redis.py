"""OpenTelemetry tracing over a real Redis with real worker processes.

The relay services (`tests.tracing_service`) run in their own processes with `tracing: True` and write the spans
they end to a file, one JSON line each; this process catches its own spans in memory. A call from here to A, which
calls B, which calls C, must be one trace, each span the child of the one before it across the three processes.
"""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ci import require_module

require_module('opentelemetry.sdk')

from opentelemetry import trace  # noqa: E402

from pysoa.client.client import Client  # noqa: E402
from pysoa.client.errors import CallActionError  # noqa: E402
from pysoa.common.transport.errors import MessageReceiveTimeout  # noqa: E402
from pysoa.test.waiting import wait_until  # noqa: E402
from tests.conftest import StartService  # noqa: E402
from tests.tracing_support import (  # noqa: E402
    SpanRecord,
    Spans,
    assert_chain,
    assert_server_error,
    caught_spans,
    key_of,
    only,
)

REDIS_CLIENT_TRANSPORT = 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'

CHAIN = [
    'INTERNAL caller',
    'CLIENT a/relay',
    'SERVER a/relay',
    'INTERNAL run a/relay',
    'CLIENT b/relay',
    'SERVER b/relay',
    'INTERNAL run b/relay',
    'CLIENT c/relay',
    'SERVER c/relay',
    'INTERNAL run c/relay',
]


@pytest.fixture
def spans() -> Iterator[Spans]:
    yield from caught_spans()


class SpanFile:
    """The spans the worker processes wrote to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[SpanRecord]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def wait_for(self, count: int) -> list[SpanRecord]:
        """The spans written once there are `count` of them (a worker ends its spans before it answers, so this
        rarely waits at all); fails after 10 seconds."""
        assert wait_until(lambda: len(self.records()) >= count, timeout=10), self.records()
        return self.records()


def start_relays(start_service: StartService, tmp_path: Path, names: list[str]) -> SpanFile:
    span_file = SpanFile(tmp_path / 'spans.jsonl')
    for name in names:
        start_service(
            1,
            module='tests.tracing_service',
            settings='tests.tracing_service.settings',
            env={'TRACING_SERVICE': name, 'TRACING_PEERS': ','.join(names), 'TRACING_SPANS_FILE': str(span_file.path)},
        )
    return span_file


def redis_client(redis_url: str, names: list[str], *, tracing: bool = True, receive_timeout: int = 10) -> Client:
    kwargs: dict[str, Any] = {
        'backend_type': 'redis.standard',
        'backend_layer_kwargs': {'hosts': [redis_url]},
        'receive_timeout_in_seconds': receive_timeout,
    }
    transport = {'path': REDIS_CLIENT_TRANSPORT, 'kwargs': kwargs}
    return Client({name: {'transport': transport, 'tracing': tracing} for name in names})


def test_three_services_in_three_processes_make_one_trace(
    spans: Spans, start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    span_file = start_relays(start_service, tmp_path, ['a', 'b', 'c'])
    client = redis_client(redis_url, ['a'])

    with trace.get_tracer('test').start_as_current_span('caller'):
        response = client.call_action('a', 'relay', {'path': ['b', 'c']})

    assert response.body == {'visited': ['a', 'b', 'c']}
    ours = spans.records()
    theirs = span_file.wait_for(8)
    records = ours + theirs
    assert sorted(key_of(r) for r in records) == sorted(CHAIN)
    assert len({r['trace_id'] for r in records}) == 1
    assert_chain(records, CHAIN)
    # Each process recorded its own part: the workers' spans came from the file, this process's from memory.
    assert sorted(key_of(r) for r in ours) == ['CLIENT a/relay', 'INTERNAL caller']
    for record in theirs:
        attributes = record['attributes']
        assert isinstance(attributes, dict)
        assert attributes['rpc.system'] == 'pysoa'
        assert isinstance(attributes['pysoa.request_id'], int)
        assert record['status'] == 'UNSET'


def test_a_failure_at_the_end_of_the_chain_shows_on_every_span_with_its_code(
    spans: Spans, start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    span_file = start_relays(start_service, tmp_path, ['a', 'b', 'c'])
    client = redis_client(redis_url, ['a'])

    with pytest.raises(CallActionError) as raised:
        client.call_action('a', 'relay', {'path': ['b', 'c'], 'fail_at_end': True})

    assert [error.code for error in raised.value.actions[0].errors] == ['SERVER_ERROR']
    records = spans.records() + span_file.wait_for(8)
    assert_chain(records, CHAIN[1:])
    assert_server_error(records, CHAIN[1:], 'INTERNAL run c/relay', 'ValueError: c was told to fail')


def test_awaited_and_parallel_calls_and_untraced_callers_over_redis(
    spans: Spans, start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    span_file = start_relays(start_service, tmp_path, ['c'])
    client = redis_client(redis_url, ['c'])

    # Awaited: the call runs in a worker thread (`asyncio.to_thread`), which gets a copy of the caller's context.
    async def call() -> None:
        with trace.get_tracer('test').start_as_current_span('awaiting caller'):
            await client.call_action_async('c', 'relay', {'path': []})

    asyncio.run(call())
    records = spans.records() + span_file.wait_for(2)
    assert_chain(records, ['INTERNAL awaiting caller', 'CLIENT c/relay', 'SERVER c/relay', 'INTERNAL run c/relay'])

    # Two jobs in parallel from one thread: each response ends its own call's span.
    spans_before = len(span_file.records())
    with trace.get_tracer('test').start_as_current_span('parallel caller'):
        client.call_jobs_parallel(
            [
                {'service_name': 'c', 'actions': [{'action': 'relay', 'body': {'path': []}}]},
                {'service_name': 'c', 'actions': [{'action': 'refuse'}]},
            ],
            raise_action_errors=False,
        )
    records = spans.records() + span_file.wait_for(spans_before + 4)
    assert_chain(records, ['INTERNAL parallel caller', 'CLIENT c/refuse', 'SERVER c/refuse', 'INTERNAL run c/refuse'])
    relay_calls = [r for r in records if key_of(r) == 'CLIENT c/relay']
    parallel = only(records, 'INTERNAL parallel caller')
    (parallel_relay,) = [r for r in relay_calls if r['parent_id'] == parallel['span_id']]
    assert parallel_relay['status'] == 'UNSET'
    assert only(records, 'CLIENT c/refuse')['attributes']['pysoa.error_codes'] == ['NOT_FOUND']  # type: ignore[index]

    # A caller without tracing (as a 1.x one) sends no trace context: the service starts a new trace.
    spans_before = len(span_file.records())
    untraced = redis_client(redis_url, ['c'], tracing=False)
    with trace.get_tracer('test').start_as_current_span('untraced caller'):
        assert untraced.call_action('c', 'relay', {'path': []}).body == {'visited': ['c']}
    new = span_file.wait_for(spans_before + 2)[spans_before:]
    job = only(new, 'SERVER c/relay')
    assert job['parent_id'] is None
    assert job['trace_id'] != only(spans.records(), 'INTERNAL untraced caller')['trace_id']


def test_a_call_that_gets_no_response_ends_its_span_with_the_timeout(spans: Spans, redis_url: str) -> None:
    client = redis_client(redis_url, ['nobody'], receive_timeout=1)

    with pytest.raises(MessageReceiveTimeout):
        client.call_action('nobody', 'relay', {'path': []})

    call = only(spans.records(), 'CLIENT nobody/relay')
    assert call['status'] == 'ERROR'
    assert call['events'] == ['exception']
    assert str(call['status_description']).startswith('MessageReceiveTimeout')
