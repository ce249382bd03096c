"""The concurrent worker (`concurrency` setting, docs/concurrency.rst) in real worker processes on a real Redis.

The service is `tests.concurrent_service`. Overlap is shown with barriers that only open when N jobs wait at
once (a worker serving one at a time answers `met: False` after the barrier's timeout); nothing asserts a time.
"""

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from pysoa.client import Client
from pysoa.common.constants import ERROR_CODE_ACTION_TIMEOUT, ERROR_CODE_INVALID
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.envelope import Envelope, encode
from pysoa.common.types import JobResponse
from pysoa.server.action import Action
from pysoa.server.django import integration
from pysoa.server.internal import job_greenlets
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until
from tests.conftest import StartService
from tests.paths import PROJECT_ROOT

SERVICE = {'module': 'tests.concurrent_service', 'settings': 'tests.concurrent_service.settings'}
QUEUE = 'pysoa:service.concurrent'


def make_client(redis_url: str, timeout: float = 30, **options: Any) -> Client:
    transport = {
        'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
        'kwargs': {
            'backend_type': 'redis.standard',
            'backend_layer_kwargs': {'hosts': [redis_url]},
            'receive_timeout_in_seconds': timeout,
            **options,
        },
    }
    return Client({'concurrent': {'transport': transport}})


def start(start_service: StartService, concurrency: int, **env: str) -> ServiceProcess:
    return start_service(workers=1, **SERVICE, env={'CONCURRENCY': str(concurrency), **env})


def send_all(client: Client, actions: list[dict[str, Any]], **kwargs: Any) -> list[int]:
    return [client.send_request('concurrent', [action], **kwargs) for action in actions]


def collect(client: Client, request_ids: list[int], timeout: float = 30) -> dict[int, JobResponse]:
    """Every response to `request_ids`, within `timeout` seconds (bounded loop)."""
    responses: dict[int, JobResponse] = {}
    deadline = time.monotonic() + timeout
    while len(responses) < len(request_ids) and time.monotonic() < deadline:
        try:
            for request_id, response in client.get_all_responses('concurrent', receive_timeout_in_seconds=5):
                assert request_id not in responses, f'request {request_id} answered twice'
                responses[request_id] = response
        except MessageReceiveTimeout:
            continue
    return responses


def barrier(name: str, parties: int, timeout: float = 20) -> dict[str, Any]:
    return {'action': 'barrier', 'body': {'name': name, 'parties': parties, 'timeout': timeout}}


@pytest.mark.timeout(60)
def test_n_async_jobs_run_at_once(start_service: StartService, redis_url: str) -> None:
    start(start_service, 10)
    client = make_client(redis_url)
    ids = send_all(client, [barrier('ten', 10)] * 10)
    responses = collect(client, ids)
    assert sorted(responses) == sorted(ids)
    assert all(r.actions[0].body['met'] for r in responses.values()), responses


def in_flight_total(connection: 'redis.Redis[bytes]', queue: str = QUEUE) -> int:
    keys = DeliveryKeys(queue)
    return sum(int(connection.llen(key)) for key in connection.scan_iter(keys.prefix + 'in-flight:*'))


@pytest.mark.timeout(60)
def test_a_full_worker_leaves_the_rest_in_the_queue(start_service: StartService, redis_url: str) -> None:
    # At-least-once delivery shows what the worker holds: its in-flight list.
    start(start_service, 3, CONCURRENT_DELIVERY='at-least-once')
    client = make_client(redis_url)
    connection = redis.Redis.from_url(redis_url)
    ids = send_all(client, [barrier('five', 5, timeout=8)] * 5)
    assert wait_until(lambda: in_flight_total(connection) == 3, timeout=10)
    with connection.pipeline(transaction=True) as pipeline:
        pipeline.llen(QUEUE)
        for key in connection.scan_iter(DeliveryKeys(QUEUE).prefix + 'in-flight:*'):
            pipeline.llen(key)
        queued, *held = pipeline.execute()
    assert (queued, sum(held)) == (2, 3)
    responses = collect(client, ids)
    assert len(responses) == 5
    # The first three waited in vain (only three fitted); the last two met the fourth and fifth arrivals.
    met = sorted(r.actions[0].body['met'] for r in responses.values())
    assert met == [False, False, False, True, True]


