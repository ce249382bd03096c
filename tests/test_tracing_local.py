"""OpenTelemetry tracing in process (local transport), caught by the SDK's in-memory exporter.

A traced call is a CLIENT span, the service's SERVER span for the job and an INTERNAL span per action, in one trace;
the calls an action makes through `request.client` are children of the action's span, so a chain of three services
is one trace. Callers without tracing (as 1.x ones) and malformed trace contexts start a new trace.
"""

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ci import require_module

require_module('opentelemetry.sdk')

from opentelemetry import trace  # noqa: E402

from pysoa.client import tracing as client_tracing  # noqa: E402
from pysoa.client.client import Client  # noqa: E402
from pysoa.client.errors import CallActionError  # noqa: E402
from pysoa.common.tracing import TRACE_CONTEXT_KEY  # noqa: E402
from pysoa.server.action import Action  # noqa: E402
from pysoa.server.errors import HarakiriInterrupt  # noqa: E402
from pysoa.server.server import Server  # noqa: E402
from pysoa.server.types import EnrichedActionRequest  # noqa: E402
from tests.tracing_service.server import relay_server  # noqa: E402
from tests.tracing_support import Spans, assert_chain, assert_server_error, caught_spans, only  # noqa: E402

LOCAL_TRANSPORT = 'pysoa.common.transport.local:LocalClientTransport'
VALID_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'


@pytest.fixture
def spans() -> Iterator[Spans]:
    yield from caught_spans()


def local_route(name: str, routes: dict[str, Any] | None = None, *, tracing: bool = True) -> dict[str, Any]:
    """Client settings that serve the relay service `name` in process, with tracing on or off in that service."""
    server_settings = {'tracing': tracing, 'client_routing': routes or {}}
    return {
        'transport': {
            'path': LOCAL_TRANSPORT,
            'kwargs': {'server_class': relay_server(name), 'server_settings': server_settings},
        },
    }


def traced_client(name: str = 'c', routes: dict[str, Any] | None = None, *, server_tracing: bool = True) -> Client:
    return Client({name: {**local_route(name, routes, tracing=server_tracing), 'tracing': True}})


def test_a_call_is_a_client_span_a_job_span_and_an_action_span_in_one_trace(spans: Spans) -> None:
    tracer = trace.get_tracer('test')
    with tracer.start_as_current_span('caller'):
        response = traced_client().call_action('c', 'relay', {'path': []})
    assert response.body == {'visited': ['c']}

    records = spans.records()
    assert_chain(records, ['INTERNAL caller', 'CLIENT c/relay', 'SERVER c/relay', 'INTERNAL run c/relay'])
    client, job, action = (only(records, key) for key in ('CLIENT c/relay', 'SERVER c/relay', 'INTERNAL run c/relay'))
    for span in (client, job, action):
        attributes = span['attributes']
        assert isinstance(attributes, dict)
        assert attributes['rpc.system'] == 'pysoa'
        assert attributes['rpc.service'] == 'c'
        assert attributes['rpc.method'] == 'relay'
        assert span['status'] == 'UNSET'
        assert 'pysoa.error_codes' not in attributes
    client_attributes, job_attributes = client['attributes'], job['attributes']
    assert isinstance(client_attributes, dict) and isinstance(job_attributes, dict)
    # The request id and correlation id that the client sent are the ones the service saw.
    assert client_attributes['pysoa.request_id'] == job_attributes['pysoa.request_id']
    assert action['attributes']['pysoa.request_id'] == job_attributes['pysoa.request_id']  # type: ignore[index]
    assert client_attributes['pysoa.correlation_id'] == job_attributes['pysoa.correlation_id']
    assert job_attributes['pysoa.actions'] == ['relay']


def test_three_services_in_process_make_one_trace_through_request_client(spans: Spans) -> None:
    route_c = local_route('c')
    route_b = local_route('b', {'c': route_c})
    client = Client({'a': {**local_route('a', {'b': route_b}), 'tracing': True}})

    response = client.call_action('a', 'relay', {'path': ['b', 'c']})

    assert response.body == {'visited': ['a', 'b', 'c']}
    records = spans.records()
    chain = ['CLIENT a/relay', 'SERVER a/relay', 'INTERNAL run a/relay']
    chain += ['CLIENT b/relay', 'SERVER b/relay', 'INTERNAL run b/relay']
    chain += ['CLIENT c/relay', 'SERVER c/relay', 'INTERNAL run c/relay']
    assert sorted(f'{r["kind"]} {r["name"]}' for r in records) == sorted(chain)
    assert only(records, 'CLIENT a/relay')['parent_id'] is None  # no span was current: the call began the trace
    assert_chain(records, chain)


