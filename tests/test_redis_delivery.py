"""At-least-once delivery in the Redis server transport, against a real Redis: in-flight lists, heartbeats,
recovery of a dead worker's requests, delivery counts, dead letters, and the bytes on the wire left unchanged."""

import threading
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis

from pysoa.client.client import Client
from pysoa.common.constants import ERROR_CODE_SERVER_ERROR
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import MessageReceiveError, MessageReceiveTimeout, MessageSendError, QueueFullError
from pysoa.common.transport.redis_gateway.backend import in_flight
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.dead_letters import DeadLetters
from pysoa.common.transport.redis_gateway.delivery import DELIVERY_COUNT_META_KEY, AtLeastOnceServerCore
from pysoa.common.transport.redis_gateway.options import ServerTransportOptions
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.common.transport.redis_gateway.settings import RedisServerTransportSchema
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest

SERVICE = 'alo'
GATEWAY = 'pysoa.common.transport.redis_gateway'
QUEUE = 'pysoa:service.alo'
KEYS = in_flight.DeliveryKeys(QUEUE)


def backend_kwargs(redis_url: str) -> dict[str, Any]:
    return {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}}


_started: list[RedisServerTransport] = []


@pytest.fixture(autouse=True)
def _stop_heartbeats() -> Iterator[None]:
    yield
    while _started:
        core = _started.pop().core
        if isinstance(core, AtLeastOnceServerCore):
            core.stop_heartbeat()


def _heartbeat_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith('pysoa-heartbeat-')}


def make_server(redis_url: str, metrics: Any = noop_metrics, **extra: Any) -> RedisServerTransport:
    settings: dict[str, Any] = {
        'receive_timeout_in_seconds': 1,
        'delivery': 'at-least-once',
        'heartbeat_interval_in_seconds': 0.1,
        'heartbeat_expiry_in_seconds': 0.5,
        **extra,
    }
    server = RedisServerTransport(SERVICE, metrics, **backend_kwargs(redis_url), **settings)
    _started.append(server)
    return server


def make_client(redis_url: str) -> RedisClientTransport:
    return RedisClientTransport(SERVICE, noop_metrics, **backend_kwargs(redis_url), receive_timeout_in_seconds=2)


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def in_flight_lists(connection: redis.Redis) -> dict[str, int]:
    return {key.decode(): connection.llen(key) for key in connection.scan_iter(KEYS.prefix + 'in-flight:*')}


def core_of(server: RedisServerTransport) -> AtLeastOnceServerCore:
    assert isinstance(server.core, AtLeastOnceServerCore)
    return server.core


def kill(server: RedisServerTransport, connection: redis.Redis) -> None:
    """The worker dies: its heartbeat stops and its key lapses."""
    core = core_of(server)
    core.stop_heartbeat()
    connection.delete(KEYS.heartbeat(core.worker_id))


def test_settings_schema_and_options_know_the_delivery_settings() -> None:
    settings = {'delivery': 'at-least-once', 'max_deliveries': 2, 'heartbeat_interval_in_seconds': 0.5}
    assert RedisServerTransportSchema.errors(settings) == []
    assert RedisServerTransportSchema.errors({'delivery': 'exactly-once'})
    assert ServerTransportOptions().delivery == 'at-most-once'
    assert ServerTransportOptions().max_deliveries == 3
    with pytest.raises(ValueError, match='max_deliveries'):
        ServerTransportOptions(max_deliveries=0)
    with pytest.raises(ValueError, match='heartbeat_interval_in_seconds'):
        ServerTransportOptions(heartbeat_interval_in_seconds=10, heartbeat_expiry_in_seconds=5)