@pytest.mark.timeout(90)
def test_100_concurrent_jobs_keep_their_own_context(
    start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    start_service(workers=1, **SERVICE, env={'CONCURRENT_ROLE': 'callee', 'CONCURRENCY': '1'})
    log = tmp_path / 'concurrent.log'
    start_service(workers=1, **SERVICE, env={'CONCURRENCY': '100'}, log_path=str(log))
    client = make_client(redis_url, timeout=60)
    labels = [f'cid-{i:03d}-{uuid.uuid4().hex[:6]}' for i in range(100)]
    # Each job also gets its own switch and its own expiry (so its own deadline).
    ids = {
        client.send_request(
            'concurrent',
            [{'action': 'trace', 'body': {'label': label, 'barrier': {'name': 'all', 'parties': 100, 'timeout': 30}}}],
            correlation_id=label,
            switches=[index],
            message_expiry_in_seconds=60 + index,
        ): (index, label)
        for index, label in enumerate(labels)
    }
    responses = collect(client, list(ids), timeout=60)
    assert len(responses) == 100
    deadlines = []
    for request_id, response in responses.items():
        index, label = ids[request_id]
        assert not response.errors and not response.actions[0].errors, response
        body = response.actions[0].body
        assert (body['correlation_id'], body['nested']) == (label, label)
        assert body['barrier']['met'], 'the 100 jobs were not all in flight at once'
        assert response.context['correlation_id'] == label
        assert body['switches'] == body['nested_switches'] == [index]
        assert body['client_deadline'] == body['deadline'] is not None
        deadlines.append((index, body['deadline']))
    # Sent one after another with expiries a second apart: each job saw its own.
    ordered = [deadline for _, deadline in sorted(deadlines)]
    assert all(later - earlier > 0.5 for earlier, later in zip(ordered, ordered[1:], strict=False))

    # Every line that names a label is stamped with that label's correlation id, and no line is stamped with
    # one label and names another.
    # The job log's response line comes after the response went out.
    assert wait_until(lambda: log.read_text().count('Job done') == 100, timeout=10)
    checked = 0
    for line in log.read_text().splitlines():
        stamped = re.search(r'\[(cid-\d{3}-[0-9a-f]{6})\]', line)
        named = set(re.findall(r'cid-\d{3}-[0-9a-f]{6}', line))
        if 'trace start' in line or 'trace end' in line:
            assert stamped is not None, line
        if stamped is not None:
            assert named == {stamped.group(1)}, line
            checked += 1
    # A start and an end per job, and the job log's one line per job.
    assert checked >= 300


@pytest.mark.timeout(60)
def test_a_job_past_harakiri_times_out_alone(start_service: StartService, redis_url: str) -> None:
    start(start_service, 5, CONCURRENT_HARAKIRI='2')
    client = make_client(redis_url)
    slow = client.send_request('concurrent', [{'action': 'sleep', 'body': {'seconds': 60, 'label': 'slow'}}])
    quick = send_all(client, [{'action': 'sleep', 'body': {'seconds': 0.5, 'label': 'quick'}}] * 3)
    responses = collect(client, [slow, *quick])
    [error] = responses[slow].actions[0].errors
    assert error.code == ERROR_CODE_ACTION_TIMEOUT
    assert all(not responses[i].actions[0].errors for i in quick)
    pids = {responses[i].actions[0].body['pid'] for i in quick}
    # The worker did not restart for it: it goes on serving, as the same process.
    after = send_all(client, [{'action': 'sleep', 'body': {'seconds': 0, 'label': 'after'}}])
    [response] = collect(client, after).values()
    assert {response.actions[0].body['pid']} == pids


@pytest.mark.timeout(60)
def test_a_job_that_cannot_be_cancelled_ends_the_worker_after_the_grace(
    start_service: StartService, redis_url: str
) -> None:
    service = start(start_service, 2, CONCURRENT_HARAKIRI='1', CONCURRENT_HARAKIRI_GRACE='1')
    client = make_client(redis_url)
    send_all(client, [{'action': 'sync_sleep', 'body': {'seconds': 50}}])
    assert service.wait(timeout=30) == 1
    assert 'could not be cancelled; exiting now' in service.output()


@pytest.mark.timeout(60)
def test_sigterm_waits_for_every_job_in_flight(start_service: StartService, redis_url: str) -> None:
    service = start(start_service, 5)
    client = make_client(redis_url)
    connection = redis.Redis.from_url(redis_url)
    ids = send_all(client, [{'action': 'sleep', 'body': {'seconds': 2, 'label': 'term'}}] * 5)
    assert wait_until(lambda: connection.llen(QUEUE) == 0, timeout=10)  # all five taken, none answered yet
    assert service.process is not None
    service.signal(signal.SIGTERM)
    responses = collect(client, ids)
    assert len(responses) == 5
    assert all(not r.errors and not r.actions[0].errors for r in responses.values())
    assert service.process.wait(timeout=20) == 0


@pytest.mark.timeout(60)
def test_sync_actions_run_side_by_side_on_the_job_threads(start_service: StartService, redis_url: str) -> None:
    start(start_service, 4)
    client = make_client(redis_url)
    action = {'action': 'sync_barrier', 'body': {'name': 'sync', 'parties': 4, 'timeout': 20}}
    responses = collect(client, send_all(client, [action] * 4))
    assert [r.actions[0].body['met'] for r in responses.values()] == [True] * 4


@pytest.mark.timeout(90)
def test_at_least_once_a_killed_worker_s_jobs_are_answered_once_by_another(
    start_service: StartService, redis_url: str
) -> None:
    def start_worker() -> ServiceProcess:
        return start(start_service, 5, CONCURRENT_DELIVERY='at-least-once')

    killed_worker_s_jobs_are_answered_once(start_worker, make_client(redis_url), redis.Redis.from_url(redis_url), QUEUE)


def killed_worker_s_jobs_are_answered_once(
    start_worker: Callable[[], ServiceProcess], client: Client, connection: 'redis.Redis[bytes]', queue: str
) -> None:
    """Five 3 s jobs held by a concurrent worker (at-least-once delivery) that is then SIGKILLed: the worker started
    next answers each exactly once, and nothing is left queued, in flight or unread (`connection`: the queue's
    Redis)."""
    victim = start_worker()
    ids = [
        client.send_request('concurrent', [{'action': 'sleep', 'body': {'seconds': 3, 'label': f'job-{i}'}}])
        for i in range(5)
    ]
    assert wait_until(lambda: in_flight_total(connection, queue) == 5, timeout=10)  # all five held by the victim
    victim.signal(signal.SIGKILL)
    assert victim.wait(timeout=10) == -signal.SIGKILL

    heir = start_worker()
    assert heir.process is not None
    responses = collect(client, ids, timeout=40)  # fails on a second answer to any of them
    assert sorted(responses) == sorted(ids)
    assert {r.actions[0].body['pid'] for r in responses.values()} == {heir.process.pid}
    assert sorted(r.actions[0].body['label'] for r in responses.values()) == [f'job-{i}' for i in range(5)]
    # Nothing more can come: no answer waits in a reply queue, and no request is queued or in flight.
    assert wait_until(lambda: in_flight_total(connection, queue) == 0, timeout=5)
    assert connection.llen(queue) == 0
    assert sum(int(connection.llen(key)) for key in connection.scan_iter(queue + '.*!*')) == 0


@pytest.mark.timeout(60)
def test_signing_and_receive_limits_hold_under_concurrency(start_service: StartService, redis_url: str) -> None:
    key = 'k' * 32
    start(start_service, 5, PYSOA_SIGNING_KEYS=key)
    connection = redis.Redis.from_url(redis_url)
    forged_reply_queue = 'service.concurrent.forged!000000000001'
    envelope: Envelope = {
        'request_id': 66,
        'meta': {'client_version': [2, 0, 0], 'reply_to': forged_reply_queue, '__expiry__': time.time() + 60},
        'body': {'control': {}, 'context': {'switches': []}, 'actions': [{'action': 'sleep', 'body': {'seconds': 0}}]},
    }
    unsigned = encode(envelope, MsgpackSerializer(), ProtocolVersion.VERSION_3, 1_000_000).elements
    connection.rpush(QUEUE, unsigned)  # refused unrun: it carries no signature

    client = make_client(redis_url, signing_keys=[key], maximum_message_size_in_bytes=1_000_000)
    good = send_all(client, [{'action': 'sleep', 'body': {'seconds': 0.2, 'label': 'signed'}}] * 4)
    too_large = send_all(client, [{'action': 'sleep', 'body': {'seconds': 0, 'label': 'x' * 300_000}}])
    responses = collect(client, good + too_large)
    assert all(not responses[i].errors and responses[i].actions[0].body['label'] == 'signed' for i in good)
    [error] = responses[too_large[0]].errors
    assert error.code == ERROR_CODE_INVALID and 'exceeds the maximum message size' in error.message
    assert connection.llen('pysoa:' + forged_reply_queue) == 0


def test_concurrency_refuses_a_transport_other_than_redis() -> None:
    class LocalServer(Server):
        service_name = 'local_concurrent'
        action_class_map = {}

    settings = {'transport': {'path': 'pysoa.common.transport.local:LocalServerTransport'}, 'concurrency': 4}
    server = LocalServer(ServerSettings(settings))
    with pytest.raises(ServerSettings.ImproperlyConfigured, match='concurrency=4 needs the Redis transport'):
        server.run()


@pytest.mark.timeout(60)
def test_forked_workers_are_not_started_with_settings_they_would_refuse(start_service: StartService) -> None:
    # Refused once, by the supervisor, before any worker is forked (rather than by every worker, respawned).
    service = start_service(
        workers=2, **SERVICE, env={'CONCURRENCY': '4', 'CONCURRENT_TRANSPORT': 'local'}, wait_for_workers=False
    )
    assert service.wait(timeout=30) == 1
    assert 'concurrency=4 needs the Redis transport' in service.output()
    assert 'not LocalServerTransport' in service.output()


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ServerSettings.ImproperlyConfigured, match='concurrency'):
        ServerSettings({'concurrency': 0})


