"""The dead-letter API (list, show, replay, purge) and the delivery scripts it relies on, against a real Redis."""

import time
from collections.abc import Iterator

import pytest
import redis

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.backend import in_flight
from pysoa.common.transport.redis_gateway.backend.scripts import run_unless_full
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.dead_letters import DeadLetters
from pysoa.common.transport.redis_gateway.delivery import DELIVERY_COUNT_META_KEY, AtLeastOnceServerCore
from pysoa.common.transport.redis_gateway.server import RedisServerTransport

SERVICE = 'letters'
KEYS = in_flight.DeliveryKeys('pysoa:service.letters')


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def server(redis_url: str) -> Iterator[RedisServerTransport]:
    transport = RedisServerTransport(
        SERVICE,
        noop_metrics,
        backend_layer_kwargs={'hosts': [redis_url]},
        receive_timeout_in_seconds=1,
        delivery='at-least-once',
    )
    yield transport
    assert isinstance(transport.core, AtLeastOnceServerCore)
    transport.core.stop_heartbeat()


def expire_requests(redis_url: str, server: RedisServerTransport, count: int) -> DeadLetters:
    client = RedisClientTransport(SERVICE, noop_metrics, backend_layer_kwargs={'hosts': [redis_url]})
    for request_id in range(1, count + 1):
        client.send_request_message(request_id, {}, {'n': request_id}, message_expiry_in_seconds=0.05)
    time.sleep(0.1)  # not a wait for an event: the requests' deadline must pass
    for _ in range(count):
        with pytest.raises(MessageReceiveTimeout):
            server.receive_request_message()
    return DeadLetters(SERVICE, backend_layer_kwargs={'hosts': [redis_url]})


def test_list_and_show(redis_url: str, server: RedisServerTransport) -> None:
    letters = expire_requests(redis_url, server, 3)
    listed = letters.list()
    assert [letter.request_id for letter in listed] == ['1', '2', '3']
    assert letters.count() == 3
    assert [letter.request_id for letter in letters.list(limit=2)] == ['2', '3']
    shown = letters.show(listed[0].letter_id)
    assert shown == listed[0]
    assert shown is not None and shown.reason == 'expired' and shown.deliveries == 1
    assert shown.request().body == {'n': 1}
    assert letters.show('no-such-letter') is None


def test_replay_with_a_new_deadline_runs_the_request_again(redis_url: str, server: RedisServerTransport) -> None:
    letters = expire_requests(redis_url, server, 1)
    [letter] = letters.list()
    assert letters.replay(letter.letter_id, expiry_in_seconds=30)
    assert letters.list() == []
    request_id, meta, body = server.receive_request_message()
    assert (request_id, body) == (1, {'n': 1})
    assert meta is not None and meta[DELIVERY_COUNT_META_KEY] == 1
    assert not letters.replay(letter.letter_id)


def test_replay_as_it_was_and_purge(redis_url: str, server: RedisServerTransport, connection: redis.Redis) -> None:
    letters = expire_requests(redis_url, server, 3)
    first, second, third = letters.list()
    assert letters.replay(first.letter_id)
    assert connection.lindex('pysoa:service.letters', 0) == first.message  # the very bytes that were queued
    assert letters.purge(second.letter_id) == 1
    assert [letter.letter_id for letter in letters.list()] == [third.letter_id]
    assert letters.purge() == 1
    assert letters.list() == [] and not connection.exists(KEYS.dead, KEYS.dead_letter(third.letter_id))


def test_dead_letters_beyond_the_capacity_are_dropped_oldest_first(redis_url: str, connection: redis.Redis) -> None:
    connection.rpush(KEYS.in_flight('w'), b'a', b'b', b'c')
    for index, element in enumerate((b'a', b'b', b'c')):
        record = in_flight.DeadLetterRecord(f'id{index}', 'expired', 1.0 + index, 1, index, 'w')
        in_flight.dead_letter(connection, KEYS, element, record, keep_seconds=60, capacity=2)
    assert connection.lrange(KEYS.dead, 0, -1) == [b'id1', b'id2']
    assert connection.llen(KEYS.in_flight('w')) == 0
    assert 0 < connection.ttl(KEYS.dead_letter('id2')) <= 60


