"""The benchmark: pysoa against the bare Redis round trip and against upstream PySOA 1.4.9, in one run.

    .venv/bin/python bench/run.py                     # every workload, 3 interleaved reps of 10 s
    .venv/bin/python bench/run.py --duration 3 --workloads seq,large100k
    .venv/bin/python bench/run.py --profile           # cProfile of one pysoa worker and client, per call

Each case runs in fresh processes on a private redis-server: worker processes, then client processes that warm up,
wait for a common start, call in a loop for the duration and report. CPU per call comes from the clients' own
process time and from /proc for the workers and redis-server. It prints tables and asserts nothing; the raw
results go to bench/results/<UTC time>.json (and the table beside it, .md).
"""

import argparse
import json
import os
import platform
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import redis  # noqa: E402

from bench.profiling import profile_report  # noqa: E402
from pysoa.test.processes import terminate  # noqa: E402
from pysoa.test.redis_server import RedisServerProcess  # noqa: E402
from pysoa.test.waiting import wait_until  # noqa: E402
from tests.interop.upstream_env import UpstreamEnv, UpstreamEnvError, ensure_upstream_env  # noqa: E402

RESULTS_DIR = BENCH_DIR / 'results'
PROFILES_DIR = BENCH_DIR / '.cache' / 'profiles'  # git-ignored binary dumps
_CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


@dataclass(frozen=True)
class Workload:
    """One thing to measure: what each call does and how many processes make and serve them."""

    name: str
    kind: str  # small, batch or large
    clients: int = 1
    workers: int = 1
    size: int = 0
    chunking: bool = False
    instrumented: bool = False  # INFO logging and one no-op middleware on each side
    description: str = ''


WORKLOADS = {
    w.name: w
    for w in (
        Workload('seq', 'small', description='sequential call_action, ~100 B body, schemas both ways'),
        Workload('batch', 'batch', description='call_actions job of 10 small actions (rate in actions/s)'),
        Workload('conc2x1', 'small', clients=2, workers=1, description='2 client processes, 1 worker'),
        Workload('conc2x2', 'small', clients=2, workers=2, description='2 client processes, 2 workers'),
        Workload('conc4x1', 'small', clients=4, workers=1, description='4 client processes, 1 worker'),
        Workload('conc4x2', 'small', clients=4, workers=2, description='4 client processes, 2 workers'),
        Workload('large100k', 'large', size=100 * 1024, description='100 KiB response'),
        Workload('large1m', 'large', size=1024 * 1024, chunking=True, description='1 MiB response, chunked'),
        Workload(
            'seq_instr',
            'small',
            instrumented=True,
            description='seq with logging at INFO and one no-op middleware on each side',
        ),
    )
}
IMPLEMENTATIONS = ('raw', 'raw+msgpack', 'pysoa', 'upstream')


@dataclass
class Implementation:
    """How to start one implementation's workers and clients."""

    name: str
    python: str
    env: dict[str, str]

    @property
    def is_raw(self) -> bool:
        """The bare redis-py loop, not a framework."""
        return self.name.startswith('raw')

    def worker_command(self, config: dict[str, Any]) -> list[str]:
        """The command line of one worker."""
        if self.is_raw:
            return [self.python, '-P', '-m', 'benchpeer.raw', 'worker', json.dumps(config)]
        return [self.python, '-P', '-m', 'benchpeer.service', '-s', 'benchpeer.settings']

    def client_command(self, config: dict[str, Any]) -> list[str]:
        """The command line of one client."""
        module = 'benchpeer.raw' if self.is_raw else 'benchpeer.client'
        role = ['client'] if self.is_raw else []
        return [self.python, '-P', '-m', module, *role, json.dumps(config)]


@dataclass
class CaseResult:
    """What one run of one workload on one implementation measured."""

    implementation: str
    workload: str
    rep: int
    calls: int
    actions: int
    errors: int
    elapsed: float
    calls_per_second: float
    actions_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_call: dict[str, float] = field(default_factory=dict)


