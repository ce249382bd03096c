"""One fault run's processes: the service's Redis (standalone, or a Sentinel set), the service, the traffic.

Everything is private: redis-server processes on free loopback ports (`pysoa.test.redis_server`), the service as a
child process (`pysoa.test.service_process`), stopped by PID. Waits poll a condition with a deadline.
"""

import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Any

import redis

from bench.faults.traffic import Traffic
from pysoa.common.transport.redis_gateway.dead_letters import DeadLetters
from pysoa.test.redis_server import RedisServerProcess
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until

__all__ = ('Plan', 'Stage', 'DURABLE', 'QUEUE', 'SIGNING_KEY')

ROOT = Path(__file__).resolve().parents[2]
QUEUE = 'pysoa:service.faults'
DURABLE = ('--appendonly', 'yes', '--appendfsync', 'always')
SIGNING_KEY = 'f' * 32


@dataclasses.dataclass
class Plan:
    """How a fault is run: the service, the traffic, and how long before and after the fault."""

    workers: int = 1
    threads: int = 3
    timeout: float | None = 5.0
    receive_timeout: int = 5
    work_seconds: float = 0.05
    durable: bool = False
    sentinel: bool = False
    signing: bool = False
    queue_capacity: int | None = None
    warmup: float = 2.0
    recovery: float = 6.0


