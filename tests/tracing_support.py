"""For the tracing tests: the spans this process ends, caught by the SDK's in-memory exporter, and span checks.

Import it after `require_module('opentelemetry.sdk')`, so that a missing SDK skips the test module (fails it in CI).
"""

from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.tracing_service.span_file import span_record

__all__ = ('SpanRecord', 'Spans', 'assert_chain', 'assert_server_error', 'caught_spans', 'key_of', 'only')

SpanRecord = dict[str, object]

_EXPORTER = InMemorySpanExporter()
_installed = False


def _install() -> None:
    # The global provider can be set once per process: set it if nobody has, and add our exporter to it once.
    global _installed
    if _installed:
        return
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    _installed = True


class Spans:
    """The spans ended in this process since the test began."""

    def records(self) -> list[SpanRecord]:
        """Each finished span as `span_record` describes it, in the order they ended."""
        return [span_record(span) for span in _EXPORTER.get_finished_spans()]


def caught_spans() -> Iterator[Spans]:
    """The body of a test module's `spans` fixture: the spans the test's code ends, caught in memory."""
    _install()
    _EXPORTER.clear()
    yield Spans()
    _EXPORTER.clear()


def key_of(record: SpanRecord) -> str:
    """`'KIND name'`: the kind tells a call's client and server spans apart, which share the name `service/action`."""
    return f'{record["kind"]} {record["name"]}'


def only(records: list[SpanRecord], key: str) -> SpanRecord:
    """The one span whose `key_of` is `key` among `records` (fails if there are none or several)."""
    found = [record for record in records if key_of(record) == key]
    assert len(found) == 1, f'expected one span {key!r}, found {len(found)} in {[key_of(r) for r in records]}'
    return found[0]


def assert_chain(records: list[SpanRecord], keys: list[str]) -> None:
    """The spans `keys` (see `key_of`) are each the parent of the next, in one trace."""
    chain = [only(records, key) for key in keys]
    for parent, child in zip(chain, chain[1:], strict=False):
        assert child['trace_id'] == parent['trace_id'], f'{child["name"]} is in another trace than {parent["name"]}'
        assert child['parent_id'] == parent['span_id'], f'{child["name"]} is not a child of {parent["name"]}'


def assert_server_error(records: list[SpanRecord], keys: list[str], action_key: str, exception: str) -> None:
    """The spans `keys` all failed with `SERVER_ERROR`, and the action span `action_key` holds `exception`
    (`'Type: message'`), the one that escaped the action."""
    for key in keys:
        record = only(records, key)
        assert record['status'] == 'ERROR', key
        assert record['attributes']['pysoa.error_codes'] == ['SERVER_ERROR'], key  # type: ignore[index]
    failed = only(records, action_key)
    assert failed['events'] == ['exception']
    assert failed['status_description'] == exception
