"""`python -m bench.faults [--faults a,b] [--delivery both] [--outage 20]`: run faults, print the table, save JSON.

Every run gets fresh processes (the executions Redis is shared: ids never repeat). The JSON goes to
`bench/results/faults-<UTC time>.json` with the table beside it as `.md`.
"""

import argparse
import datetime
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench.faults.faults import FAULTS, Fault, settle
from bench.faults.stage import ROOT, Stage
from bench.faults.tally import Row, as_json, count
from bench.faults.traffic import RESENT, SENT, count_dropped_responses
from pysoa.test.redis_server import RedisServerProcess

__all__ = ('main',)

DELIVERIES = ('at-most-once', 'at-least-once')
COLUMNS = ('sent', 'answered', 'errors', 'lost', 'duplicated', 'hung', 'rerun')


def _hash(store: 'redis.Redis', name: str) -> dict[str, int]:
    entries: dict[bytes, bytes] = store.hgetall(name)  # type: ignore[assignment]  # a sync client's answer
    return {key.decode(): int(value) for key, value in entries.items()}


def run_one(
    fault: Fault, delivery: str, seconds: float, executions: RedisServerProcess, workdir: Path, cluster: Any
) -> Row:
    row = Row(fault.name, delivery)
    stage = Stage(fault.name, delivery, fault.plan, executions.url, workdir, cluster)
    started = time.monotonic()
    try:
        stage.start()
        fault.inject(stage, seconds)
        fault_ended = time.monotonic()
        stage.finish()
        assert stage.traffic is not None and stage.service is not None
        with redis.Redis.from_url(executions.url) as store:
            begun, completed = _hash(store, 'started'), _hash(store, 'completed')
        expired, expired_unnamed = stage.expired()
        count(row, stage.traffic.calls, set(SENT.values()), begun, completed, expired, expired_unnamed)
        stage.notes.extend(stage.traffic.failures)
        after = [call for call in stage.traffic.calls if call.started >= fault_ended]
        recovered = sum(1 for call in after if call.outcome == 'response')
        stage.notes.append(f'after the fault: {recovered} of {len(after)} calls answered')
        uids = {call.uid for call in stage.traffic.calls}
        if resent := sum(1 for uid in RESENT if uid in uids):
            stage.notes.append(f'{resent} requests sent again by their client: a failover had lost them')
        forged_accepted = sum(1 for call in stage.traffic.calls if call.pid == 1)
        if forged_accepted:
            stage.notes.append(f'{forged_accepted} forged responses accepted as answers')
        if stage.rogue_uids:
            ran = sum(1 for uid in stage.rogue_uids if completed.get(uid, 0))
            twice = sum(1 for uid in stage.rogue_uids if completed.get(uid, 0) > 1)
            stage.notes.append(f'{len(stage.rogue_uids)} rogue requests: {ran} ran, {twice} more than once')
        if stage.service.process is None or stage.service.process.poll() is not None:
            stage.notes.append('the service exited')
    except Exception as error:  # a run that breaks is reported, and the others still run
        stage.notes.append(f'the run failed: {type(error).__name__}: {error}')
    finally:
        stage.stop()
        row.seconds = round(time.monotonic() - started, 1)
        row.notes = stage.notes
    return row


def table(rows: list[Row]) -> str:
    lines = [
        '| fault | delivery | ' + ' | '.join(COLUMNS) + ' | worst over bound (s) |',
        '|---|---|' + '---|' * (len(COLUMNS) + 1),
    ]
    for row in rows:
        values = ' | '.join(str(getattr(row, column)) for column in COLUMNS)
        lines.append(f'| {row.fault} | {row.delivery} | {values} | {row.worst_over_bound:+.2f} |')
    return '\n'.join(lines)


def _cluster(needed: bool) -> Any:
    if not needed:
        return None
    from tests.test_redis_sentinel import SentinelCluster

    cluster = SentinelCluster()
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench.faults', description=__doc__)
    parser.add_argument('--faults', default=','.join(FAULTS), help=f'comma-separated, of: {", ".join(FAULTS)}')
    parser.add_argument('--delivery', default='both', choices=('both', *DELIVERIES))
    parser.add_argument('--outage', type=float, default=20.0, help='seconds Redis stays down or frozen (20)')
    parser.add_argument(
        '--duration', type=float, default=10.0, help='seconds the traffic meets each of the other faults (10)'
    )
    parser.add_argument('--out', default=str(ROOT / 'bench' / 'results'), help='where the JSON and table go')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the transports' warnings (a master moved, ...) are the faults' own
    count_dropped_responses()
    names = [name.strip() for name in args.faults.split(',') if name.strip()]
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        parser.error(f'unknown fault(s) {", ".join(unknown)}; expected some of {", ".join(FAULTS)}')
    deliveries = DELIVERIES if args.delivery == 'both' else (args.delivery,)
    stamp = datetime.datetime.now(datetime.UTC).strftime('%Y%m%dT%H%M%SZ')
    command = 'python -m bench.faults ' + ' '.join(argv if argv is not None else sys.argv[1:])
    began = time.monotonic()
    rows: list[Row] = []
    workdir = Path(tempfile.mkdtemp(prefix='pysoa-faults-'))
    executions = RedisServerProcess().start(timeout=20)
    cluster = _cluster(any(FAULTS[name].plan.sentinel for name in names))
    try:
        for name in names:
            for delivery in deliveries:
                print(f'{name} / {delivery}: {FAULTS[name].title} ...', flush=True)
                fault = FAULTS[name]
                seconds = args.outage if fault.outage else args.duration
                row = run_one(fault, delivery, seconds, executions, workdir, cluster)
                rows.append(row)
                print(f'  {row.seconds} s: ' + ', '.join(f'{c} {getattr(row, c)}' for c in COLUMNS), flush=True)
                for note in row.notes:
                    print(f'  note: {note}', flush=True)
                settle(1)
    finally:
        if cluster is not None:
            cluster.stop()
        executions.stop()
    total = time.monotonic() - began
    text = table(rows)
    print(f'\n{command}  ({stamp}, {total:.0f} s; service logs in {workdir})\n\n{text}')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        'stamp': stamp,
        'command': command,
        'seconds': round(total, 1),
        'outage_seconds': args.outage,
        'duration_seconds': args.duration,
        'python': platform.python_version(),
        'machine': platform.platform(),
        'faults': {name: FAULTS[name].title for name in names},
        'rows': [as_json(row) for row in rows],
    }
    (out / f'faults-{stamp}.json').write_text(json.dumps(report, indent=1) + '\n')
    (out / f'faults-{stamp}.md').write_text(f'`{command}` ({stamp}, {total:.0f} s)\n\n{text}\n')
    print(f'\nsaved {out / f"faults-{stamp}.json"}')
    bad = [row for row in rows if row.hung or row.duplicated or (row.delivery == 'at-least-once' and row.lost)]
    return 1 if bad else 0