def redis_transport(redis_url: str) -> dict[str, Any]:
    return {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': {'backend_layer_kwargs': {'hosts': [redis_url]}, 'receive_timeout_in_seconds': 1},
    }


def serve_in_process(server: Server, redis_url: str, actions: list[dict[str, Any]]) -> dict[int, JobResponse]:
    """Run `server` in this thread (as its own process would) while another thread sends `actions`, one job
    each, collects the responses and stops the server."""
    responses: dict[int, JobResponse] = {}

    def call_then_stop() -> None:
        try:
            client = make_client(redis_url)
            responses.update(collect(client, send_all(client, actions)))
        finally:
            server.request_shutdown()

    caller = threading.Thread(target=call_then_stop)
    caller.start()
    server.run()
    caller.join(timeout=30)
    return responses


class _AsyncBarrierAction(Action):
    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        from tests.concurrent_service.server import _wait_at

        return await _wait_at(request.body)


def test_without_greenlet_async_jobs_still_overlap_on_job_threads(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_greenlets, 'AVAILABLE', False)

    class ThreadedServer(Server):
        service_name = 'concurrent'
        action_class_map = {'barrier': _AsyncBarrierAction}

    server = ThreadedServer(ServerSettings({'transport': redis_transport(redis_url), 'concurrency': 4}))
    responses = serve_in_process(server, redis_url, [barrier('threaded', 4)] * 4)
    assert [r.actions[0].body['met'] for r in responses.values()] == [True] * 4