def test_a_request_stays_in_flight_until_answered_and_the_answer_acknowledges_it(
    redis_url: str, connection: redis.Redis
) -> None:
    server, client = make_server(redis_url), make_client(redis_url)
    client.send_request_message(7, {}, {'actions': []})

    request_id, meta, body = server.receive_request_message()
    assert (request_id, body) == (7, {'actions': []})
    assert meta is not None and meta[DELIVERY_COUNT_META_KEY] == 1
    assert list(in_flight_lists(connection).values()) == [1]
    assert connection.exists(KEYS.heartbeat(core_of(server).worker_id))

    server.send_response_message(7, meta, {'actions': [], 'errors': []})
    assert sum(in_flight_lists(connection).values()) == 0
    assert connection.hlen(KEYS.deliveries) == 0
    server.acknowledge_request_message(7, meta)  # already acknowledged by the answer: nothing left to do


def test_the_response_bytes_match_at_most_once_delivery(redis_url: str, connection: redis.Redis) -> None:
    responses = []
    client = make_client(redis_url)
    for delivery in ('at-most-once', 'at-least-once'):
        server = make_server(redis_url, delivery=delivery)
        client.send_request_message(1, {}, {'actions': []})
        request_id, meta, _ = server.receive_request_message()
        assert meta is not None
        with mock.patch('time.time', return_value=1000.0):
            server.send_response_message(1, meta, {'actions': [], 'errors': []})
        reply_queue = 'pysoa:' + meta['reply_to']
        responses.append(connection.lpop(reply_queue))
    assert responses[0] == responses[1]


def test_a_dead_workers_requests_go_to_the_front_of_the_queue_and_are_counted(
    redis_url: str, connection: redis.Redis
) -> None:
    metrics = mock.MagicMock()
    first, second, client = make_server(redis_url), make_server(redis_url, metrics), make_client(redis_url)
    client.send_request_message(1, {}, {'n': 1})
    client.send_request_message(2, {}, {'n': 2})
    assert first.receive_request_message().request_id == 1
    kill(first, connection)

    # The second worker finds the first one dead and puts request 1 back before request 2.
    request_id, meta, _ = second.receive_request_message()
    assert request_id == 1
    assert meta is not None and meta[DELIVERY_COUNT_META_KEY] == 2
    metrics.counter.assert_any_call('server.transport.redis_gateway.delivery.requeued')
    assert connection.smembers(KEYS.workers) == {core_of(second).worker_id.encode()}
    second.send_response_message(1, meta, {'actions': []})
    assert second.receive_request_message().meta[DELIVERY_COUNT_META_KEY] == 1  # type: ignore[index]


def test_a_live_workers_requests_are_left_alone(redis_url: str, connection: redis.Redis) -> None:
    first, second, client = make_server(redis_url), make_server(redis_url), make_client(redis_url)
    client.send_request_message(1, {}, {'n': 1})
    assert first.receive_request_message().request_id == 1
    # Not a wait for an event: the heartbeat's expiry must pass, so that only its background refresh keeps it.
    time.sleep(0.6)
    with pytest.raises(MessageReceiveTimeout):
        second.receive_request_message()
    assert in_flight_lists(connection)[KEYS.in_flight(core_of(first).worker_id)] == 1
    core_of(first).stop_heartbeat()


def test_a_request_delivered_too_often_becomes_a_dead_letter_and_its_caller_is_told(
    redis_url: str, connection: redis.Redis
) -> None:
    client = make_client(redis_url)
    client.send_request_message(5, {}, {'actions': [{'action': 'crash'}]})
    for delivery in (1, 2):
        worker = make_server(redis_url, max_deliveries=2)
        assert worker.receive_request_message().meta[DELIVERY_COUNT_META_KEY] == delivery  # type: ignore[index]
        kill(worker, connection)

    last = make_server(redis_url, max_deliveries=2)
    with pytest.raises(MessageReceiveTimeout, match='delivered 3 times'):
        last.receive_request_message()

    request_id, _, response = client.receive_response_message()
    assert request_id == 5 and response is not None
    assert response['errors'][0]['code'] == ERROR_CODE_SERVER_ERROR
    assert 'dead letter' in response['errors'][0]['message']
    [letter] = DeadLetters(SERVICE, backend_layer_kwargs={'hosts': [redis_url]}).list()
    assert (letter.reason, letter.deliveries, letter.request_id) == ('max_deliveries', 3, '5')
    assert letter.request().body == {'actions': [{'action': 'crash'}]}
    assert sum(in_flight_lists(connection).values()) == 0
    assert connection.hlen(KEYS.deliveries) == 0


