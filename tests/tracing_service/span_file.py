"""A span exporter that appends each span as one JSON line to a file, so a test can read a worker process's spans."""

import json
import threading
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

__all__ = ('SpanFileExporter', 'install_span_file', 'span_record')


def span_record(span: ReadableSpan) -> dict[str, object]:
    """What the tests check of a span, as JSON-ready values (ids in hex, as W3C writes them)."""
    context = span.get_span_context()
    assert context is not None
    return {
        'name': span.name,
        'kind': span.kind.name,
        'trace_id': f'{context.trace_id:032x}',
        'span_id': f'{context.span_id:016x}',
        'parent_id': f'{span.parent.span_id:016x}' if span.parent is not None else None,
        'attributes': {
            key: list(value) if isinstance(value, tuple) else value for key, value in span.attributes.items()
        }
        if span.attributes
        else {},
        'status': span.status.status_code.name,
        'status_description': span.status.description,
        'events': [event.name for event in span.events],
    }


class SpanFileExporter(SpanExporter):
    """Appends `span_record(span)` as a JSON line to `path` for every span exported."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = ''.join(json.dumps(span_record(span)) + '\n' for span in spans)
        with self._lock, open(self._path, 'a') as file:
            file.write(lines)
        return SpanExportResult.SUCCESS


def install_span_file(path: str) -> None:
    """Make the global tracer provider one that writes every span it ends to `path`."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanFileExporter(path)))
    trace.set_tracer_provider(provider)