def _process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far, from /proc (Linux)."""
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _connected(connection: redis.Redis, name: str) -> int:
    """How many connections named `name` Redis has: a worker names its connection and opens it to receive."""
    return sum(1 for client in connection.client_list() if client.get('name') == name)


def _percentile(sorted_values: list[int], fraction: float) -> float:
    if not sorted_values:
        return float('nan')
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))] / 1000


class _Readers:
    """Reads lines from several child processes' stdout, with one deadline for all."""

    def __init__(self, processes: Iterable[subprocess.Popen[bytes]]) -> None:
        self.processes = list(processes)

    def one_line_each(self, timeout: float) -> list[bytes]:
        deadline = time.monotonic() + timeout
        lines: dict[int, bytes] = {}
        buffers: dict[int, bytes] = {i: b'' for i in range(len(self.processes))}
        with selectors.DefaultSelector() as selector:
            for index, process in enumerate(self.processes):
                assert process.stdout is not None
                os.set_blocking(process.stdout.fileno(), False)
                selector.register(process.stdout, selectors.EVENT_READ, index)
            while len(lines) < len(self.processes):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f'{len(self.processes) - len(lines)} client(s) did not answer in {timeout}s')
                for key, _ in selector.select(remaining):
                    index = key.data
                    chunk = os.read(key.fd, 1 << 20)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        if index not in lines:
                            raise RuntimeError(f'client {index} exited without answering')
                        continue
                    buffers[index] += chunk
                    if b'\n' in buffers[index] and index not in lines:
                        line, _, rest = buffers[index].partition(b'\n')
                        lines[index], buffers[index] = line, rest
                        selector.unregister(key.fileobj)
        return [lines[i] for i in range(len(self.processes))]