def test_an_expired_request_is_never_run_and_becomes_a_dead_letter(redis_url: str, connection: redis.Redis) -> None:
    metrics = mock.MagicMock()
    server, client = make_server(redis_url, metrics), make_client(redis_url)
    client.send_request_message(9, {}, {'actions': []}, message_expiry_in_seconds=1)
    with mock.patch('time.time', return_value=time.time() + 5):
        with pytest.raises(MessageReceiveTimeout):
            server.receive_request_message()
    [letter] = DeadLetters(SERVICE, backend_layer_kwargs={'hosts': [redis_url]}).list()
    assert (letter.reason, letter.deliveries, letter.request_id) == ('expired', 1, '9')
    metrics.counter.assert_any_call('server.transport.redis_gateway.delivery.dead_letter.expired')
    assert sum(in_flight_lists(connection).values()) == 0


def test_an_answer_that_redis_failed_to_take_is_sent_again_and_the_request_not_run_again(
    redis_url: str, connection: redis.Redis
) -> None:
    server, client = make_server(redis_url), make_client(redis_url)
    client.send_request_message(3, {}, {'actions': []})
    _, meta, _ = server.receive_request_message()
    assert meta is not None
    with mock.patch(
        'pysoa.common.transport.redis_gateway.delivery.run_unless_full', side_effect=redis.ConnectionError('down')
    ):
        with pytest.raises(MessageSendError):
            server.send_response_message(3, meta, {'actions': []})
    # The request has run (issue 10: run nothing twice): at the next receive its answer goes out, once, where the
    # request is still in flight, instead of the request being run again.
    with pytest.raises(MessageReceiveTimeout):
        server.receive_request_message()
    assert client.receive_response_message(2).request_id == 3
    assert sum(in_flight_lists(connection).values()) == 0
    assert connection.hlen(KEYS.deliveries) == 0
    assert [connection.llen(key) for key in connection.scan_iter('pysoa:*!*')] in ([], [0])  # no second answer


def test_an_answer_that_cannot_be_delivered_puts_the_request_back(redis_url: str, connection: redis.Redis) -> None:
    server, client = make_server(redis_url), make_client(redis_url)
    client.send_request_message(3, {}, {'actions': []})
    _, meta, _ = server.receive_request_message()
    assert meta is not None
    with mock.patch(
        'pysoa.common.transport.redis_gateway.delivery.run_unless_full', return_value=False
    ):  # the reply queue stays full
        with pytest.raises(QueueFullError):
            server.send_response_message(3, meta, {'actions': []})
    # The server never acknowledged it: at the next receive it goes back to the queue, and comes again.
    request_id, meta, _ = server.receive_request_message()
    assert request_id == 3 and meta is not None and meta[DELIVERY_COUNT_META_KEY] == 2
    server.acknowledge_request_message(3, meta)
    assert sum(in_flight_lists(connection).values()) == 0


def test_a_request_answered_with_no_response_is_acknowledged(redis_url: str, connection: redis.Redis) -> None:
    server, client = make_server(redis_url), make_client(redis_url)
    client.send_request_message(4, {}, {'actions': [], 'control': {'suppress_response': True}})
    _, meta, _ = server.receive_request_message()
    assert meta is not None
    server.acknowledge_request_message(4, meta)
    assert sum(in_flight_lists(connection).values()) == 0
    assert connection.hlen(KEYS.deliveries) == 0


