"""Per-action metrics: calls, duration and errors by code, recorded through the server's metrics recorder.

The action's name is part of each metric's name rather than a tag, so that every recorder gets them apart (plain
statsd, and `pymetrics` publishers that drop tags)::

    server.action.<action>.calls              counter, each run of the action
    server.action.<action>.duration           timer (milliseconds), each run, whatever its outcome
    server.action.<action>.error.<CODE>       counter, each error of that code in the action's response
    server.action.<action>.request_invalid    counter, a request body that failed the action's `request_schema`
    server.action.<action>.response_invalid   counter, a response body that failed its `response_schema`

In names, characters other than letters, digits, `_` and `-` become `_` (a `.` would add a level, a `:` or `|`
break the statsd line). An action name that the server does not know is counted as `_unknown`: the names come
from callers, and a caller must not be able to create metrics at will.
"""

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pysoa.common.errors import Error
from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS, MetricsRecorder, Timer

if TYPE_CHECKING:
    from pysoa.server.types import EnrichedActionRequest

__all__ = ('ActionCall', 'UNKNOWN_ACTION', 'count_invalid_body', 'metric_part')

UNKNOWN_ACTION = '_unknown'
"""What stands for the action's name in the metrics of a call to an action the server does not have."""

_UNSAFE = re.compile(r'[^A-Za-z0-9_\-]')


def metric_part(name: str) -> str:
    """`name` made safe as one part of a metric name."""
    return _UNSAFE.sub('_', name) or '_'


class ActionCall:
    """The metrics of one run of an action: `start` counts the call and starts its timer, `finish` records the rest."""

    __slots__ = ('_metrics', '_prefix', '_timer')

    def __init__(self, metrics: MetricsRecorder, prefix: str, timer: Timer) -> None:
        self._metrics, self._prefix, self._timer = metrics, prefix, timer

    @classmethod
    def start(cls, metrics: MetricsRecorder, action: str, known: bool) -> 'ActionCall':
        """Count a call of `action` (`known`: whether the server has it) and start timing it."""
        prefix = f'server.action.{metric_part(action) if known else UNKNOWN_ACTION}'
        metrics.counter(f'{prefix}.calls').increment()
        timer = metrics.timer(f'{prefix}.duration', **MICROSECOND_TIMER_KWARGS)
        timer.start()
        return cls(metrics, prefix, timer)

    def finish(self, errors: Iterable[Error]) -> None:
        """Stop the timer and count each error of the action's response by its code."""
        self._timer.stop()
        for error in errors:
            self._metrics.counter(f'{self._prefix}.error.{metric_part(str(error.code))}').increment()


def count_invalid_body(request: 'EnrichedActionRequest', which: str) -> None:
    """Count a request or response body (`which`) that failed the action's schema, when a server runs the action."""
    server = getattr(request, '_server', None)
    metrics = getattr(server, 'metrics', None)
    if metrics is not None:
        metrics.counter(f'server.action.{metric_part(request.action)}.{which}_invalid').increment()
