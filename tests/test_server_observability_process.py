"""A real worker process on a real Redis, sending its metrics with the statsd recorder to a real UDP socket on
127.0.0.1 and its JSON log lines to its output: per-action metrics, the job summary line with the sizes the Redis
transport reports, and an expired request logged and counted."""

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from examples.echo_client import make_client
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.envelope import encode
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until
from tests.conftest import StartService
from tests.statsd_listener import assert_received

SETTINGS = """
import copy
import os

from examples.echo_service.settings import SOA_SERVER_SETTINGS as ECHO_SETTINGS
from pysoa.server.settings import DEFAULT_LOGGING_CONFIG

SOA_SERVER_SETTINGS = copy.deepcopy(ECHO_SETTINGS)
SOA_SERVER_SETTINGS['metrics'] = {
    'path': 'pysoa.common.statsd_recorder:StatsdMetricsRecorder',
    'kwargs': {'host': '127.0.0.1', 'port': int(os.environ['OBSERVED_STATSD_PORT']), 'prefix': 'echo'},
}
SOA_SERVER_SETTINGS['logging'] = DEFAULT_LOGGING_CONFIG
"""


@pytest.fixture
def service(start_service: StartService, udp_socket: socket.socket, tmp_path: Path) -> ServiceProcess:
    (tmp_path / 'observed_settings.py').write_text(SETTINGS)
    return start_service(
        1,
        settings='observed_settings',
        python_path=[str(tmp_path)],
        env={'OBSERVED_STATSD_PORT': str(udp_socket.getsockname()[1])},
    )


def json_records(service: ServiceProcess) -> list[dict[str, Any]]:
    records = []
    for line in service.output().splitlines():
        if line.startswith('{'):
            records.append(json.loads(line))
    return records


def push_expired_request(redis_url: str, request_id: int) -> None:
    meta = {'client_version': [2, 0, 0], 'reply_to': f'service.echo.{uuid.uuid4().hex}!000000000001'}
    meta['__expiry__'] = time.time() - 5
    body = {'control': {}, 'context': {'switches': []}, 'actions': [{'action': 'echo', 'body': {'message': 'x'}}]}
    message = {'request_id': request_id, 'meta': meta, 'body': body}
    elements, _ = encode(message, MsgpackSerializer(), ProtocolVersion.VERSION_3, 1_000_000)
    redis.Redis.from_url(redis_url).rpush('pysoa:service.echo', elements)  # type: ignore[arg-type]  # one element


def test_a_worker_reports_per_action_metrics_and_logs_over_udp_and_json(
    service: ServiceProcess, redis_url: str, udp_socket: socket.socket
) -> None:
    client = make_client(redis_url)
    assert client.call_action('echo', 'echo', {'message': 'hello'}).body == {'message': 'hello'}
    refused = client.call_action('echo', 'divide', {'dividend': 1, 'divisor': 0}, raise_action_errors=False)
    assert [e.code for e in refused.errors] == ['DIVISION_BY_ZERO']
    client.call_action('echo', 'echo', {'wrong': 'key'}, raise_action_errors=False)
    client.call_action('echo', 'no_such_action', {}, raise_action_errors=False)
    push_expired_request(redis_url, 987654)
    # The worker takes its queue in order: once this is answered, the expired request has been dealt with.
    assert client.call_action('echo', 'square', {'number': 3}).body == {'square': 9}

    expected = {
        'echo.server.action.echo.calls',
        'echo.server.action.echo.duration',
        'echo.server.action.echo.request_invalid',
        'echo.server.action.divide.error.DIVISION_BY_ZERO',
        'echo.server.action._unknown.error.UNKNOWN',
        'echo.server.action.square.calls',
        'echo.server.transport.redis_gateway.receive.error.message_expired',
        'echo.server.worker.busy',
    }
    by_name = assert_received(udp_socket, expected)
    assert by_name['echo.server.action.echo.calls'] == ['1|c', '1|c']
    assert all(value.endswith('|ms') for value in by_name['echo.server.action.echo.duration'])

    records = json_records(service)
    [expired] = [r for r in records if 'expired' in r['message'] and '987654' in r['message']]
    assert expired['level'] == 'WARNING' and 'seconds ago' in expired['message']
    assert wait_until(lambda: any(r.get('actions') == ['square'] for r in json_records(service)), timeout=10)
    summaries = [r for r in json_records(service) if r['message'].startswith('Job done: ')]
    echo, invalid_echo = [r for r in summaries if r['actions'] == ['echo']]
    assert echo['service'] == 'echo' and echo['level'] == 'INFO' and echo['outcome'] == 'ok'
    assert invalid_echo['outcome'] == 'error' and invalid_echo['error_codes']
    assert isinstance(echo['request_bytes'], int) and echo['request_bytes'] > 50
    assert isinstance(echo['response_bytes'], int) and echo['response_bytes'] > 20
    assert echo['correlation_id'] and echo['request_id'] is not None
    [divide] = [r for r in summaries if r['actions'] == ['divide']]
    assert divide['error_codes'] == ['DIVISION_BY_ZERO']
    assert not any(r['message'].startswith('Job request') for r in records)  # bodies are at DEBUG