def _stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop a child we started, by its PID: SIGTERM, then SIGKILL."""
    terminate(process, timeout)


class Bench:
    """Runs cases against one private redis-server."""

    def __init__(self, redis_server: RedisServerProcess, duration: float, log_dir: Path) -> None:
        self.redis_server = redis_server
        self.address = f'{redis_server.host}:{redis_server.port}'
        self.duration = duration
        self.log_dir = log_dir
        self.connection = redis.Redis(host=redis_server.host, port=redis_server.port)
        self._serial = 0

    def run_case(
        self, impl: Implementation, workload: Workload, rep: int, profile_prefix: str | None = None
    ) -> CaseResult:
        """Start the workers, then the clients; measure one window; stop everything."""
        self._serial += 1
        service = f'bench_{impl.name.replace("+", "_")}_{workload.name}_{self._serial}'
        config: dict[str, Any] = {
            'redis': self.address,
            'service': service,
            'kind': workload.kind,
            'size': workload.size,
            'duration': self.duration,
            'msgpack': impl.name == 'raw+msgpack',
            'middleware': workload.instrumented,
            'warmup_calls': 20 if workload.kind == 'large' else 200,
        }
        env = dict(impl.env)
        env.update(
            {
                'PYTHONPATH': str(BENCH_DIR),
                'BENCH_REDIS': self.address,
                'BENCH_SERVICE': service,
                'BENCH_CHUNKING': '1' if workload.chunking else '0',
                'BENCH_LOG_LEVEL': 'INFO' if workload.instrumented else 'WARNING',
                'BENCH_MIDDLEWARE': '1' if workload.instrumented else '0',
            }
        )
        log_path = self.log_dir / f'{service}.log'
        workers: list[subprocess.Popen[bytes]] = []
        clients: list[subprocess.Popen[bytes]] = []
        with open(log_path, 'wb') as log:
            try:
                for index in range(workload.workers):
                    worker_env = dict(env)
                    if profile_prefix and index == 0:
                        worker_env['BENCH_PROFILE'] = f'{profile_prefix}-worker.prof'
                    workers.append(
                        subprocess.Popen(
                            impl.worker_command(config),
                            env=worker_env,
                            cwd=tempfile.gettempdir(),
                            stdin=subprocess.DEVNULL,
                            stdout=log,
                            stderr=log,
                        )
                    )
                self._wait_for_workers(workers, f'bench-{service}', workload.workers, log_path)
                for index in range(workload.clients):
                    client_config = dict(config)
                    if profile_prefix and index == 0:
                        client_config['profile'] = f'{profile_prefix}-client.prof'
                    clients.append(
                        subprocess.Popen(
                            impl.client_command(client_config),
                            env=env,
                            cwd=tempfile.gettempdir(),
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                            stderr=log,
                        )
                    )
                readers = _Readers(clients)
                readers.one_line_each(timeout=120)
                cpu_before = {p.pid: _process_cpu_seconds(p.pid) for p in workers}
                redis_before = _process_cpu_seconds(self.redis_server.pid or 0)
                for client in clients:
                    assert client.stdin is not None
                    client.stdin.write(b'go\n')
                    client.stdin.flush()
                reports = [json.loads(line) for line in readers.one_line_each(timeout=self.duration + 120)]
                cpu_after = {p.pid: _process_cpu_seconds(p.pid) for p in workers}
                redis_after = _process_cpu_seconds(self.redis_server.pid or 0)
            except Exception as error:
                raise RuntimeError(f'{impl.name}/{workload.name} failed ({error}); see {log_path}') from error
            finally:
                for process in clients + workers:
                    _stop(process)
        calls = sum(r['calls'] for r in reports)
        actions = sum(r['actions'] for r in reports)
        latencies = sorted(v for r in reports for v in r['latencies_us'])
        worker_cpu = sum(cpu_after[pid] - cpu_before[pid] for pid in cpu_before)
        client_cpu = sum(r['cpu'] for r in reports)
        redis_cpu = redis_after - redis_before
        per_call = 1_000_000 / max(calls, 1)
        return CaseResult(
            implementation=impl.name,
            workload=workload.name,
            rep=rep,
            calls=calls,
            actions=actions,
            errors=sum(r['errors'] for r in reports),
            elapsed=max(r['elapsed'] for r in reports),
            calls_per_second=sum(r['calls'] / r['elapsed'] for r in reports),
            actions_per_second=sum(r['actions'] / r['elapsed'] for r in reports),
            p50_ms=_percentile(latencies, 0.50),
            p99_ms=_percentile(latencies, 0.99),
            cpu_us_per_call={
                'worker': worker_cpu * per_call,
                'client': client_cpu * per_call,
                'redis': redis_cpu * per_call,
                'total': (worker_cpu + client_cpu + redis_cpu) * per_call,
            },
        )

    def _wait_for_workers(
        self, workers: list[subprocess.Popen[bytes]], name: str, expected: int, log_path: Path
    ) -> None:
        def receiving() -> bool:
            for worker in workers:
                if worker.poll() is not None:
                    raise RuntimeError(f'a worker exited with {worker.returncode}: {log_path.read_text()[-2000:]}')
            return _connected(self.connection, name) >= expected

        if not wait_until(receiving, 60):
            raise TimeoutError(f'workers not receiving after 60 s: {log_path.read_text()[-2000:]}')


def _our_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}


def _implementations(names: list[str]) -> tuple[list[Implementation], UpstreamEnv | None]:
    upstream: UpstreamEnv | None = None
    result = []
    for name in names:
        if name == 'upstream':
            try:
                upstream = ensure_upstream_env()
            except UpstreamEnvError as error:
                print(f'upstream skipped: {error}', file=sys.stderr)
                continue
            result.append(Implementation(name, str(upstream.python), upstream.environ()))
        else:
            result.append(Implementation(name, sys.executable, _our_environ()))
    return result, upstream


def _machine(upstream: UpstreamEnv | None, redis_server: RedisServerProcess) -> dict[str, Any]:
    cpu_model = ''
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu_model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    import msgpack  # type: ignore[import-untyped]

    import pysoa

    try:
        import hiredis  # noqa: F401

        has_hiredis = True
    except ImportError:
        has_hiredis = False
    redis_version = redis.Redis(host=redis_server.host, port=redis_server.port).info('server')['redis_version']
    return {
        'cpu': cpu_model,
        'cores': os.cpu_count(),
        'platform': platform.platform(),
        'python': platform.python_version(),
        'redis_server': redis_version,
        'pysoa': getattr(pysoa, '__version__', '?'),
        'redis_py': redis.__version__,
        'hiredis': has_hiredis,
        'msgpack': msgpack.version,
        'upstream': upstream.versions if upstream else None,
    }


def _fmt(values: list[float], digits: int = 0) -> str:
    if not values:
        return '-'
    median = statistics.median(values)
    if len(values) == 1:
        return f'{median:,.{digits}f}'
    return f'{median:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})'


def _ratio(top: list[float], bottom: list[float]) -> str:
    if not top or not bottom or statistics.median(bottom) == 0:
        return '-'
    return f'{statistics.median(top) / statistics.median(bottom):.2f}'


def _median_of(results: list[CaseResult], impl: str, workload: str, metric: str) -> float | None:
    values = [
        r.cpu_us_per_call[metric] if metric in r.cpu_us_per_call else getattr(r, metric)
        for r in results
        if r.implementation == impl and r.workload == workload
    ]
    return statistics.median(values) if values else None


def targets(results: list[CaseResult]) -> list[str]:
    """The issue's targets, each with the measured value: ratios to the bare loop (raw) and the added cost."""
    lines = [
        '### Targets (medians; raw = bare redis-py without msgpack, the limit)',
        '',
        '| target | measured | goal | met |',
        '|---|---|---|---|',
    ]

    def ratio(workload: str, metric: str, over: str) -> float | None:
        ours, theirs = _median_of(results, 'pysoa', workload, metric), _median_of(results, over, workload, metric)
        return ours / theirs if ours is not None and theirs else None

    def row(label: str, value: float | None, goal: float, higher_is_better: bool, unit: str = 'x') -> None:
        if value is None:
            return
        met = value >= goal if higher_is_better else value <= goal
        sign = '>=' if higher_is_better else '<='
        lines.append(f'| {label} | {value:.2f}{unit} | {sign} {goal:g}{unit} | {"yes" if met else "no"} |')

    row('seq throughput, pysoa/raw', ratio('seq', 'calls_per_second', 'raw'), 0.6, True)
    row('seq throughput, pysoa/upstream', ratio('seq', 'calls_per_second', 'upstream'), 2.2, True)
    row('batch throughput, pysoa/raw', ratio('batch', 'actions_per_second', 'raw'), 0.5, True)
    row('conc4x2 throughput, pysoa/raw', ratio('conc4x2', 'calls_per_second', 'raw'), 0.6, True)
    row('conc4x2 total CPU per call, pysoa/raw', ratio('conc4x2', 'total', 'raw'), 1.6, False)
    row('large100k throughput, pysoa/raw', ratio('large100k', 'calls_per_second', 'raw'), 0.6, True)
    row('seq worker CPU per call, pysoa/raw', ratio('seq', 'worker', 'raw'), 1.6, False)
    plain = [_median_of(results, 'pysoa', 'seq', k) for k in ('worker', 'client')]
    instrumented = [_median_of(results, 'pysoa', 'seq_instr', k) for k in ('worker', 'client')]
    if None not in plain and None not in instrumented:
        added = sum(v for v in instrumented if v is not None) - sum(v for v in plain if v is not None)
        row('INFO logging + no-op middlewares, added worker+client CPU per call', added, 10, False, ' µs')
    return lines


