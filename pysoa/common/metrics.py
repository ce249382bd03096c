"""The metrics recorder seam: what the client, server and transports call to count and time things.

The interface matches the one PySOA 1.x used (the `pymetrics` recorder), so a recorder configured
for a 1.x service keeps working. The default recorder does nothing and costs next to nothing.
"""

from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from pysoa.schema import fields

__all__ = (
    'Counter',
    'Gauge',
    'MICROSECOND_TIMER_KWARGS',
    'Histogram',
    'MetricsRecorder',
    'NoOpMetricsRecorder',
    'Timer',
    'noop_metrics',
)


class Counter(Protocol):
    """A value that only goes up."""

    def increment(self, amount: int = 1) -> int:
        """Add `amount` to the counter."""
        ...


class Gauge(Protocol):
    """A value set to an absolute reading."""

    def set(self, value: int | None = None) -> int:
        """Record the reading."""
        ...


Histogram = Gauge
"""A value whose distribution the backend aggregates; same interface as a gauge."""

try:
    from pymetrics.instruments import TimerResolution

    MICROSECOND_TIMER_KWARGS: dict[str, object] = {'resolution': TimerResolution.MICROSECONDS}
except ImportError:  # pymetrics is optional; our own recorders ignore `resolution`, so they need none
    MICROSECOND_TIMER_KWARGS = {}
"""Keyword arguments for `recorder.timer(...)` that ask a 1.x `pymetrics` recorder for microseconds."""


class Timer(Protocol):
    """Measures a span of time; usable as a context manager."""

    def start(self) -> None:
        """Start (or restart) the clock."""
        ...

    def stop(self) -> None:
        """Stop the clock and record the elapsed time."""
        ...

    def __enter__(self) -> object: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...


@runtime_checkable
class MetricsRecorder(Protocol):
    """What a metrics recorder must offer; `pymetrics` recorders qualify as they are."""

    def counter(self, name: str, **tags: object) -> Counter:
        """Return a counter for `name`."""
        ...

    def timer(self, name: str, **kwargs: object) -> Timer:
        """Return a timer for `name`."""
        ...

    def gauge(self, name: str, **kwargs: object) -> Gauge:
        """Return a gauge for `name`."""
        ...

    def histogram(self, name: str, **kwargs: object) -> Histogram:
        """Return a histogram for `name`."""
        ...

    def publish_all(self) -> None:
        """Send everything recorded so far."""
        ...


class _NoOpMetric:
    """One shared object that is every kind of metric and records nothing."""

    __slots__ = ()

    def increment(self, amount: int = 1) -> int:
        return 0

    def set(self, value: int | None = None) -> int:
        return 0

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


_NOOP_METRIC = _NoOpMetric()


@fields.ClassConfigurationSchema.provider(
    fields.SchemalessDictionary(description='Accepts and ignores any arguments'),
)
class NoOpMetricsRecorder:
    """The default recorder: every call returns a shared metric that records nothing."""

    def __init__(self, **_: object) -> None:
        pass

    def counter(self, name: str, **tags: object) -> Counter:
        """Return a counter that counts nothing."""
        return _NOOP_METRIC

    def timer(self, name: str, **kwargs: object) -> Timer:
        """Return a timer that times nothing."""
        return _NOOP_METRIC

    def gauge(self, name: str, **kwargs: object) -> Gauge:
        """Return a gauge that records nothing."""
        return _NOOP_METRIC

    def histogram(self, name: str, **kwargs: object) -> Histogram:
        """Return a histogram that records nothing."""
        return _NOOP_METRIC

    def publish_all(self) -> None:
        """Nothing to publish."""

    def publish_if_full_or_old(self, max_metrics: int = 18, max_age: int = 10) -> None:
        """Nothing to publish."""

    def throttled_publish_all(self, max_metrics: int = 18, max_age: int = 10) -> None:
        """Nothing to publish."""


noop_metrics = NoOpMetricsRecorder()
"""A shared instance of the no-op recorder."""