def test_at_most_once_delivery_keeps_nothing_in_flight(redis_url: str, connection: redis.Redis) -> None:
    server, client = make_server(redis_url, delivery='at-most-once'), make_client(redis_url)
    client.send_request_message(1, {}, {'actions': []})
    _, meta, _ = server.receive_request_message()
    assert meta is not None and DELIVERY_COUNT_META_KEY not in meta
    assert not list(connection.scan_iter(KEYS.prefix + '*'))


class Deliveries(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'delivery_count': request.delivery_count}


class DeliveriesServer(Server):
    service_name = SERVICE
    action_class_map = {'deliveries': Deliveries}


def test_the_action_sees_the_delivery_count(redis_url: str, connection: redis.Redis) -> None:
    client = Client(
        {
            SERVICE: {
                'transport': {'path': f'{GATEWAY}.client:RedisClientTransport', 'kwargs': backend_kwargs(redis_url)}
            }
        }
    )
    request_id = client.send_request(SERVICE, [{'action': 'deliveries'}])
    first = make_server(redis_url)
    assert first.receive_request_message().request_id == request_id
    kill(first, connection)  # the first delivery dies with its worker

    server = DeliveriesServer(
        ServerSettings(
            {
                'transport': {
                    'path': f'{GATEWAY}.server:RedisServerTransport',
                    'kwargs': {
                        **backend_kwargs(redis_url),
                        'receive_timeout_in_seconds': 1,
                        'delivery': 'at-least-once',
                        'heartbeat_interval_in_seconds': 0.1,
                        'heartbeat_expiry_in_seconds': 0.5,
                    },
                }
            }
        )
    )
    heartbeats_before = _heartbeat_threads()
    worker = threading.Thread(target=server.run, daemon=True)
    worker.start()
    try:
        [(answered, response)] = list(client.get_all_responses(SERVICE, receive_timeout_in_seconds=10))
    finally:
        server.request_shutdown()
        worker.join(timeout=15)
    # The worker's shutdown closes its transport, and that stops the heartbeat thread.
    heartbeats = _heartbeat_threads() - heartbeats_before
    assert isinstance(server.transport, RedisServerTransport)
    core_of(server.transport).stop_heartbeat()  # whatever the assertion below finds
    assert heartbeats == set()
    assert answered == request_id
    assert response.actions[0].body == {'delivery_count': 2}
    assert sum(in_flight_lists(connection).values()) == 0


def test_a_failed_acknowledgement_is_retried_before_the_next_receive(redis_url: str, connection: redis.Redis) -> None:
    server, client = make_server(redis_url), make_client(redis_url)
    client.send_request_message(6, {}, {'actions': [], 'control': {'suppress_response': True}})
    _, meta, _ = server.receive_request_message()
    assert meta is not None
    with mock.patch.object(in_flight, 'acknowledge', side_effect=redis.ConnectionError('down')):
        server.acknowledge_request_message(6, meta)  # logged, not raised: the worker goes on
    assert sum(in_flight_lists(connection).values()) == 1
    with pytest.raises(MessageReceiveTimeout):
        server.receive_request_message()
    assert sum(in_flight_lists(connection).values()) == 0  # acknowledged, not run again


def test_a_request_taken_by_a_receive_that_then_failed_goes_back_to_the_queue(
    redis_url: str, connection: redis.Redis
) -> None:
    # The request reached the worker's in-flight list, but the receive failed after that (as when a Redis Cluster
    # master fails over between BLMOVE and the delivery count): no record of it, so no answer would acknowledge it.
    server, client = make_server(redis_url), make_client(redis_url)
    client.send_request_message(8, {}, {'actions': []})
    with mock.patch.object(in_flight, 'count_delivery', side_effect=redis.ConnectionError('down')):
        with pytest.raises(MessageReceiveError):
            server.receive_request_message()
    assert sum(in_flight_lists(connection).values()) == 1
    # The next receive returns it to the queue first, and takes it again.
    request_id, meta, _ = server.receive_request_message()
    assert request_id == 8 and meta is not None
    server.acknowledge_request_message(8, meta)
    assert sum(in_flight_lists(connection).values()) == 0
