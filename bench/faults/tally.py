"""Counting what happened to each call of one fault run, from the callers' records and the service's.

Columns (docs/faults.rst explains them): `sent` calls; `answered`, the call returned its response; `errors`, the
call raised an error to its caller (a failed send, a timeout or transport error for a request that then ran or
expired unrun, a job error such as a dead letter); `lost`, the request reached Redis, the caller got no response,
and the request never ran to completion and was not refused as expired; `duplicated`, the request ran to
completion more than once or its caller's transport received more than one response to it; `hung`, the call
returned later than its bound (its timeout, else the transport's receive timeout) plus 1 s. `re-run`: requests
started more than once (at-least-once redelivery after a worker died mid-request).
"""

import collections
import dataclasses
from collections.abc import Iterable
from typing import Any

from bench.faults.traffic import DROPPED, Call

__all__ = ('Row', 'count')


@dataclasses.dataclass
class Row:
    fault: str
    delivery: str
    sent: int = 0
    answered: int = 0
    errors: int = 0
    lost: int = 0
    duplicated: int = 0
    hung: int = 0
    rerun: int = 0
    seconds: float = 0.0
    worst_over_bound: float = 0.0
    error_kinds: dict[str, int] = dataclasses.field(default_factory=dict)
    examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)

    def example(self, kind: str, text: str) -> None:
        found = self.examples.setdefault(kind, [])
        if len(found) < 5:
            found.append(text)


def count(
    row: Row,
    calls: Iterable[Call],
    accepted: set[str],
    started: dict[str, int],
    completed: dict[str, int],
    expired: set[str],
    expired_unnamed: int,
) -> Row:
    """Fill `row` from the calls. `expired`: uids the service refused as expired (dead letters); `expired_unnamed`:
    how many more it discarded as expired without telling which (at-most-once logs only the transport's id), so
    that many never-started requests count as errors, not lost: the count is exact, the examples of lost calls may
    name one that expired instead of another that did not."""
    dropped = collections.Counter(DROPPED)
    kinds: collections.Counter[str] = collections.Counter()
    spare_expired = expired_unnamed
    for call in calls:
        row.sent += 1
        runs, done = started.get(call.uid, 0), completed.get(call.uid, 0)
        over = call.elapsed - call.timeout
        row.worst_over_bound = max(row.worst_over_bound, over)
        if over > 1:
            row.hung += 1
            row.example('hung', f'{call.uid} {call.elapsed:.2f} s for a bound of {call.timeout} s ({call.outcome})')
        responses = (call.outcome == 'response') + dropped.get(call.uid, 0)
        if done > 1 or (call.outcome == 'response' and responses > 1):
            row.duplicated += 1
            row.example('duplicated', f'{call.uid}: completed {done}x, {responses} responses')
        if runs > 1:
            row.rerun += 1
        if call.outcome == 'response':
            row.answered += 1
            continue
        if call.uid in accepted and done == 0 and runs == 0 and call.uid not in expired and spare_expired > 0:
            spare_expired -= 1  # refused as expired, unnamed
            kinds['expired'] += 1
            row.errors += 1
        elif call.uid in accepted and done == 0 and call.uid not in expired:
            row.lost += 1
            row.example('lost', f'{call.uid}: {call.outcome} ({call.detail}); started {runs}x, never completed')
        else:
            row.errors += 1
            kinds['expired' if call.uid in expired else call.outcome] += 1
            row.example(f'error:{call.outcome}', call.detail)
    row.error_kinds = dict(kinds)
    return row


def as_json(row: Row) -> dict[str, Any]:
    return dataclasses.asdict(row)
