"""A concurrent worker (`concurrency` 10, a real worker process) through a real Sentinel failover (issue 10).

Requests wait in the queue, and ten at a time are being served, when `SENTINEL FAILOVER` switches the master. The
`record` action of `tests.concurrent_service` notes each run in a file; a blocking `RedisClientTransport` collects
the answers. In both delivery modes: no request runs twice, no caller is handed an answer twice, and every call is
answered or fails with a transient error (a time-out: its request was lost, which only at-most-once delivery may do).
"""

import collections
import time
from pathlib import Path
from typing import Any

import pytest

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import TransientPySOATransportError
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.test.waiting import wait_until
from tests.conftest import StartService
from tests.test_concurrent_worker import SERVICE
from tests.test_redis_sentinel import MASTER_NAME, SentinelCluster
from tests.test_sentinel_failover import _replica_in_sync, _request_failover
from tests.test_sentinel_failover import cluster as sentinels  # noqa: F401  # the fixture (a set per test), shared

CONCURRENCY = 10
REQUESTS = 400
"""With ten served at once, 400 jobs of 50 ms keep the queue busy for about 2 s: the failover lands mid-queue."""
ACTION_SECONDS = 0.05


def _job(label: str) -> dict[str, Any]:
    return {
        'control': {'continue_on_error': False},
        'context': {'correlation_id': label, 'switches': []},
        'actions': [{'action': 'record', 'body': {'label': label, 'seconds': ACTION_SECONDS}}],
    }


def _runs(path: Path) -> list[str]:
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    'delivery',
    ['at-most-once', 'at-least-once'],
)
def test_a_concurrent_worker_through_a_failover_runs_nothing_twice_and_answers_nothing_twice(
    sentinels: SentinelCluster,  # noqa: F811  # the fixture imported above
    start_service: StartService,
    tmp_path: Path,
    delivery: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level('WARNING', logger='pysoa.common.transport.redis_gateway.client')
    runs_file = tmp_path / 'runs'
    runs_file.touch()
    kwargs = {
        'backend_type': 'redis.sentinel',
        'backend_layer_kwargs': {
            'hosts': sentinels.hosts,
            'sentinel_services': [MASTER_NAME],
            'sentinel_failover_retries': 8,
        },
    }
    client = RedisClientTransport('concurrent', noop_metrics, **kwargs)
    sent = {request_id: f'r{request_id}' for request_id in range(1, REQUESTS + 1)}
    for request_id, label in sent.items():
        client.send_request_message(request_id, {}, _job(label), message_expiry_in_seconds=120)
    # The replica holds every queued request before the worker starts (it may still be in its first sync).
    assert wait_until(lambda: _replica_in_sync(sentinels), 40), 'no replica in sync'

    env = {
        'CONCURRENCY': str(CONCURRENCY),
        'CONCURRENT_BACKEND': 'redis.sentinel',
        'SENTINELS': ','.join(f'{host}:{port}' for host, port in sentinels.hosts),
        'SENTINEL_SERVICE': MASTER_NAME,
        'CONCURRENT_RUNS_FILE': str(runs_file),
    }
    if delivery == 'at-least-once':
        # A heartbeat that outlasts the failover (docs/delivery.rst): otherwise the worker is taken for dead.
        env.update({'CONCURRENT_DELIVERY': delivery, 'CONCURRENT_HEARTBEAT_EXPIRY': '20'})
    service_log = tmp_path / 'service.log'
    start_service(workers=1, **SERVICE, env=env, log_path=str(service_log), wait_for_workers=False)

    assert wait_until(lambda: len(_runs(runs_file)) >= 20, 30), 'nothing served before the failover'
    _request_failover(sentinels)
    ran_at_switch = len(_runs(runs_file))

    answered: list[int] = []
    failed: list[int] = []  # answered with errors (none expected: the action cannot fail)
    transient: list[str] = []
    deadline = time.monotonic() + 60
    for _ in range(500):  # each turn returns a response, a time-out (2 s) or a transient error
        if client.requests_outstanding < 1 or time.monotonic() >= deadline:
            break
        try:
            response = client.receive_response_message(2)
        except TransientPySOATransportError as error:
            transient.append(type(error).__name__)
            continue
        if response.request_id is not None:
            answered.append(response.request_id)
            if response.body is not None and response.body.get('errors'):
                failed.append(response.request_id)

    executions = collections.Counter(_runs(runs_file))
    ran_twice = sorted(label for label, count in executions.items() if count > 1)
    answered_twice = sorted({request_id for request_id in answered if answered.count(request_id) > 1})
    dropped = [record.getMessage() for record in caplog.records if 'Dropped a response' in record.getMessage()]
    lost = sorted(set(sent) - set(answered))
    print(
        f'{delivery}: {len(sent)} queued, {ran_at_switch} run when the Sentinels switched, '
        f'{sum(executions.values())} runs, {len(set(answered))} answered ({len(failed)} with errors), '
        f'{len(lost)} lost (time-outs), {len(ran_twice)} run twice, {len(answered_twice)} answered twice, '
        f'{len(dropped)} second responses dropped by the client, transient errors: {collections.Counter(transient)}'
    )
    if ran_twice or (lost and delivery == 'at-least-once'):
        print(service_log.read_text()[-30000:])
    assert ran_at_switch < len(sent), 'the queue was empty before the switch: nothing was tested'
    assert ran_twice == [], ran_twice
    assert answered_twice == []  # no caller is handed a second answer (the client drops and logs one)
    assert set(answered) <= set(sent) and failed == []
    assert set(executions) <= set(sent.values())
    if delivery == 'at-least-once':
        assert lost == [], f'{len(lost)} requests lost'