def test_a_call_from_a_coroutine_the_action_runs_is_a_child_of_the_action(spans: Spans) -> None:
    client = Client({'b': {**local_route('b', {'c': local_route('c')}), 'tracing': True}})

    response = client.call_action('b', 'relay_in_coroutine', {'to': 'c'})

    assert response.body == {'visited': ['c']}
    assert_chain(
        spans.records(),
        ['CLIENT b/relay_in_coroutine', 'SERVER b/relay_in_coroutine', 'INTERNAL run b/relay_in_coroutine']
        + ['CLIENT c/relay', 'SERVER c/relay', 'INTERNAL run c/relay'],
    )


def test_a_job_of_several_actions_gets_one_job_span_and_a_span_per_action(spans: Spans) -> None:
    client = traced_client()
    response = client.call_actions('c', [{'action': 'relay', 'body': {'path': []}}, {'action': 'status'}])
    assert [action.action for action in response.actions] == ['relay', 'status']

    records = spans.records()
    assert_chain(records, ['CLIENT c/job', 'SERVER c/job', 'INTERNAL run c/relay'])
    assert_chain(records, ['SERVER c/job', 'INTERNAL run c/status'])
    job_attributes = only(records, 'SERVER c/job')['attributes']
    assert isinstance(job_attributes, dict)
    assert job_attributes['pysoa.actions'] == ['relay', 'status']
    assert 'rpc.method' not in job_attributes


def test_an_exception_in_an_action_marks_every_span_failed_with_server_error(spans: Spans) -> None:
    with pytest.raises(CallActionError):
        traced_client().call_action('c', 'fail')

    keys = ['CLIENT c/fail', 'SERVER c/fail', 'INTERNAL run c/fail']
    assert_server_error(spans.records(), keys, 'INTERNAL run c/fail', 'ZeroDivisionError: the divisor was zero')


@pytest.mark.parametrize(
    ('action', 'body', 'code'),
    [('refuse', {}, 'NOT_FOUND'), ('relay', {'path': 'not a list'}, 'INVALID')],
    ids=['action error', 'invalid body'],
)
def test_a_callers_error_fails_the_client_span_but_not_the_services(
    spans: Spans, action: str, body: dict[str, Any], code: str
) -> None:
    with pytest.raises(CallActionError):
        traced_client().call_action('c', action, body)

    records = spans.records()
    client = only(records, f'CLIENT c/{action}')
    assert client['status'] == 'ERROR'
    assert client['attributes']['pysoa.error_codes'] == [code]  # type: ignore[index]
    for key in (f'SERVER c/{action}', f'INTERNAL run c/{action}'):
        span = only(records, key)
        assert span['attributes']['pysoa.error_codes'] == [code], key  # type: ignore[index]
        assert span['status'] == 'UNSET', key  # served correctly: the caller got the request wrong


def test_a_caller_without_tracing_gets_its_answer_and_the_service_starts_a_new_trace(spans: Spans) -> None:
    # A 1.x client, or one without `tracing`, sends no trace context; the service's spans begin a trace of their own
    # even where a span is current in this thread (the local transport serves the request inside the call).
    client = Client({'c': local_route('c')})
    with trace.get_tracer('test').start_as_current_span('caller'):
        response = client.call_action('c', 'relay', {'path': []})

    assert response.body == {'visited': ['c']}
    records = spans.records()
    job = only(records, 'SERVER c/relay')
    assert job['parent_id'] is None
    assert job['trace_id'] != only(records, 'INTERNAL caller')['trace_id']
    assert_chain(records, ['SERVER c/relay', 'INTERNAL run c/relay'])
    assert 'pysoa.trace_context_error' not in job['attributes']  # type: ignore[operator]
    assert not [r for r in records if r['kind'] == 'CLIENT']


def test_a_traced_client_calls_a_service_without_tracing(spans: Spans) -> None:
    response = traced_client(server_tracing=False).call_action('c', 'relay', {'path': []})

    assert response.body == {'visited': ['c']}
    assert [f'{r["kind"]} {r["name"]}' for r in spans.records()] == ['CLIENT c/relay']


@pytest.mark.parametrize(
    'value',
    [
        {'traceparent': 'garbage'},
        {'traceparent': '00-00000000000000000000000000000000-b7ad6b7169203331-01'},
        {'traceparent': 42},
        {'traceparent': VALID_TRACEPARENT, 'tracestate': ['not', 'a', 'string']},
        {'tracestate': 'a=b'},
        'not a map',
        17,
    ],
    ids=['garbage', 'zero trace id', 'not a string', 'tracestate not a string', 'no traceparent', 'a string', 'int'],
)
def test_a_malformed_trace_context_is_ignored_with_a_debug_log(
    spans: Spans, caplog: pytest.LogCaptureFixture, value: object
) -> None:
    client = Client({'c': local_route('c')})
    with caplog.at_level(logging.DEBUG, logger='pysoa.tracing'):
        response = client.call_action('c', 'relay', {'path': []}, context={TRACE_CONTEXT_KEY: value})

    assert response.body == {'visited': ['c']}
    job = only(spans.records(), 'SERVER c/relay')
    assert job['parent_id'] is None
    assert job['status'] == 'UNSET'
    assert 'pysoa.trace_context_error' in job['attributes']  # type: ignore[operator]
    logged = [r for r in caplog.records if r.name == 'pysoa.tracing']
    assert len(logged) == 1
    assert logged[0].levelno == logging.DEBUG
    assert 'Ignoring the trace context of a request' in logged[0].getMessage()


