"""Redis Cluster against a single Redis: calls/s of pysoa's seq and conc workloads on each (prints figures only).

    .venv/bin/python bench/cluster.py                  # 2 interleaved reps of 3 s per case (about 40 s)
    .venv/bin/python bench/cluster.py --duration 5 --reps 3

Both backends serve the same benchmark service (`benchpeer.service`, the `small` action, two worker processes):
on one private redis-server (`redis.standard`), and on a private cluster of 3 masters with a replica each
(`redis.cluster`). `seq` is one client process calling in a loop; `conc` is four client processes at once. A
service's queues live in one hash slot, so one master serves all of this traffic: the figures are the cost of
the cluster's routing and replication, not a gain from sharding (which comes from many services).
"""

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
for _path in (str(REPO_ROOT), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from benchpeer.payloads import SMALL_BODY  # noqa: E402

from pysoa.client import Client  # noqa: E402
from pysoa.test.redis_cluster import RedisClusterProcesses  # noqa: E402
from pysoa.test.redis_server import RedisServerProcess  # noqa: E402
from pysoa.test.service_process import ServiceProcess  # noqa: E402

SERVICE = 'bench'
WORKLOADS = {'seq': 1, 'conc': 4}
"""Workload name -> client processes."""


def _client(backend: dict[str, Any]) -> Client:
    kwargs = {**backend, 'receive_timeout_in_seconds': 10}
    path = 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'
    return Client({SERVICE: {'transport': {'path': path, 'kwargs': kwargs}}})


def _calls(backend: dict[str, Any], start_at: float, duration: float) -> int:
    """In a client process: warm up, wait for the common start, call for `duration` seconds; return the calls."""
    client = _client(backend)
    for _ in range(20):
        client.call_action(SERVICE, 'small', SMALL_BODY)
    time.sleep(max(start_at - time.time(), 0.0))  # a common start for every client process
    calls, deadline = 0, time.monotonic() + duration
    while time.monotonic() < deadline:
        client.call_action(SERVICE, 'small', SMALL_BODY)
        calls += 1
    return calls


def _rate(pool: ProcessPoolExecutor, backend: dict[str, Any], clients: int, duration: float) -> float:
    start_at = time.time() + 1.0 + 0.2 * clients
    futures = [pool.submit(_calls, backend, start_at, duration) for _ in range(clients)]
    return sum(future.result(timeout=duration + 60) for future in futures) / duration


def _start_workers(env: dict[str, str], log_dir: str) -> ServiceProcess:
    service = ServiceProcess(
        'benchpeer.service',
        'benchpeer.settings',
        workers=2,
        env={'BENCH_SERVICE': SERVICE, **env},
        python_path=[str(BENCH_DIR), str(REPO_ROOT)],
        cwd=tempfile.gettempdir(),
        log_path=str(Path(log_dir) / f'workers-{len(env)}.log'),
    )
    return service.start()


def _wait_ready(backend: dict[str, Any], timeout: float = 30.0) -> None:
    client, deadline = _client(backend), time.monotonic() + timeout
    while True:
        try:
            client.call_action(SERVICE, 'small', SMALL_BODY, timeout=2)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def main() -> None:
    """Run every case, interleaved, and print calls/s per backend and workload."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--duration', type=float, default=3.0, help='seconds per case (default 3)')
    parser.add_argument('--reps', type=int, default=2, help='interleaved repetitions (default 2)')
    options = parser.parse_args()

    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix='pysoa-bench-cluster-') as log_dir:
        single = RedisServerProcess().start()
        cluster = RedisClusterProcesses(masters=3, replicas=1).start()
        services: list[ServiceProcess] = []
        try:
            backends = {
                'single': {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [single.url]}},
                'cluster': {'backend_type': 'redis.cluster', 'backend_layer_kwargs': {'hosts': cluster.startup_nodes}},
            }
            services.append(_start_workers({'BENCH_REDIS': f'{single.host}:{single.port}'}, log_dir))
            services.append(_start_workers({'BENCH_CLUSTER': ','.join(cluster.startup_nodes)}, log_dir))
            for backend in backends.values():
                _wait_ready(backend)
            with ProcessPoolExecutor(max_workers=max(WORKLOADS.values())) as pool:
                for _ in range(options.reps):
                    for workload, clients in WORKLOADS.items():
                        for name, backend in backends.items():
                            rate = _rate(pool, backend, clients, options.duration)
                            results.setdefault((workload, name), []).append(rate)
        finally:
            for service in services:
                service.stop(timeout=10)
            cluster.stop()
            single.stop()

    print(f'calls/s, median (min-max) of {options.reps} reps of {options.duration:g} s; 2 workers')
    print('| workload | single Redis | Redis Cluster (3 masters + 3 replicas) | cluster/single |')
    print('|---|---|---|---|')
    for workload in WORKLOADS:
        single_rates, cluster_rates = results[(workload, 'single')], results[(workload, 'cluster')]
        ratio = statistics.median(cluster_rates) / statistics.median(single_rates)
        print(f'| {workload} | {_figure(single_rates)} | {_figure(cluster_rates)} | {ratio:.2f} |')


def _figure(rates: list[float]) -> str:
    return f'{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})'


if __name__ == '__main__':
    main()
