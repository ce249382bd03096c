"""The standard Redis backend: host forms, queue placement across hosts (as 1.x peers compute it), URLs,
ACL users, TLS and unix sockets."""

import binascii
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import redis

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.backend.standard import StandardRedisClient
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.core import RedisTransportServerCore
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.test.redis_server import RedisServerError, RedisServerProcess, find_redis_server_binary, get_free_port
from tests.ci import unavailable

JOB = {'control': {'continue_on_error': False}, 'context': {'correlation_id': 'c', 'switches': []}, 'actions': []}


def reference_index(key: str, ring_size: int) -> int:
    """The placement formula exactly as PySOA 1.4.9 peers evaluate it."""
    return int((binascii.crc32(key.encode('utf8')) & 0xFFF) / (4096.0 / ring_size))


def test_reply_queue_placement_matches_1x_peers_for_every_ring_size() -> None:
    keys = [f'pysoa:service.svc.{n:032x}!{n * 7919:012x}' for n in range(3000)]
    for ring_size in range(1, 10):
        client = StandardRedisClient(hosts=[('192.0.2.1', 6379 + n) for n in range(ring_size)])
        assert [client._get_consistent_hash_index(key) for key in keys] == [
            reference_index(key, ring_size) for key in keys
        ]


def test_reply_queue_placement_at_bucket_edges() -> None:
    # Where 4096 * k / ring_size is a whole number, float rounding decides the bucket; it must agree.
    wanted = {0, 2048, 4095, 1365, 2730, 1024, 3072, 682, 683}
    found: dict[int, str] = {}
    for n in range(200_000):
        key = f'pysoa:service.edge.{n}!'
        value = binascii.crc32(key.encode()) & 0xFFF
        if value in wanted and value not in found:
            found[value] = key
            if len(found) == len(wanted):
                break
    assert found
    for ring_size in (2, 3, 4, 6, 7):
        client = StandardRedisClient(hosts=[('192.0.2.1', 7000 + n) for n in range(ring_size)])
        for key in found.values():
            assert client._get_consistent_hash_index(key) == reference_index(key, ring_size)


@pytest.mark.parametrize(
    'hosts',
    ['redis://localhost:1234/0', [1234], [('host', 'port')], [('host', 1, 2)], [('host', True)]],
)
def test_invalid_hosts_are_refused(hosts: Any) -> None:
    with pytest.raises(ValueError):
        StandardRedisClient(hosts=hosts)


def test_host_forms_and_defaults() -> None:
    client = StandardRedisClient(
        hosts=['plain', ('pair', 7000), ['listpair', 7001], 'redis://:pw@urlhost:7002/3'],
        connection_kwargs={'db': 1},
    )
    pools = [client._get_connection(index).connection_pool.connection_kwargs for index in range(4)]
    assert [(p['host'], p['port'], p['db']) for p in pools] == [
        ('plain', 6379, 1),
        ('pair', 7000, 1),
        ('listpair', 7001, 1),
        ('urlhost', 7002, 3),
    ]
    assert pools[3]['password'] == 'pw'
    assert all(p['socket_connect_timeout'] == 5.0 for p in pools)
    with pytest.raises(ValueError):
        client._get_connection(4)


def test_core_folds_redis_port_and_redis_db_shortcuts() -> None:
    core = RedisTransportServerCore(
        'redis.standard',
        backend_layer_kwargs={
            'hosts': [('localhost', 6379), 'far_away_host', 'redis://u:6380/1'],
            'redis_db': 2,
            'redis_port': 1098,
        },
    )
    assert core.backend_layer_kwargs == {
        'hosts': [('localhost', 6379), ('far_away_host', 1098), 'redis://u:6380/1'],
        'connection_kwargs': {'db': 2},
    }
    defaults = RedisTransportServerCore('redis.standard')
    assert defaults.backend_layer_kwargs == {}
    assert (defaults.message_expiry_in_seconds, defaults.queue_capacity, defaults.queue_full_retries) == (60, 10000, 10)
    assert defaults.receive_timeout_in_seconds == 5
    assert defaults.maximum_message_size_in_bytes == 250 * 1024


def test_core_folds_hosts_even_when_the_client_class_is_mocked() -> None:
    # PySOA 1.x's own tests replace StandardRedisClient with a mock and expect the folded hosts in its call.
    # The shared backend cache is emptied for the test (and restored), so the mock is neither found nor kept there.
    with (
        mock.patch.dict(RedisTransportServerCore._backend_layer_cache, clear=True),
        mock.patch('pysoa.common.transport.redis_gateway.core.StandardRedisClient') as client_class,
    ):
        core = RedisTransportServerCore(
            'redis.standard',
            backend_layer_kwargs={'hosts': ['far_away_host', 'redis://u:6380/1', 'near_host'], 'redis_port': 1098},
        )
        assert core.backend_layer is client_class.return_value
    client_class.assert_called_once_with(hosts=[('far_away_host', 1098), 'redis://u:6380/1', ('near_host', 1098)])


def test_hiredis_parser_is_used_when_installed(redis_url: str) -> None:
    pytest.importorskip('hiredis')
    client = StandardRedisClient(hosts=[redis_url])
    connection: Any = client._get_connection(0).connection_pool.make_connection()
    try:
        assert 'Hiredis' in type(connection._parser).__name__
    finally:
        connection.disconnect()


def test_db_in_url_is_honoured(redis_server: RedisServerProcess) -> None:
    url = f'redis://{redis_server.host}:{redis_server.port}/5'
    raw = redis.Redis(host=redis_server.host, port=redis_server.port, db=5)
    try:
        raw.flushdb()
        client = RedisClientTransport(
            'db5', noop_metrics, backend_type='redis.standard', backend_layer_kwargs={'hosts': [url]}
        )
        client.send_request_message(1, {}, JOB)
        assert raw.llen('pysoa:service.db5') == 1
    finally:
        raw.flushdb()
        raw.close()