def test_a_valid_trace_context_from_another_tracer_is_continued(spans: Spans) -> None:
    # What any W3C-speaking caller sends: the job span joins its trace, as a child of its span.
    client = Client({'c': local_route('c')})
    carrier = {'traceparent': VALID_TRACEPARENT, 'tracestate': 'vendor=value'}
    client.call_action('c', 'relay', {'path': []}, context={TRACE_CONTEXT_KEY: carrier})

    job = only(spans.records(), 'SERVER c/relay')
    assert job['trace_id'] == '0af7651916cd43dd8448eb211c80319c'
    assert job['parent_id'] == 'b7ad6b7169203331'


def test_a_traced_client_without_a_current_span_continues_the_trace_its_context_carries(spans: Spans) -> None:
    # A service that traces its calls but not its jobs copies its caller's trace context into its client's context.
    client = Client(
        {'c': {**local_route('c'), 'tracing': True}}, context={TRACE_CONTEXT_KEY: {'traceparent': VALID_TRACEPARENT}}
    )
    client.call_action('c', 'relay', {'path': []})

    records = spans.records()
    call = only(records, 'CLIENT c/relay')
    assert call['trace_id'] == '0af7651916cd43dd8448eb211c80319c'
    assert call['parent_id'] == 'b7ad6b7169203331'
    assert_chain(records, ['CLIENT c/relay', 'SERVER c/relay'])
    # The client's own context is left as it was: the call's trace context went out in a copy.
    assert client.context[TRACE_CONTEXT_KEY] == {'traceparent': VALID_TRACEPARENT}


def test_a_request_sent_without_a_response_ends_its_span_once_sent(spans: Spans) -> None:
    client = traced_client()
    client.send_request('c', [{'action': 'relay', 'body': {'path': []}}], suppress_response=True)

    records = spans.records()
    assert_chain(records, ['CLIENT c/relay', 'SERVER c/relay', 'INTERNAL run c/relay'])


def test_harakiri_in_an_action_marks_the_action_and_job_spans_with_action_timeout(spans: Spans) -> None:
    class Stuck(Action):
        def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
            raise HarakiriInterrupt()  # what the harakiri alarm raises into a job that ran too long

    class StuckServer(Server):
        service_name = 'stuck'
        action_class_map = {'stuck': Stuck}

    transport = {'path': LOCAL_TRANSPORT, 'kwargs': {'server_class': StuckServer, 'server_settings': {'tracing': True}}}
    with pytest.raises(CallActionError):
        Client({'stuck': {'transport': transport}}).call_action('stuck', 'stuck')

    records = spans.records()
    action = only(records, 'INTERNAL run stuck/stuck')
    assert action['status'] == 'ERROR'
    assert action['attributes']['pysoa.error_codes'] == ['ACTION_TIMEOUT']  # type: ignore[index]
    job = only(records, 'SERVER stuck/stuck')
    assert job['status'] == 'ERROR'
    assert job['attributes']['pysoa.error_codes'] == ['ACTION_TIMEOUT']  # type: ignore[index]


def test_past_the_limit_of_spans_awaiting_a_response_the_oldest_is_ended(
    spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_tracing, 'MAXIMUM_OPEN_SPANS', 2)
    client = traced_client()
    request_ids = [client.send_request('c', [{'action': 'relay', 'body': {'path': []}}]) for _ in range(3)]
    abandoned = [r for r in spans.records() if r['kind'] == 'CLIENT']
    assert len(abandoned) == 1
    assert abandoned[0]['attributes']['pysoa.request_id'] == request_ids[0]  # type: ignore[index]
    assert abandoned[0]['status'] == 'ERROR'
    assert abandoned[0]['status_description'] == 'No response received before too many later calls'

    assert sorted(request_id for request_id, _ in client.get_all_responses('c')) == request_ids
    answered = [r for r in spans.records() if r['kind'] == 'CLIENT'][1:]
    assert [r['attributes']['pysoa.request_id'] for r in answered] == request_ids[1:]  # type: ignore[index]
    assert [r['status'] for r in answered] == ['UNSET', 'UNSET']


async def _call_async(client: Client) -> None:
    with trace.get_tracer('test').start_as_current_span('awaiting caller'):
        await client.call_action_async('c', 'relay', {'path': []})


def test_an_awaited_call_is_a_child_of_the_awaiting_span(spans: Spans) -> None:
    import asyncio

    asyncio.run(_call_async(traced_client()))

    assert_chain(spans.records(), ['INTERNAL awaiting caller', 'CLIENT c/relay', 'SERVER c/relay'])
