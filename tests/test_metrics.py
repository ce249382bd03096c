"""The metrics seam: the no-op default satisfies the recorder protocol (pymetrics': test_conformity_pymetrics.py)."""

from pysoa.common.metrics import MetricsRecorder, NoOpMetricsRecorder, noop_metrics


def test_noop_recorder_supports_every_metric_kind() -> None:
    recorder = NoOpMetricsRecorder()
    assert isinstance(recorder, MetricsRecorder)
    recorder.counter('calls', service='x').increment()
    recorder.gauge('queue').set(3)
    recorder.histogram('size').set(10)
    with recorder.timer('latency'):
        pass
    timer = recorder.timer('other')
    timer.start()
    timer.stop()
    recorder.publish_all()


def test_the_shared_noop_recorder_counts_nothing() -> None:
    assert noop_metrics.counter('x').increment() == 0
