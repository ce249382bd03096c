"""A metrics recorder that sends to statsd (the `statsd` extra).

Metrics are buffered in a statsd pipeline and sent when the server or client calls `publish_all`
(once per request), so a request costs one UDP datagram rather than one per metric. Tags become
part of the metric name (`name.key_value`), since plain statsd has no tags.

Settings::

    'metrics': {'path': 'pysoa.common.statsd_recorder:StatsdMetricsRecorder',
                'kwargs': {'host': '127.0.0.1', 'port': 8125, 'prefix': 'my_service'}}
"""

import threading
import time
from collections.abc import Sized
from types import TracebackType
from typing import Protocol, Self

from pysoa.schema import fields

__all__ = ('StatsdMetricsRecorder',)


class _Pipeline(Protocol):
    """The part of the untyped `statsd` package's pipeline that this recorder uses."""

    _stats: Sized

    def incr(self, stat: str, count: int) -> object: ...
    def timing(self, stat: str, delta: float) -> object: ...
    def gauge(self, stat: str, value: int) -> object: ...
    def send(self) -> object: ...


def _metric_name(name: str, tags: dict[str, object]) -> str:
    if not tags:
        return name
    return name + ''.join(f'.{key}_{value}' for key, value in sorted(tags.items()))


class _StatsdCounter:
    __slots__ = ('_recorder', '_name')

    def __init__(self, recorder: 'StatsdMetricsRecorder', name: str) -> None:
        self._recorder, self._name = recorder, name

    def increment(self, amount: int = 1) -> int:
        self._recorder._pipeline().incr(self._name, amount)
        return amount


class _StatsdGauge:
    __slots__ = ('_recorder', '_name', '_as_timing')

    def __init__(self, recorder: 'StatsdMetricsRecorder', name: str, as_timing: bool) -> None:
        self._recorder, self._name, self._as_timing = recorder, name, as_timing

    def set(self, value: int | None = None) -> int:
        reading = value or 0
        if self._as_timing:
            # statsd has no histogram type; timings are the type it aggregates into a distribution.
            self._recorder._pipeline().timing(self._name, reading)
        else:
            self._recorder._pipeline().gauge(self._name, reading)
        return reading


class _StatsdTimer:
    __slots__ = ('_recorder', '_name', '_started')

    def __init__(self, recorder: 'StatsdMetricsRecorder', name: str) -> None:
        self._recorder, self._name, self._started = recorder, name, 0.0

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self) -> None:
        if self._started:
            milliseconds = (time.perf_counter() - self._started) * 1000.0
            self._recorder._pipeline().timing(self._name, milliseconds)
            self._started = 0.0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary(
        {
            'host': fields.UnicodeString(description='The statsd host (default 127.0.0.1)'),
            'port': fields.Integer(gt=0, lt=65536, description='The statsd UDP port (default 8125)'),
            'prefix': fields.Nullable(fields.UnicodeString(description='Prepended to every metric name')),
            'max_buffer_size': fields.Integer(gt=0, description='Metrics buffered before an early send (50)'),
        },
        optional_keys=('host', 'port', 'prefix', 'max_buffer_size'),
    ),
)
class StatsdMetricsRecorder:
    """Records counters, gauges, histograms and timers to a statsd server over UDP."""

    def __init__(
        self, host: str = '127.0.0.1', port: int = 8125, prefix: str | None = None, max_buffer_size: int = 50
    ) -> None:
        try:
            import statsd
        except ImportError as error:  # pragma: no cover - depends on the environment
            message = "StatsdMetricsRecorder needs the `statsd` package: pip install 'pysoa[statsd]'"
            raise ImportError(message) from error
        self._client = statsd.StatsClient(host=host, port=port, prefix=prefix, maxudpsize=512)
        self._max_buffer_size = max_buffer_size
        # Servers and clients may record from several threads; each buffers on its own pipeline.
        self._local = threading.local()

    def _pipeline(self) -> _Pipeline:
        pipeline: _Pipeline | None = getattr(self._local, 'pipeline', None)
        if pipeline is None:
            pipeline = self._local.pipeline = self._client.pipeline()
        elif len(pipeline._stats) >= self._max_buffer_size:
            pipeline.send()
        return pipeline

    def counter(self, name: str, **tags: object) -> _StatsdCounter:
        """Return a counter for `name`."""
        return _StatsdCounter(self, _metric_name(name, tags))

    def gauge(self, name: str, **kwargs: object) -> _StatsdGauge:
        """Return a gauge for `name` (`initial_value` and `force_new` are accepted and ignored)."""
        return _StatsdGauge(self, _metric_name(name, _tags_only(kwargs)), as_timing=False)

    def histogram(self, name: str, **kwargs: object) -> _StatsdGauge:
        """Return a histogram for `name`, sent as a statsd timing."""
        return _StatsdGauge(self, _metric_name(name, _tags_only(kwargs)), as_timing=True)

    def timer(self, name: str, **kwargs: object) -> _StatsdTimer:
        """Return a timer for `name`, in milliseconds."""
        return _StatsdTimer(self, _metric_name(name, _tags_only(kwargs)))

    def publish_all(self) -> None:
        """Send what this thread has buffered, in as few datagrams as fit."""
        pipeline = getattr(self._local, 'pipeline', None)
        if pipeline is not None and pipeline._stats:
            pipeline.send()

    def close(self) -> None:
        """Send what is buffered and close the UDP socket."""
        self.publish_all()
        self._client.close()

    def publish_if_full_or_old(self, max_metrics: int = 18, max_age: int = 10) -> None:
        """Send now; buffering already bounds the datagram count."""
        self.publish_all()

    def throttled_publish_all(self, max_metrics: int = 18, max_age: int = 10) -> None:
        """Send now; buffering already bounds the datagram count."""
        self.publish_all()


_NON_TAG_KWARGS = frozenset({'force_new', 'initial_value', 'resolution'})


def _tags_only(kwargs: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in kwargs.items() if key not in _NON_TAG_KWARGS}
