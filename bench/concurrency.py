"""The concurrent worker's benchmark: one worker process, an action that awaits 5 ms of simulated I/O.

    .venv/bin/python bench/concurrency.py                        # concurrency 1, 10 and 100, 8 s each
    .venv/bin/python bench/concurrency.py --duration 3 --levels 1,100

For each level it starts a private redis-server's worker (`tests.concurrent_service`, logging at WARNING) with
that `concurrency`, then keeps as many requests outstanding from one client process (a closed loop: each response
sends the next request) for the duration, and prints jobs/s, the median and p99 latency (send to response), and
the worker's CPU. It asserts nothing.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pysoa.client import Client  # noqa: E402
from pysoa.common.transport.errors import MessageReceiveTimeout  # noqa: E402
from pysoa.test.redis_server import RedisServerProcess  # noqa: E402
from pysoa.test.service_process import ServiceProcess  # noqa: E402

_CLOCK_TICKS = os.sysconf('SC_CLK_TCK')
_IO_SECONDS = 0.005


def _cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _client(redis_url: str) -> Client:
    transport = {
        'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
        'kwargs': {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}},
    }
    return Client({'concurrent': {'transport': transport}})


def _drive(client: Client, outstanding: int, duration: float) -> tuple[int, list[float]]:
    """Keep `outstanding` requests in flight for `duration` seconds; return the jobs done and their latencies."""
    action = [{'action': 'sleep', 'body': {'seconds': _IO_SECONDS}}]
    sent: dict[int, float] = {}
    for _ in range(outstanding):
        sent[client.send_request('concurrent', action)] = time.perf_counter()
    latencies: list[float] = []
    end = time.perf_counter() + duration
    try:
        # The generator goes on while requests are outstanding: each response sends the next request at once.
        for request_id, _response in client.get_all_responses('concurrent', receive_timeout_in_seconds=5):
            now = time.perf_counter()
            latencies.append(now - sent.pop(request_id))
            if now >= end:
                break
            sent[client.send_request('concurrent', action)] = time.perf_counter()
    except MessageReceiveTimeout:
        pass  # the worker stopped answering: report what was done
    # Drain what is still in flight, uncounted, so the next level starts on an empty queue.
    drain_end = time.perf_counter() + 10
    while sent and time.perf_counter() < drain_end:
        try:
            for request_id, _response in client.get_all_responses('concurrent', receive_timeout_in_seconds=5):
                sent.pop(request_id, None)
        except MessageReceiveTimeout:
            break
    return len(latencies), latencies


def run_level(redis: RedisServerProcess, concurrency: int, duration: float) -> dict[str, float]:
    """Measure one concurrency level in a fresh worker process."""
    heartbeats = Path(os.environ.get('TMPDIR', '/tmp')) / f'pysoa-bench-concurrency-{os.getpid()}-{concurrency}'
    heartbeats.mkdir(exist_ok=True)
    service = ServiceProcess(
        'tests.concurrent_service',
        'tests.concurrent_service.settings',
        env={'PYSOA_REDIS_URL': redis.url, 'CONCURRENCY': str(concurrency), 'CONCURRENT_LOG_LEVEL': 'WARNING'},
        python_path=[str(REPO_ROOT)],
        cwd=str(REPO_ROOT),
        heartbeat_dir=str(heartbeats),
        heartbeat_env='ECHO_HEARTBEAT_FILE',
    )
    service.start()
    try:
        service.wait_for_workers()
        assert service.process is not None
        client = _client(redis.url)
        _drive(client, concurrency, min(1.0, duration))  # warm up
        cpu_before, started = _cpu_seconds(service.process.pid), time.perf_counter()
        client_before = time.process_time()
        done, latencies = _drive(client, concurrency, duration)
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(service.process.pid) - cpu_before
        client_cpu = time.process_time() - client_before
    finally:
        service.stop()
        service.cleanup()
    latencies.sort()
    return {
        'jobs_per_second': done / elapsed,
        'p50_ms': statistics.median(latencies) * 1000 if latencies else float('nan'),
        'p99_ms': latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float('nan'),
        'worker_cpu_ms_per_job': cpu / done * 1000 if done else float('nan'),
        'client_cpu_ms_per_job': client_cpu / done * 1000 if done else float('nan'),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--duration', type=float, default=8.0, help='seconds measured per level')
    parser.add_argument('--levels', default='1,10,100', help='concurrency levels, comma-separated')
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(',')]
    results: dict[int, dict[str, float]] = {}
    with RedisServerProcess() as redis:
        for level in levels:
            results[level] = run_level(redis, level, args.duration)
    base = results[levels[0]]['jobs_per_second']
    print(f'one worker process, an action awaiting {_IO_SECONDS * 1000:.0f} ms, {args.duration:.0f} s per level')
    print('| concurrency | jobs/s | vs first | p50 ms | p99 ms | worker CPU ms/job | client CPU ms/job |')
    print('|---|---|---|---|---|---|---|')
    for level, figures in results.items():
        print(
            f'| {level} | {figures["jobs_per_second"]:,.0f} | {figures["jobs_per_second"] / base:.1f}x '
            f'| {figures["p50_ms"]:.1f} | {figures["p99_ms"]:.1f} | {figures["worker_cpu_ms_per_job"]:.2f} '
            f'| {figures["client_cpu_ms_per_job"]:.2f} |'
        )


if __name__ == '__main__':
    main()