def summarize(results: list[CaseResult], implementations: list[str]) -> str:
    """Markdown tables of medians (min-max) per workload and implementation, with pysoa's ratios."""

    def pick(workload: str, impl: str, attribute: str, key: str | None = None) -> list[float]:
        picked = [r for r in results if r.workload == workload and r.implementation == impl]
        if key is not None:
            return [r.cpu_us_per_call[key] for r in picked]
        return [getattr(r, attribute) for r in picked]

    workloads = [w for w in WORKLOADS if any(r.workload == w for r in results)]
    lines = [
        '### Throughput (calls/s; actions/s for batch), median (min-max)',
        '',
        '| workload | ' + ' | '.join(implementations) + ' | pysoa/raw | pysoa/raw+msgpack | pysoa/upstream |',
        '|---|' + '---|' * (len(implementations) + 3),
    ]
    for w in workloads:
        attribute = 'actions_per_second' if w == 'batch' else 'calls_per_second'
        cells = [_fmt(pick(w, i, attribute)) for i in implementations]
        ours = pick(w, 'pysoa', attribute)
        ratios = [_ratio(ours, pick(w, other, attribute)) for other in ('raw', 'raw+msgpack', 'upstream')]
        lines.append(f'| {w} | ' + ' | '.join(cells + ratios) + ' |')
    lines += [
        '',
        '### Latency p50 / p99 (ms), median over reps',
        '',
        '| workload | ' + ' | '.join(implementations) + ' |',
        '|---|' + '---|' * len(implementations),
    ]
    for w in workloads:
        cells = []
        for i in implementations:
            p50, p99 = pick(w, i, 'p50_ms'), pick(w, i, 'p99_ms')
            cells.append(f'{statistics.median(p50):.3f} / {statistics.median(p99):.3f}' if p50 else '-')
        lines.append(f'| {w} | ' + ' | '.join(cells) + ' |')
    lines += [
        '',
        '### CPU per call (µs), median over reps: worker / client / redis-server = total',
        '',
        '| workload | ' + ' | '.join(implementations) + ' |',
        '|---|' + '---|' * len(implementations),
    ]
    for w in workloads:
        cells = []
        for i in implementations:
            parts = [pick(w, i, '', key) for key in ('worker', 'client', 'redis', 'total')]
            if not parts[0]:
                cells.append('-')
                continue
            medians = [statistics.median(p) for p in parts]
            cells.append(f'{medians[0]:.0f} / {medians[1]:.0f} / {medians[2]:.0f} = {medians[3]:.0f}')
        lines.append(f'| {w} | ' + ' | '.join(cells) + ' |')
    lines += ['', *targets(results)]
    errors = [r for r in results if r.errors]
    if errors:
        lines += ['', 'Errors: ' + ', '.join(f'{r.implementation}/{r.workload}#{r.rep}: {r.errors}' for r in errors)]
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run every case interleaved, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--duration', type=float, default=10.0, help='seconds measured per case (default 10)')
    parser.add_argument('--reps', type=int, default=3, help='interleaved repetitions (default 3)')
    parser.add_argument('--workloads', default=','.join(WORKLOADS), help='comma-separated: ' + ', '.join(WORKLOADS))
    parser.add_argument(
        '--impl', default=','.join(IMPLEMENTATIONS), help='comma-separated: ' + ', '.join(IMPLEMENTATIONS)
    )
    parser.add_argument('--profile', action='store_true', help='profile one worker and one client per call instead')
    parser.add_argument('--top', type=int, default=25, help='functions listed per profile (default 25)')
    parser.add_argument('--summarize', metavar='JSON', help='print the tables of a saved run and stop')
    parser.add_argument('--output-dir', type=Path, default=RESULTS_DIR, help='where results go (bench/results)')
    args = parser.parse_args(argv)

    if args.summarize:
        saved = json.loads(Path(args.summarize).read_text())
        loaded = [CaseResult(**r) for r in saved['results']]
        print(summarize(loaded, list(dict.fromkeys(r.implementation for r in loaded))))
        return

    names = [n for n in args.impl.split(',') if n]
    workloads = [WORKLOADS[n] for n in args.workloads.split(',') if n]
    if args.profile:
        names = [n for n in names if not n.startswith('raw')] or ['pysoa']
        if args.workloads == parser.get_default('workloads'):
            workloads = [WORKLOADS['seq']]
    implementations, upstream = _implementations(names)
    results_dir: Path = args.output_dir
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
    with tempfile.TemporaryDirectory(prefix='pysoa-bench-') as log_dir, RedisServerProcess() as redis_server:
        bench = Bench(redis_server, args.duration, Path(log_dir))
        machine = _machine(upstream, redis_server)
        if args.profile:
            PROFILES_DIR.mkdir(parents=True, exist_ok=True)
            reports = [f'Profile {stamp} on {json.dumps(machine)}']
            for impl in implementations:
                for workload in workloads:
                    prefix = str(PROFILES_DIR / f'{stamp}-{impl.name}-{workload.name}')
                    result = bench.run_case(impl, workload, 0, profile_prefix=prefix)
                    warmup_calls = 20 if workload.kind == 'large' else 200
                    reports += [
                        f'\n## {impl.name} / {workload.name}: {result.calls} calls, '
                        f'{result.calls_per_second:,.0f} calls/s under the profiler',
                        profile_report(f'{prefix}-worker.prof', result.calls + warmup_calls, 'worker', args.top),
                        profile_report(f'{prefix}-client.prof', result.calls, 'client', args.top),
                    ]
                    print('\n'.join(reports[-3:]), flush=True)
            (results_dir / f'profile-{stamp}.md').write_text('\n'.join(reports) + '\n')
            print(f'\nsaved {results_dir / f"profile-{stamp}.md"}')
            return
        total = args.reps * sum(1 for w in workloads for i in implementations if not (i.is_raw and w.instrumented))
        print(f'{total} cases of {args.duration:g} s; machine: {json.dumps(machine)}', flush=True)
        results: list[CaseResult] = []
        for rep in range(args.reps):
            for workload in workloads:
                # Rotate the order each rep so that no implementation always runs first or last.
                shift = rep % len(implementations)
                for impl in implementations[shift:] + implementations[:shift]:
                    if impl.is_raw and workload.instrumented:
                        continue
                    result = bench.run_case(impl, workload, rep)
                    results.append(result)
                    print(
                        f'rep {rep + 1} {workload.name:10} {impl.name:12} {result.calls_per_second:9,.0f} calls/s '
                        f'p50 {result.p50_ms:.3f} ms  cpu/call {result.cpu_us_per_call["total"]:.0f} µs'
                        + (f'  ERRORS {result.errors}' if result.errors else ''),
                        flush=True,
                    )
    names_run = [i.name for i in implementations]
    table = summarize(results, names_run)
    print('\n' + table)
    payload = {
        'when': stamp,
        'duration': args.duration,
        'reps': args.reps,
        'machine': machine,
        'workloads': {w.name: w.description for w in workloads},
        'results': [r.__dict__ for r in results],
    }
    (results_dir / f'{stamp}.json').write_text(json.dumps(payload, indent=1) + '\n')
    (results_dir / f'{stamp}.md').write_text(f'Run {stamp} on {json.dumps(machine)}\n\n{table}\n')
    print(f'\nsaved {results_dir / f"{stamp}.json"}')


if __name__ == '__main__':
    main()
