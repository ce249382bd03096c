"""The Redis Cluster backend (issue 12, item 3) against a real cluster of 3 masters and 3 replicas.

Key layout, traffic from several client threads to services on different masters, at-least-once delivery with
a worker killed mid-request, and the refusal of settings that mix cluster and non-cluster peers.
"""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveError, MessageSendError
from pysoa.common.transport.redis_gateway.backend.cluster import ClusterRedisClient, NotAClusterError, has_hash_tag
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.dead_letters import DeadLetters
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.common.transport.redis_gateway.settings import RedisClientTransportSchema
from pysoa.test.redis_cluster import RedisClusterProcesses
from pysoa.test.waiting import wait_until
from tests.cluster_fixture import StartClusterService
from tests.cluster_helpers import cluster_client, cluster_transport_kwargs, names_on_distinct_masters, request_queue


def test_every_key_of_a_service_shares_the_slot_of_its_request_queue() -> None:
    client = RedisClientTransport('orders.v2', noop_metrics, **cluster_transport_kwargs(['redis://127.0.0.1:1']))
    queue = 'pysoa:' + client._send_queue_name
    reply_queue = 'pysoa:' + client._reply_queue_name(client._thread_state)
    keys = DeliveryKeys(queue)
    assert queue == 'pysoa:{service.orders.v2}'
    assert reply_queue.startswith('pysoa:{service.orders.v2}.') and '!' in reply_queue
    names = [
        queue,
        reply_queue,
        keys.in_flight('host:1:ab'),
        keys.heartbeat('host:1:ab'),
        keys.workers,
        keys.deliveries,
        keys.dead,
        keys.dead_letter('0123'),
    ]
    assert {key_slot(name.encode()) for name in names} == {key_slot(b'service.orders.v2')}
    # Standard and Sentinel backends keep the 1.x names.
    standard = RedisClientTransport('orders.v2', noop_metrics, backend_layer_kwargs={'hosts': ['redis://127.0.0.1:1']})
    assert standard._send_queue_name == 'service.orders.v2'


def test_settings_accept_the_cluster_backend_and_refuse_what_a_cluster_cannot_take() -> None:
    kwargs = cluster_transport_kwargs(['redis://127.0.0.1:7000', ('127.0.0.1', 7001)])
    kwargs['backend_layer_kwargs']['cluster_kwargs'] = {'require_full_coverage': False}
    assert RedisClientTransportSchema.errors(kwargs) == []
    assert RedisClientTransportSchema.errors({**kwargs, 'backend_type': 'redis.clustr'})
    with pytest.raises(ValueError, match='only database 0'):
        ClusterRedisClient.check_settings(hosts=['redis://127.0.0.1:7000/3'])
    with pytest.raises(ValueError, match='redis:// or rediss://'):
        ClusterRedisClient.check_settings(hosts=['unix:///tmp/redis.sock'])
    with pytest.raises(ValueError, match='same scheme, credentials'):
        ClusterRedisClient.check_settings(hosts=['redis://a:1', 'redis://user:secret@b:2'])
    with pytest.raises(ValueError, match='Invalid connection_kwargs'):
        ClusterRedisClient.check_settings(hosts=['redis://a:1'], connection_kwargs={'no_such_option': 1})


@pytest.mark.timeout(120)
def test_client_threads_call_services_on_different_masters_served_by_worker_processes(
    redis_cluster: RedisClusterProcesses, cluster_hosts: list[str], start_cluster_service: StartClusterService
) -> None:
    services = names_on_distinct_masters(redis_cluster, 2)
    workers = {
        name: set(start_cluster_service(name, cluster_hosts, workers=2).worker_pids().values()) for name, _ in services
    }
    answers: list[tuple[str, str, int]] = []
    failures: list[BaseException] = []

    def caller(thread: int) -> None:
        client = cluster_client(cluster_hosts, workers)
        try:
            for n in range(25):
                for name in workers:
                    body = client.call_action(name, 'count', {'label': f'{thread}-{n}'}, timeout=10).body
                    answers.append((name, body['label'], body['pid']))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not failures
    expected = sorted((name, f'{t}-{n}') for name in workers for t in range(4) for n in range(25))
    assert sorted((name, label) for name, label, _ in answers) == expected
    for name, pids in workers.items():
        # Each service was answered by its own worker processes only.
        assert {pid for service, _, pid in answers if service == name} <= pids
    # The two queues live on two masters; nothing is left queued on either.
    (first, first_master), (second, second_master) = services
    assert first_master.port != second_master.port
    for name, master in services:
        assert redis_cluster.client(master).exists(request_queue(name)) == 0


def _busy_worker_pids(connection: redis.Redis, keys: DeliveryKeys) -> set[int]:
    pids = set()
    for key in connection.scan_iter(keys.prefix + 'in-flight:*'):
        if connection.llen(key):
            pids.add(int(key.decode().rsplit(':', 2)[1]))
    return pids


