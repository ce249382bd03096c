"""PySOA 1.x's metrics library, pymetrics, still plugs in: its recorder satisfies pysoa's recorder protocol.

pymetrics requires Conformity (and `attrs<22`), so it is installed with the `testing` extra, next to Conformity,
and this file is one of the compatibility tests that the run without Conformity leaves out.
"""

from tests.ci import require_module

require_module('pymetrics')

from pymetrics.recorders.default import DefaultMetricsRecorder  # noqa: E402

from pysoa.common.metrics import MetricsRecorder  # noqa: E402


def test_pymetrics_recorder_fits_the_protocol() -> None:
    config = {'version': 2, 'publishers': [{'path': 'pymetrics.publishers.null:NullPublisher'}]}
    recorder = DefaultMetricsRecorder('test', config=config)
    assert isinstance(recorder, MetricsRecorder)
    recorder.counter('calls').increment()
