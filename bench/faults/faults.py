"""The faults: for each, how the run is planned and how the fault is injected into a started `Stage`.

Each injector gets `seconds`: how long Redis stays down or frozen for `redis-down` and `redis-frozen` (`--outage`,
20 s by default, as issue 10 asks), how long the traffic meets the fault for `bad-reply-queue`, `full-queue`,
`forged` and `hostile` (`--duration`, 10 s); the others take the time they take. It returns once the fault is
over; the stage then lets traffic flow for `plan.recovery` seconds.
"""

import os
import signal
import time
from collections.abc import Callable

import redis

from bench.faults import rogue
from bench.faults.stage import QUEUE, SIGNING_KEY, Plan, Stage
from bench.faults.traffic import REPLY_QUEUES, SENT
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.test.waiting import wait_until

__all__ = ('FAULTS', 'Fault')

Inject = Callable[[Stage, float], None]


class Fault:
    def __init__(self, name: str, title: str, plan: Plan, inject: Inject, *, outage: bool = False) -> None:
        self.name, self.title, self.plan, self.inject = name, title, plan, inject
        self.outage = outage  # `seconds` is the outage's length, not the traffic's


def _sigkill(stage: Stage, seconds: float) -> None:
    """SIGKILL a worker in the middle of a request, three times, 2.5 s apart (`--fork 2` starts a new one)."""
    busy: dict[int, str] = {}

    def found() -> bool:
        busy.clear()
        busy.update(stage.busy_workers())
        return bool(busy)

    for _ in range(3):
        if not wait_until(found, 10, interval=0.01):
            stage.notes.append('no busy worker found to kill')
            continue
        pid, uid = next(iter(busy.items()))
        os.kill(pid, signal.SIGKILL)
        stage.notes.append(f'killed worker {pid} while it ran {uid}')
        stage.pause(2.5)


def _redis_down(stage: Stage, seconds: float) -> None:
    """SIGKILL the service's Redis, leave it down for `seconds`, start it again from its append-only file."""
    stage.notes.append(f'{stage.queue_depth()} queued when Redis died')
    stage.kill_redis()
    stage.pause(seconds)
    stage.restart_redis()


def _redis_frozen(stage: Stage, seconds: float) -> None:
    """SIGSTOP the service's Redis for `seconds` (it holds its connections but answers nothing), then SIGCONT."""
    assert stage.redis is not None and stage.redis.pid is not None
    os.kill(stage.redis.pid, signal.SIGSTOP)
    try:
        stage.pause(seconds)
    finally:
        os.kill(stage.redis.pid, signal.SIGCONT)


def _wait_for_queue(stage: Stage, depth: int) -> None:
    wait_until(lambda: stage.queue_depth() >= depth, 10, interval=0.01)
    stage.notes.append(f'{stage.queue_depth()} requests queued at the fault')


def _redis_restart(stage: Stage, seconds: float) -> None:
    """With requests queued, SIGKILL the service's Redis and start it again at once from its append-only file."""
    _wait_for_queue(stage, 3)
    stage.kill_redis()
    stage.restart_redis()


def _sentinel_failover(stage: Stage, seconds: float) -> None:
    """With requests queued (and replicated), make the Sentinels fail over to the replica."""
    _wait_for_queue(stage, 3)
    cluster = stage.cluster
    old = cluster.master_port()

    def failover() -> bool:
        try:
            cluster.failover()
        except redis.ResponseError:  # NOGOODSLAVE: the replica still catching up after an earlier failover
            return False
        return True

    if not wait_until(failover, 30, interval=0.5):
        stage.notes.append('the Sentinels refused to fail over')
    elif not wait_until(lambda: cluster.master_port() != old, 30, interval=0.1):
        stage.notes.append('no failover within 30 s')
    else:
        stage.notes.append(f'master moved from port {old} to {cluster.master_port()}')


def _rogue_transport(stage: Stage) -> RedisClientTransport:
    return RedisClientTransport('faults', noop_metrics, **stage.backend(), signing_keys=[])


