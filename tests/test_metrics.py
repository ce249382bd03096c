"""The metrics seam: the no-op default satisfies the recorder protocol, and so does pymetrics' recorder."""

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


def test_pymetrics_recorder_fits_the_protocol() -> None:
    from pymetrics.recorders.default import DefaultMetricsRecorder

    config = {'version': 2, 'publishers': [{'path': 'pymetrics.publishers.null:NullPublisher'}]}
    recorder = DefaultMetricsRecorder('test', config=config)
    assert isinstance(recorder, MetricsRecorder)
    recorder.counter('calls').increment()
    assert noop_metrics.counter('x').increment() == 0
