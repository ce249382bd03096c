"""`python -m bench.faults` runs end to end: one fault, one delivery mode, and its row is what the docs promise.

The worker-SIGKILL fault under at-least-once delivery (about 20 s): two workers serve steady traffic, three are
killed mid-request, and every call is still answered, none lost, duplicated or late; the killed requests ran again.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pysoa.test.redis_server import find_redis_server_binary
from tests.ci import unavailable
from tests.paths import PROJECT_ROOT


@pytest.mark.timeout(150)
def test_the_fault_script_counts_a_sigkill_run_with_none_lost_duplicated_or_hung(tmp_path: Path) -> None:
    if find_redis_server_binary() is None:
        unavailable('no redis-server')
    command = [sys.executable, '-m', 'bench.faults', '--faults', 'sigkill', '--delivery', 'at-least-once']
    done = subprocess.run(
        [*command, '--out', str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=140
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [saved] = tmp_path.glob('faults-*.json')
    [row] = json.loads(saved.read_text())['rows']
    print(row)
    assert (row['fault'], row['delivery']) == ('sigkill', 'at-least-once')
    assert row['sent'] > 10 and row['answered'] == row['sent']
    assert (row['errors'], row['lost'], row['duplicated'], row['hung']) == (0, 0, 0, 0)
    assert 1 <= row['rerun'] <= 3  # the killed requests, run again by another worker
    assert sum(note.startswith('killed worker') for note in row['notes']) == 3
    assert '| sigkill | at-least-once |' in done.stdout
