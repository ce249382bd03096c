"""100 concurrent calls from one client process: the asyncio client against 100 threads and against bare redis.asyncio.

    .venv/bin/python bench/async_client.py                    # 5 s per case, 100 concurrent calls, 2 workers
    .venv/bin/python bench/async_client.py --duration 3 --concurrency 50

Cases, each in fresh processes on one private redis-server:

- `async`: one task per concurrent call, each calling `await client.call_action_async(...)` in a loop (one `Client`);
- `threads`: one thread per concurrent call, each calling `client.call_action(...)` in a loop (one `Client`);
- `raw-async`: the limit, bare `redis.asyncio`: each task pushes an opaque blob the size of pysoa's request (RPUSH)
  and waits on its own reply list (BLPOP), answered by `benchpeer.raw` workers with a blob the size of the response.

The pysoa cases call the `small` action of the benchmark service (`benchpeer.service`: schemas on both sides).
Each client process reports its calls and its own CPU time (`time.process_time`); worker CPU is read from `/proc`.
It prints a table and asserts nothing.
"""

import argparse
import asyncio
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
for entry in (str(REPO_ROOT), str(BENCH_DIR)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import redis  # noqa: E402

from pysoa.test.processes import terminate  # noqa: E402
from pysoa.test.redis_server import RedisServerProcess  # noqa: E402
from pysoa.test.waiting import wait_until  # noqa: E402

CASES = ('async', 'threads', 'raw-async')


# The client side: runs in its own process, prints one JSON line.


def _pysoa_client(config: dict[str, Any]) -> Any:
    from benchpeer.client import make_client

    return make_client(config)


def _raw_async_blob(config: dict[str, Any], reply_key: str) -> bytes:
    import msgpack  # type: ignore[import-untyped]
    from benchpeer.raw import _request_envelope

    packed_size = len(msgpack.packb(_request_envelope(config, 1, reply_key), use_bin_type=True))
    prefix = reply_key.encode() + b'|'
    return prefix + b'.' * max(packed_size - len(prefix), 0)


async def _run_async(config: dict[str, Any], raw: bool) -> dict[str, Any]:
    import redis.asyncio
    from benchpeer.payloads import SMALL_BODY

    service, concurrency, duration = config['service'], config['concurrency'], config['duration']
    if raw:
        host, port = config['redis'].rsplit(':', 1)
        pool = redis.asyncio.BlockingConnectionPool(host=host, port=int(port), max_connections=concurrency + 10)
        connection = redis.asyncio.Redis.from_pool(pool)
        queue = f'pysoa:service.{service}'

        def make_call() -> Any:
            reply_key = f'pysoa:service.{service}.{uuid.uuid4().hex}!{0:012x}'
            blob = _raw_async_blob(config, reply_key)

            async def call() -> None:
                await connection.rpush(queue, blob)
                if await connection.blpop([reply_key], timeout=10) is None:
                    raise TimeoutError('no reply')

            return call
    else:
        client = _pysoa_client(config)

        def make_call() -> Any:
            async def call() -> None:
                await client.call_action_async(service, 'small', SMALL_BODY)

            return call

    calls = [make_call() for _ in range(concurrency)]
    for _ in range(3):  # warm up: connections opened, scripts loaded
        await asyncio.gather(*(call() for call in calls))
    counts = [0] * concurrency
    errors = [0]
    first_error: list[str] = []
    loop = asyncio.get_running_loop()

    async def loop_calls(index: int, deadline: float) -> None:
        call = calls[index]
        while loop.time() < deadline:
            try:
                await call()
                counts[index] += 1
            except Exception as error:
                errors[0] += 1
                first_error[:] = first_error or [repr(error)]

    cpu, start = time.process_time(), time.perf_counter()
    deadline = loop.time() + duration
    await asyncio.gather(*(loop_calls(i, deadline) for i in range(concurrency)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if raw:
        await connection.aclose()
    return {'calls': sum(counts), 'errors': errors[0], 'elapsed': elapsed, 'cpu': cpu, 'first_error': first_error}


def _run_threads(config: dict[str, Any]) -> dict[str, Any]:
    from benchpeer.payloads import SMALL_BODY

    client = _pysoa_client(config)
    service, concurrency, duration = config['service'], config['concurrency'], config['duration']
    counts = [0] * concurrency
    errors = [0]
    ready = threading.Barrier(concurrency + 1)
    go = threading.Event()
    deadline = [0.0]

    def loop_calls(index: int) -> None:
        try:
            for _ in range(3):
                client.call_action(service, 'small', SMALL_BODY)
        finally:
            ready.wait(60)
        go.wait()
        while time.perf_counter() < deadline[0]:
            try:
                client.call_action(service, 'small', SMALL_BODY)
                counts[index] += 1
            except Exception:
                errors[0] += 1

    # One call first: a client's first calls from many threads at once each build the service's handler (and
    # transport), and a thread may then send through one and wait on another.
    client.call_action(service, 'small', SMALL_BODY)
    threads = [threading.Thread(target=loop_calls, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait(60)
    cpu, start = time.process_time(), time.perf_counter()
    deadline[0] = start + duration
    go.set()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {'calls': sum(counts), 'errors': errors[0], 'elapsed': elapsed, 'cpu': cpu}


def client_main(case: str, config: dict[str, Any]) -> None:
    """Run one case's client and print its report."""
    profile = os.environ.get('BENCH_ASYNC_PROFILE')  # a path: a cProfile dump of the client's whole run
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    if case == 'threads':
        report = _run_threads(config)
    else:
        report = asyncio.run(_run_async(config, raw=case == 'raw-async'))
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f'{profile}-{case}.prof')
    print(json.dumps(report))


# The driver.


def _process_cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks (100 Hz on Linux)


def run_case(server: RedisServerProcess, case: str, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """Start the workers and one client process; return the client's report with the workers' CPU."""
    address = f'{server.host}:{server.port}'
    service = f'bench_async_{case.replace("-", "_")}_{uuid.uuid4().hex[:6]}'
    config = {
        'redis': address,
        'service': service,
        'kind': 'small',
        'size': 0,
        'msgpack': False,
        'duration': args.duration,
        'concurrency': args.concurrency,
    }
    env = {'PYTHONPATH': f'{BENCH_DIR}:{REPO_ROOT}', 'BENCH_REDIS': address, 'BENCH_SERVICE': service}
    if 'BENCH_ASYNC_PROFILE' in os.environ:
        env['BENCH_ASYNC_PROFILE'] = os.environ['BENCH_ASYNC_PROFILE']
    if case == 'raw-async':
        worker_command = [sys.executable, '-P', '-m', 'benchpeer.raw', 'worker', json.dumps(config)]
    else:
        worker_command = [sys.executable, '-P', '-m', 'benchpeer.service', '-s', 'benchpeer.settings']
    workers = [
        subprocess.Popen(worker_command, env=env, cwd=tempfile.gettempdir(), stdout=log, stderr=log)
        for _ in range(args.workers)
    ]
    connection = redis.Redis(host=server.host, port=server.port)
    try:
        name = f'bench-{service}'
        if not wait_until(lambda: sum(c.get('name') == name for c in connection.client_list()) >= args.workers, 60):
            raise TimeoutError('the workers did not start')
        before = sum(_process_cpu_seconds(w.pid) for w in workers)
        output = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), '--client', case, json.dumps(config)],
            env=env,
            cwd=tempfile.gettempdir(),
            stdout=subprocess.PIPE,
            stderr=log,
            check=True,
            timeout=args.duration + 60,
        )
        after = sum(_process_cpu_seconds(w.pid) for w in workers)
    finally:
        connection.close()
        for worker in workers:
            terminate(worker, timeout=10)
    report: dict[str, Any] = json.loads(output.stdout.decode().strip().splitlines()[-1])
    report['worker_cpu'] = after - before
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--duration', type=float, default=5.0)
    parser.add_argument('--concurrency', type=int, default=100)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--cases', default=','.join(CASES))
    parser.add_argument('--client', nargs=2, metavar=('CASE', 'CONFIG'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client[0], json.loads(args.client[1]))
        return
    server = RedisServerProcess()
    server.start(timeout=10)
    rows = []
    try:
        with open(Path(tempfile.gettempdir()) / 'pysoa-bench-async-client.log', 'wb') as log:
            for case in args.cases.split(','):
                report = run_case(server, case, args, log)
                calls = max(report['calls'], 1)
                if report.get('first_error'):
                    print(f'{case}: first error: {report["first_error"][0]}')
                rows.append(
                    f'| {case} | {report["calls"] / report["elapsed"]:,.0f} | {report["cpu"] / calls * 1e6:,.0f} '
                    f'| {report["worker_cpu"] / calls * 1e6:,.0f} | {report["errors"]} |'
                )
    finally:
        server.stop()
    print(f'{args.concurrency} concurrent calls from one process, {args.workers} workers, {args.duration:g} s per case')
    print()
    print('| case | calls/s | client CPU µs/call | worker CPU µs/call | errors |')
    print('|---|---|---|---|---|')
    print('\n'.join(rows))


if __name__ == '__main__':
    main()