@pytest.mark.timeout(120)
def test_at_least_once_a_worker_killed_mid_request_gives_exactly_one_response(
    redis_cluster: RedisClusterProcesses,
    cluster_hosts: list[str],
    start_cluster_service: StartClusterService,
    tmp_path: Path,
) -> None:
    [(name, master)] = names_on_distinct_masters(redis_cluster, 1)
    runs_file = tmp_path / 'runs'
    start_cluster_service(name, cluster_hosts, workers=2, at_least_once=True, env={'ALO_RUNS_FILE': str(runs_file)})
    keys = DeliveryKeys(request_queue(name))
    connection = redis_cluster.client(master)
    client = cluster_client(cluster_hosts, [name])

    request_id = client.send_request(name, [{'action': 'sleep', 'body': {'seconds': 3}}])
    assert wait_until(lambda: bool(_busy_worker_pids(connection, keys)), timeout=10)
    [victim] = _busy_worker_pids(connection, keys)
    os.kill(victim, signal.SIGKILL)

    [(answered_id, response)] = list(client.get_all_responses(name, receive_timeout_in_seconds=30))
    assert answered_id == request_id and not response.errors
    assert response.actions[0].body['pid'] != victim  # run again by the other worker
    in_flight = lambda: sum(connection.llen(key) for key in connection.scan_iter(keys.prefix + 'in-flight:*'))  # noqa: E731
    assert wait_until(lambda: in_flight() == 0 and connection.llen(keys.queue) == 0, timeout=10)
    assert sum(connection.llen(key) for key in connection.scan_iter(request_queue(name) + '.*')) == 0
    # The service still serves, and a poison request becomes a dead letter kept in the service's slot.
    crash = client.call_actions(name, [{'action': 'crash'}], raise_job_errors=False, timeout=40)
    assert 'dead letter' in crash.errors[0].message
    [letter] = DeadLetters(name, backend_type='redis.cluster', backend_layer_kwargs={'hosts': cluster_hosts}).list()
    assert letter.reason == 'max_deliveries'
    assert client.call_action(name, 'echo', {'message': 'still here'}, timeout=10).body == {'message': 'still here'}


def test_a_cluster_backend_pointed_at_a_standalone_redis_is_refused_naming_the_fix(redis_url: str) -> None:
    client = RedisClientTransport('echo', noop_metrics, **cluster_transport_kwargs([redis_url]))
    started = time.monotonic()
    with pytest.raises(NotAClusterError, match=r"runs without cluster mode: use backend_type 'redis.standard'"):
        client.send_request_message(1, {}, {'actions': []})
    assert time.monotonic() - started < 5


def test_a_cluster_service_refuses_to_answer_a_reply_queue_without_a_hash_tag(cluster_hosts: list[str]) -> None:
    server = RedisServerTransport('echo', noop_metrics, **cluster_transport_kwargs(cluster_hosts))
    # As a 1.x (or standard backend) client names its reply queue.
    meta = {'reply_to': 'service.echo.0123456789abcdef0123456789abcdef!0123456789ab'}
    with pytest.raises(InvalidMessageError, match="no hash tag.*backend_type 'redis.cluster'"):
        server.send_response_message(1, meta, {'actions': []})


def test_a_standard_backend_pointed_at_a_cluster_node_is_told_it_is_one(
    redis_cluster: RedisClusterProcesses, cluster_hosts: list[str]
) -> None:
    # A service name whose 1.x-style queue hashes away from the node given as the only host.
    node = redis_cluster.nodes[0]
    name = next(f'svc{n}' for n in range(1000) if redis_cluster.master_for_key(f'pysoa:service.svc{n}') is not node)
    kwargs = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [node.url]}}
    client = RedisClientTransport(name, noop_metrics, **kwargs)
    with pytest.raises(MessageSendError) as sending:
        client.send_request_message(1, {}, {'actions': []})
    server = RedisServerTransport(name, noop_metrics, receive_timeout_in_seconds=1, **kwargs)
    with pytest.raises(MessageReceiveError) as receiving:
        server.receive_request_message()
    for error in (sending.value, receiving.value):
        assert 'is a Redis Cluster node (it answered MOVED' in str(error)
        assert "needs backend_type 'redis.cluster'" in str(error)


@pytest.mark.parametrize(
    ('key', 'tagged'),
    [
        ('pysoa:{service.echo}', True),
        ('pysoa:{service.echo}.0123!4567', True),
        ('pysoa:{service.echo}#in-flight:w', True),
        ('pysoa:service.echo', False),
        ('pysoa:{}service.echo', False),  # an empty tag: Redis hashes the whole key
        ('pysoa:{service.echo', False),
    ],
)
def test_hash_tags_are_read_as_redis_cluster_reads_them(key: str, tagged: bool) -> None:
    assert has_hash_tag(key) is tagged
