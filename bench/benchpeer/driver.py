"""The measuring loop every benchmark client runs, whatever it calls.

Protocol with `run.py`: the process makes its warm-up calls, prints `ready`, waits for `go` on stdin, then
calls in a loop for `duration` seconds and prints one JSON line: calls, actions, elapsed seconds, its own CPU
seconds, errors, and every latency in microseconds.
"""

import cProfile
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def run_driver(config: dict[str, Any], call: Callable[[], int]) -> None:
    """Warm up, wait for `go`, time `call` (which returns the number of actions it ran) until the deadline."""
    for _ in range(config.get('warmup_calls', 50)):
        call()
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    if sys.stdin.readline().strip() != 'go':
        return
    profiler = cProfile.Profile() if config.get('profile') else None
    latencies: list[int] = []
    calls = actions = errors = 0
    duration = float(config['duration'])
    clock = time.perf_counter
    if profiler is not None:
        profiler.enable()
    cpu_start = time.process_time()
    start = clock()
    deadline = start + duration
    now = start
    while now < deadline:
        try:
            actions += call()
        except Exception as error:  # counted and reported; a benchmark keeps going
            errors += 1
            if errors == 1:
                sys.stderr.write(f'call failed: {type(error).__name__}: {error}\n')
        calls += 1
        after = clock()
        latencies.append(int((after - now) * 1_000_000))
        now = after
    elapsed = now - start
    cpu = time.process_time() - cpu_start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(config['profile'])
    result = {
        'calls': calls,
        'actions': actions,
        'errors': errors,
        'elapsed': elapsed,
        'cpu': cpu,
        'pid': os.getpid(),
        'latencies_us': latencies,
    }
    sys.stdout.write(json.dumps(result) + '\n')
    sys.stdout.flush()