class Stage:
    """Start with `start()`, inject a fault, then `finish()` (stop the traffic, drain, sweep) and `stop()`."""

    def __init__(
        self, name: str, delivery: str, plan: Plan, executions_url: str, workdir: Path, cluster: Any = None
    ) -> None:
        self.name, self.delivery, self.plan = name, delivery, plan
        self.executions_url = executions_url
        self.workdir = workdir
        self.cluster = cluster  # a started tests.test_redis_sentinel.SentinelCluster, for `plan.sentinel`
        self.redis: RedisServerProcess | None = None
        self.old_redis: list[RedisServerProcess] = []
        self.service: ServiceProcess | None = None
        self.traffic: Traffic | None = None
        self.notes: list[str] = []
        self.rogue_uids: list[str] = []  # requests sent by no caller (forged, hostile): they must not run, or not twice

    # The service's Redis.

    def backend(self) -> dict[str, Any]:
        if self.plan.sentinel:
            from tests.test_redis_sentinel import MASTER_NAME

            hosts = self.cluster.hosts
            kwargs = {'hosts': hosts, 'sentinel_services': [MASTER_NAME], 'sentinel_failover_retries': 8}
            return {'backend_type': 'redis.sentinel', 'backend_layer_kwargs': kwargs}
        assert self.redis is not None
        return {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [self.redis.url]}}

    def connection(self) -> 'redis.Redis':
        """A connection to the service's Redis (the current master under Sentinel)."""
        if self.plan.sentinel:
            return redis.Redis(host='127.0.0.1', port=self.cluster.master_port(), socket_timeout=5)
        assert self.redis is not None
        return redis.Redis(host=self.redis.host, port=self.redis.port, socket_timeout=5)

    def kill_redis(self) -> None:
        """SIGKILL the service's Redis (a crash: what it wrote to its append-only file survives)."""
        assert self.redis is not None and self.redis.pid is not None
        os.kill(self.redis.pid, signal.SIGKILL)
        self.old_redis.append(self.redis)

    def restart_redis(self) -> None:
        """Start Redis again on the same port, from the killed one's directory (its append-only file)."""
        old = self.old_redis[-1]
        extra = (*DURABLE, '--dir', str(old.directory)) if self.plan.durable else ()
        self.redis = RedisServerProcess(port=old.port, extra_args=extra).start(timeout=20)

    def queue_depth(self) -> int:
        try:
            with self.connection() as connection:
                return int(connection.llen(QUEUE))
        except redis.RedisError:
            return -1

    def in_flight(self) -> int:
        try:
            with self.connection() as connection:
                return sum(int(connection.llen(key)) for key in connection.scan_iter(QUEUE + '#in-flight:*'))
        except redis.RedisError:
            return -1

    # The service and the traffic.

    def start(self) -> None:
        plan = self.plan
        if not plan.sentinel:
            self.redis = RedisServerProcess(extra_args=DURABLE if plan.durable else ()).start(timeout=20)
        env = {'FAULTS_DELIVERY': self.delivery, 'FAULTS_EXECUTIONS_URL': self.executions_url}
        if plan.sentinel:
            from tests.test_redis_sentinel import MASTER_NAME

            env['FAULTS_SENTINELS'] = ','.join(f'{host}:{port}' for host, port in self.cluster.hosts)
            env['FAULTS_SENTINEL_SERVICE'] = MASTER_NAME
        else:
            assert self.redis is not None
            env['FAULTS_REDIS_URL'] = self.redis.url
        env['PYSOA_SIGNING_KEYS'] = SIGNING_KEY if plan.signing else ''
        heartbeats = self.workdir / f'{self.name}-{self.delivery}-heartbeats'
        heartbeats.mkdir(parents=True, exist_ok=True)
        self.service = ServiceProcess(
            'bench.faults.peer',
            'bench.faults.peer.settings',
            workers=plan.workers,
            env=env,
            python_path=[str(ROOT)],
            cwd=str(ROOT),
            log_path=str(self.workdir / f'{self.name}-{self.delivery}.log'),
            heartbeat_dir=str(heartbeats),
            heartbeat_env='FAULTS_HEARTBEAT_FILE',
        ).start()
        self.service.wait_for_workers(timeout=30)
        kwargs: dict[str, Any] = {**self.backend(), 'receive_timeout_in_seconds': plan.receive_timeout}
        kwargs['signing_keys'] = [SIGNING_KEY] if plan.signing else []
        if plan.queue_capacity is not None:
            kwargs['queue_capacity'] = plan.queue_capacity
        bound = plan.timeout if plan.timeout is not None else plan.receive_timeout
        self.traffic = Traffic(
            f'{self.name}.{self.delivery}',
            kwargs,
            threads=plan.threads,
            timeout=plan.timeout,
            bound=bound,
            work_seconds=plan.work_seconds,
        )
        self.traffic.start()
        self.pause(plan.warmup)

    def pause(self, seconds: float) -> None:
        """Let the traffic flow for `seconds` (the time a fault lasts, or a warm-up: nothing to wait for)."""
        time.sleep(seconds)

    def busy_workers(self) -> dict[int, str]:
        """Live worker PID -> the uid it is running now (from the `busy:<pid>` records of the `work` action)."""
        assert self.service is not None
        live = set(self.service.worker_pids().values())
        with redis.Redis.from_url(self.executions_url) as store:
            busy = {int(key.decode().split(':')[1]): store.get(key) for key in store.scan_iter('busy:*')}
        return {pid: (uid or b'').decode() for pid, uid in busy.items() if pid in live and uid}

    def finish(self) -> None:
        """Stop the callers, let the service drain its queue, then let each caller sweep its reply queue."""
        assert self.traffic is not None and self.service is not None
        self.pause(self.plan.recovery)
        traffic = self.traffic
        traffic.stop.set()
        if not traffic.join_calls(traffic.bound + 15):
            self.notes.append('callers still in a call 15 s after their bound')
        drained = wait_until(lambda: self.queue_depth() == 0 and self.in_flight() <= 0, 45, interval=0.2)
        if not drained:
            self.notes.append(f'not drained in 45 s: {self.queue_depth()} queued, {self.in_flight()} in flight')
        wait_until(lambda: not self.busy_workers(), 15, interval=0.1)
        traffic.sweep.set()
        if not traffic.join(30):
            self.notes.append('a caller did not finish its sweep in 30 s')

    def expired(self) -> tuple[set[str], int]:
        """Uids dead-lettered as expired (at-least-once), and how many more were discarded as expired unnamed."""
        if self.delivery == 'at-least-once':
            uids = set()
            for letter in DeadLetters('faults', **self.backend()).list():
                if letter.reason == 'expired':
                    try:
                        uids.add(letter.request().body['actions'][0]['body']['uid'])  # type: ignore[index]
                    except (KeyError, IndexError, TypeError):
                        pass
            return uids, 0
        assert self.service is not None
        return set(), self.service.output().count('Discarding message')

    def stop(self) -> None:
        if self.traffic is not None:
            self.traffic.stop.set()
            self.traffic.sweep.set()
        if self.service is not None:
            self.service.stop(timeout=20)
        for server in [self.redis, *reversed(self.old_redis)]:
            if server is not None:
                if server.pid is not None:
                    try:
                        os.kill(server.pid, signal.SIGCONT)  # a frozen server cannot stop
                    except ProcessLookupError:
                        pass
                server.stop()
