"""The benchmark harness still runs end to end (a fraction of a second per case); it measures nothing here."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(180)
def test_bench_runs_raw_and_pysoa_cases(tmp_path: Path) -> None:
    """`bench/run.py` starts its own Redis, workers and clients, prints the tables and saves the raw results."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / 'bench' / 'run.py'),
            '--duration',
            '0.3',
            '--reps',
            '1',
            '--impl',
            'raw,raw+msgpack,pysoa',
            '--workloads',
            'seq,batch,large1m',
            '--output-dir',
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert '### Throughput' in done.stdout
    [saved] = tmp_path.glob('*.json')
    results = json.loads(saved.read_text())['results']
    cases = {(r['implementation'], r['workload']) for r in results}
    assert cases == {(i, w) for i in ('raw', 'raw+msgpack', 'pysoa') for w in ('seq', 'batch', 'large1m')}
    for result in results:
        assert result['calls'] > 0 and result['errors'] == 0, result
        assert result['actions'] == result['calls'] * (10 if result['workload'] == 'batch' else 1)