class _DjangoBarrierAction(Action):
    barrier = threading.Barrier(3)
    events: list[tuple[int, str]] = []

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        self.events.append((threading.get_ident(), 'job'))
        self.barrier.wait(20)  # the three jobs run at once, each on its own thread
        return {}


def test_django_hooks_run_on_the_thread_of_their_own_job(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _DjangoBarrierAction.events
    events.clear()
    monkeypatch.setattr(
        integration, 'before_request', lambda close_connections: events.append((threading.get_ident(), 'before'))
    )
    monkeypatch.setattr(
        integration, 'after_request', lambda close_connections: events.append((threading.get_ident(), 'after'))
    )
    monkeypatch.setattr(integration, 'close_old_connections', lambda: None)
    monkeypatch.setattr(integration, 'close_caches', lambda shutdown=False: None)

    class DjangoConcurrentServer(Server):
        service_name = 'concurrent'
        action_class_map = {'work': _DjangoBarrierAction}
        use_django = True

    server = DjangoConcurrentServer(ServerSettings({'transport': redis_transport(redis_url), 'concurrency': 3}))
    responses = serve_in_process(server, redis_url, [{'action': 'work', 'body': {}}] * 3)
    assert len(responses) == 3 and all(not r.errors and not r.actions[0].errors for r in responses.values())
    by_thread: dict[int, list[str]] = {}
    for thread, event in events:
        by_thread.setdefault(thread, []).append(event)
    # Three job threads, none of them the loop's, each with its job between its own hooks.
    assert threading.get_ident() not in by_thread
    assert sorted(by_thread.values()) == [['before', 'job', 'after']] * 3


@pytest.mark.timeout(120)
def test_the_concurrency_benchmark_runs_end_to_end() -> None:
    """`bench/concurrency.py` starts its own Redis and workers and prints its table; it measures nothing here."""
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / 'bench' / 'concurrency.py'), '--duration', '0.3', '--levels', '1,10'],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith('| 1 |') or line.startswith('| 10 |')]
    assert len(rows) == 2, done.stdout
