"""The concurrent worker (`concurrency` setting, docs/concurrency.rst) in real worker processes on a real Redis.

The service is `tests.concurrent_service`. Overlap is shown with barriers that only open when N jobs wait at
once (a worker serving one at a time answers `met: False` after the barrier's timeout); nothing asserts a time.
"""

import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from pysoa.client import Client
from pysoa.common.constants import ERROR_CODE_ACTION_TIMEOUT
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys
from pysoa.common.types import JobResponse
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until
from tests.conftest import StartService

SERVICE = {'module': 'tests.concurrent_service', 'settings': 'tests.concurrent_service.settings'}
QUEUE = 'pysoa:service.concurrent'


def make_client(redis_url: str, timeout: float = 30) -> Client:
    transport = {
        'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
        'kwargs': {
            'backend_type': 'redis.standard',
            'backend_layer_kwargs': {'hosts': [redis_url]},
            'receive_timeout_in_seconds': timeout,
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
        for request_id, response in client.get_all_responses('concurrent', receive_timeout_in_seconds=5):
            assert request_id not in responses, f'request {request_id} answered twice'
            responses[request_id] = response
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