# ---- several hosts


@pytest.fixture(scope='module')
def three_servers() -> Iterator[list[RedisServerProcess]]:
    if find_redis_server_binary() is None:
        unavailable('no redis-server')
    servers = [RedisServerProcess() for _ in range(3)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def three_hosts(three_servers: list[RedisServerProcess]) -> Iterator[list['redis.Redis']]:
    connections = [redis.Redis(host=s.host, port=s.port) for s in three_servers]
    for connection in connections:
        connection.flushdb()
    yield connections
    for connection in connections:
        connection.close()


def test_requests_spread_over_hosts_and_replies_placed_by_hash(
    three_servers: list[RedisServerProcess], three_hosts: list['redis.Redis']
) -> None:
    hosts = [(s.host, s.port) for s in three_servers]
    settings: dict[str, Any] = {
        'backend_type': 'redis.standard',
        'backend_layer_kwargs': {'hosts': hosts},
        'receive_timeout_in_seconds': 1,
    }
    client = RedisClientTransport('spread', noop_metrics, **settings)
    server = RedisServerTransport('spread', noop_metrics, **settings)
    for sent_id in range(30):
        client.send_request_message(sent_id, {}, JOB)
    counts = [connection.llen('pysoa:service.spread') for connection in three_hosts]
    assert sum(counts) == 30
    assert all(count == 10 for count in counts)  # a shuffled round robin visits every host in turn

    received: list[int] = []
    reply_to = ''
    for _ in range(60):  # bounded: each receive waits on one host at most 1 s
        if len(received) == 30:
            break
        try:
            request_id, meta, body = server.receive_request_message()
        except MessageReceiveTimeout:
            continue
        assert meta is not None and body is not None and request_id is not None
        received.append(request_id)
        reply_to = meta['reply_to']
        server.send_response_message(request_id, meta, {'errors': [], 'context': {}, 'actions': []})
    assert sorted(received) == list(range(30))

    reply_key = 'pysoa:' + reply_to
    expected_host = reference_index(reply_key, 3)
    assert [connection.llen(reply_key) for connection in three_hosts] == [
        30 if index == expected_host else 0 for index in range(3)
    ]
    response_ids = [client.receive_response_message(5).request_id for _ in range(30)]
    assert sorted(n for n in response_ids if n is not None) == list(range(30))


# ---- security and sockets


def _start_server(extra_args: tuple[str, ...]) -> RedisServerProcess:
    if find_redis_server_binary() is None:
        unavailable('no redis-server')
    try:
        return RedisServerProcess(extra_args=extra_args).start()
    except RedisServerError as error:
        unavailable(f'this redis-server cannot do it: {error}')


def round_trip(settings: dict[str, Any], service: str) -> None:
    client = RedisClientTransport(service, noop_metrics, **settings)
    server = RedisServerTransport(service, noop_metrics, **settings)
    client.send_request_message(1, {}, JOB)
    request_id, meta, body = server.receive_request_message()
    assert request_id == 1 and meta is not None and body == JOB
    server.send_response_message(request_id, meta, {'errors': [], 'context': {}, 'actions': []})
    assert client.receive_response_message(5).request_id == 1


def test_acl_user_and_unix_socket() -> None:
    directory = tempfile.mkdtemp(prefix='pysoa-acl-')
    socket_path = str(Path(directory) / 'redis.sock')
    server = _start_server(
        (
            '--user',
            'default',
            'off',
            '--user',
            'alice',
            'on',
            '>s3cret',
            '~pysoa:*',
            '+@all',
            '--unixsocket',
            socket_path,
        )
    )
    try:
        credentials = {'username': 'alice', 'password': 's3cret'}
        round_trip(
            {
                'backend_type': 'redis.standard',
                'backend_layer_kwargs': {
                    'hosts': [(server.host, server.port)],
                    'connection_kwargs': credentials,
                },
            },
            'acl',
        )
        round_trip(
            {
                'backend_type': 'redis.standard',
                'backend_layer_kwargs': {
                    'hosts': [f'unix://{socket_path}'],
                    'connection_kwargs': credentials,
                },
            },
            'unix',
        )
        round_trip(
            {
                'backend_type': 'redis.standard',
                'backend_layer_kwargs': {
                    'hosts': [f'redis://alice:s3cret@{server.host}:{server.port}/0'],
                },
            },
            'aclurl',
        )
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_tls_with_rediss_url() -> None:
    if shutil.which('openssl') is None:
        unavailable('no openssl to make a certificate')
    directory = tempfile.mkdtemp(prefix='pysoa-tls-')
    try:
        cert, key = str(Path(directory) / 'cert.pem'), str(Path(directory) / 'key.pem')
        subprocess.run(
            [
                'openssl',
                'req',
                '-x509',
                '-newkey',
                'rsa:2048',
                '-nodes',
                '-keyout',
                key,
                '-out',
                cert,
                '-days',
                '1',
                '-subj',
                '/CN=127.0.0.1',
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        tls_port = get_free_port()
        server = _start_server(
            (
                '--tls-port',
                str(tls_port),
                '--tls-cert-file',
                cert,
                '--tls-key-file',
                key,
                '--tls-ca-cert-file',
                cert,
                '--tls-auth-clients',
                'no',
            )
        )
        try:
            round_trip(
                {
                    'backend_type': 'redis.standard',
                    'backend_layer_kwargs': {
                        'hosts': [f'rediss://127.0.0.1:{tls_port}/0'],
                        'connection_kwargs': {'ssl_ca_certs': cert, 'ssl_check_hostname': False},
                    },
                },
                'tls',
            )
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