def test_recover_returns_dead_workers_requests_in_order_and_spares_the_living(connection: redis.Redis) -> None:
    queue = KEYS.queue
    connection.rpush(queue, b'later')
    connection.rpush(KEYS.in_flight('dead'), b'first', b'second')
    connection.rpush(KEYS.in_flight('alive'), b'busy')
    connection.rpush(KEYS.in_flight('me'), b'mine')
    for worker in ('dead', 'alive', 'me'):
        in_flight.heartbeat(connection, KEYS, worker, 60_000)
    connection.delete(KEYS.heartbeat('dead'), KEYS.heartbeat('me'))

    assert in_flight.recover(connection, KEYS, 'me') == [('dead', 2)]
    assert connection.lrange(queue, 0, -1) == [b'first', b'second', b'later']
    assert connection.smembers(KEYS.workers) == {b'alive', b'me'}
    assert connection.lrange(KEYS.in_flight('alive'), 0, -1) == [b'busy']
    assert connection.lrange(KEYS.in_flight('me'), 0, -1) == [b'mine']


def test_release_keeps_what_the_worker_still_serves(connection: redis.Redis) -> None:
    connection.rpush(KEYS.in_flight('w'), b'one', b'two', b'three')
    keep = [in_flight.request_digest(b'two')]
    assert in_flight.release(connection, KEYS, 'w', keep) == 2
    assert connection.lrange(KEYS.queue, 0, -1) == [b'one', b'three']
    assert connection.lrange(KEYS.in_flight('w'), 0, -1) == [b'two']


def test_reply_and_acknowledge_is_all_or_nothing(connection: redis.Redis) -> None:
    connection.rpush(KEYS.in_flight('w'), b'request')
    digest = in_flight.request_digest(b'request')
    connection.hset(KEYS.deliveries, digest, 1)
    connection.rpush('reply!', b'x')
    request = (b'request', digest)
    assert not run_unless_full(
        in_flight.reply_and_acknowledge_call('reply!', KEYS, 'w', request, b'r', expiry=60, capacity=1), connection
    )
    assert connection.llen(KEYS.in_flight('w')) == 1 and connection.hexists(KEYS.deliveries, digest)
    chunks = [b'r1', b'r2']
    assert run_unless_full(
        in_flight.reply_and_acknowledge_call('reply!', KEYS, 'w', request, chunks, expiry=60, capacity=5), connection
    )
    assert connection.lrange('reply!', 0, -1) == [b'x', b'r1', b'r2']
    assert connection.llen(KEYS.in_flight('w')) == 0 and not connection.hexists(KEYS.deliveries, digest)


def test_a_request_replayed_with_a_new_deadline_is_signed_for_a_service_that_requires_it(redis_url: str) -> None:
    keys = ['a-signing-key-of-32-characters!!']
    hosts = {'hosts': [redis_url]}
    signing = RedisServerTransport(
        SERVICE, noop_metrics, backend_layer_kwargs=hosts, receive_timeout_in_seconds=1, delivery='at-least-once',
        signing_keys=keys, signing_required=True,
    )  # fmt: skip
    client = RedisClientTransport(SERVICE, noop_metrics, backend_layer_kwargs=hosts, signing_keys=keys)
    client.send_request_message(9, {}, {'n': 9}, message_expiry_in_seconds=0.05)
    time.sleep(0.1)  # not a wait for an event: the request's deadline must pass
    with pytest.raises(MessageReceiveTimeout):
        signing.receive_request_message()
    unsigned, signed = (
        DeadLetters(SERVICE, backend_layer_kwargs=hosts),
        DeadLetters(SERVICE, backend_layer_kwargs=hosts, signing_keys=keys),
    )
    [letter] = signed.list()

    assert signed.replay(letter.letter_id, expiry_in_seconds=30)
    request_id, _, body = signing.receive_request_message()
    assert (request_id, body) == (9, {'n': 9})
    assert unsigned.list() == []
