"""The statsd recorder: metrics buffered per thread and sent as statsd lines to a real UDP socket."""

import socket
from collections.abc import Iterator

import pytest

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.statsd_recorder import StatsdMetricsRecorder


@pytest.fixture(autouse=True)
def _close_recorders(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    made: list[StatsdMetricsRecorder] = []
    original_init = StatsdMetricsRecorder.__init__

    def tracking_init(self: StatsdMetricsRecorder, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(StatsdMetricsRecorder, '__init__', tracking_init)
    yield
    for recorder in made:
        recorder.close()


def _lines(sock: socket.socket) -> list[str]:
    return sock.recv(65536).decode().split('\n')


def test_metrics_are_sent_on_publish(udp_socket: socket.socket) -> None:
    recorder = StatsdMetricsRecorder(port=udp_socket.getsockname()[1], prefix='svc')
    assert isinstance(recorder, MetricsRecorder)
    recorder.counter('server.error', harakiri_level='job').increment()
    recorder.counter('calls').increment(3)
    recorder.gauge('busy').set(1)
    recorder.histogram('size', initial_value=0).set(120)
    with recorder.timer('latency', resolution='ms'):
        pass
    recorder.publish_all()
    lines = _lines(udp_socket)
    assert lines[:4] == [
        'svc.server.error.harakiri_level_job:1|c',
        'svc.calls:3|c',
        'svc.busy:1|g',
        'svc.size:120.000000|ms',
    ]
    assert lines[4].startswith('svc.latency:') and lines[4].endswith('|ms')


def test_nothing_is_sent_before_publish(udp_socket: socket.socket) -> None:
    recorder = StatsdMetricsRecorder(port=udp_socket.getsockname()[1])
    recorder.counter('first').increment()
    udp_socket.settimeout(0.05)
    with pytest.raises(TimeoutError):
        udp_socket.recv(100)
    recorder.publish_all()
    udp_socket.settimeout(5)
    assert _lines(udp_socket) == ['first:1|c']


def test_recorder_is_configurable_through_settings(udp_socket: socket.socket) -> None:
    from pysoa.common.settings import SOASettings

    settings = SOASettings(
        {
            'transport': {'path': 'pysoa.common.metrics:NoOpMetricsRecorder'},
            'metrics': {
                'path': 'pysoa.common.statsd_recorder:StatsdMetricsRecorder',
                'kwargs': {'port': udp_socket.getsockname()[1]},
            },
        }
    )
    recorder = settings['metrics']['object'](**settings['metrics'].get('kwargs', {}))
    recorder.counter('configured').increment()
    recorder.publish_all()
    assert _lines(udp_socket) == ['configured:1|c']

    with pytest.raises(SOASettings.ImproperlyConfigured) as info:
        SOASettings(
            {
                'transport': {'path': 'pysoa.common.metrics:NoOpMetricsRecorder'},
                'metrics': {'path': 'pysoa.common.statsd_recorder:StatsdMetricsRecorder', 'kwargs': {'prot': 1}},
            }
        )
    assert 'prot' in str(info.value)