def _bad_reply_queues(stage: Stage, seconds: float) -> None:
    """Ten requests each whose reply queue is not a list, and ten whose reply queue is full, among the traffic."""
    with stage.connection() as connection:
        connection.set('pysoa:service.faults.notalist!1', 'a string')
        connection.rpush('pysoa:service.faults.full!1', *[b'x'] * 10000)  # the default queue capacity
    sender = _rogue_transport(stage)
    for n in range(20):
        reply_to = 'service.faults.notalist!1' if n % 2 else 'service.faults.full!1'
        uid = f'{stage.traffic.name if stage.traffic else ""}-badreply-{n}'
        sender.core.send_message('service.faults', n, {'reply_to': reply_to}, rogue.job(uid))
    stage.rogue_uids = [f'{stage.traffic.name if stage.traffic else ""}-badreply-{n}' for n in range(20)]
    stage.pause(seconds)


def _full_queue(stage: Stage, seconds: float) -> None:
    """Nothing more than the plan: callers without a timeout outnumber a slow worker and fill a queue of 3."""
    stage.pause(seconds)


def _forged(stage: Stage, seconds: float) -> None:
    """Forged requests on the service queue and forged responses on every caller's reply queue (signing on)."""
    assert stage.traffic is not None
    prefix = f'{stage.traffic.name}-forged'
    forged = rogue.forged_requests(prefix, SIGNING_KEY)
    with stage.connection() as connection:
        connection.rpush(QUEUE, *forged.values())
        # A forged answer to each caller's latest request, unsigned or signed with the wrong key.
        latest: dict[int, tuple[int, str]] = {}
        for (ident, request_id), uid in list(SENT.items()):
            if ident in stage.traffic.idents and request_id > latest.get(ident, (0, ''))[0]:
                latest[ident] = (request_id, uid)
        for n, (ident, (request_id, uid)) in enumerate(latest.items()):
            signer = 'w' * 32 if n % 2 else None
            for ahead in (1, 2):  # the next requests too: the forgery waits on the queue before their answer
                element = rogue.forged_response(request_id + ahead, uid, signer)
                connection.rpush('pysoa:' + REPLY_QUEUES[ident], element)
    stage.rogue_uids = list(forged)
    stage.pause(seconds)


def _hostile(stage: Stage, seconds: float) -> None:
    """Malformed elements on the service queue among the traffic: garbage, bad frames, bad envelopes, deep nesting."""
    assert stage.traffic is not None
    with stage.connection() as connection:
        for round_ in range(3):
            hostile = rogue.hostile_requests(f'{stage.traffic.name}-hostile{round_}')
            connection.rpush(QUEUE, *hostile.values())
            stage.rogue_uids += list(hostile)
            stage.pause(1)
    stage.pause(max(seconds - 3, 0))


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault(
            'sigkill',
            'worker SIGKILLed mid-request (3 times, 2 workers)',
            Plan(workers=2, threads=4, timeout=10, work_seconds=0.3),
            _sigkill,
        ),
        Fault(
            'redis-down',
            'Redis down (killed, restarted from AOF) under load, 1 single-process worker',
            Plan(durable=True, timeout=5),
            _redis_down,
            outage=True,
        ),
        Fault('redis-frozen', 'Redis frozen (SIGSTOP), 1 worker', Plan(timeout=5), _redis_frozen, outage=True),
        Fault(
            'redis-restart',
            'Redis restarted (killed, AOF) with requests queued, 1 worker',
            Plan(durable=True, threads=6, timeout=10, work_seconds=0.2),
            _redis_restart,
        ),
        Fault(
            'sentinel-failover',
            'Sentinel failover with requests queued, 1 worker',
            Plan(sentinel=True, threads=6, timeout=10, work_seconds=0.2, recovery=15),
            _sentinel_failover,
        ),
        Fault('bad-reply-queue', '20 requests with a reply queue full or not a list', Plan(), _bad_reply_queues),
        Fault(
            'full-queue',
            'service queue full (capacity 3), callers without a timeout (receive timeout 5 s)',
            Plan(threads=8, timeout=None, work_seconds=0.5, queue_capacity=3),
            _full_queue,
        ),
        Fault(
            'forged',
            'forged requests and responses, signing on',
            Plan(signing=True, work_seconds=0.2),
            _forged,
        ),
        Fault('hostile', '33 malformed messages on the service queue', Plan(), _hostile),
    )
}


def settle(seconds: float) -> None:
    """A pause between runs (nothing to wait for: lets the machine's other load drain)."""
    time.sleep(seconds)
