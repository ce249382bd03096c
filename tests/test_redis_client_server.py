"""The Redis client and server transports against a private redis-server: framing versions, serializers,
chunking, size limits, expiry, full queues and bad input."""

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pysoa.common.metrics import noop_metrics
from pysoa.common.serializer.json_serializer import JSONSerializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.errors import (
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageTooLarge,
)
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.core import RedisTransportClientCore, RedisTransportServerCore
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.schema import fields
from pysoa.test.redis_server import get_free_port

JSON = {'object': JSONSerializer, 'kwargs': {}}
SERVICE_QUEUE = 'pysoa:service.echo'
JOB = {
    'control': {'continue_on_error': False},
    'context': {'correlation_id': 'c1', 'switches': []},
    'actions': [
        {'action': 'echo', 'body': {'n': 1}},
    ],
}


@pytest.fixture
def backend(redis_url: str) -> dict[str, Any]:
    return {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}}


@pytest.fixture
def raw(redis_url: str) -> Iterator['redis.Redis']:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def make_pair(
    backend: dict[str, Any], client: dict[str, Any] | None = None, server: dict[str, Any] | None = None
) -> tuple[RedisClientTransport, RedisServerTransport]:
    return (
        RedisClientTransport('echo', noop_metrics, **backend, **(client or {})),
        RedisServerTransport('echo', noop_metrics, **backend, **(server or {})),
    )


def echo_once(server: RedisServerTransport) -> tuple[int, dict[str, Any], dict[str, Any]]:
    request_id, meta, body = server.receive_request_message()
    assert request_id is not None and meta is not None and body is not None
    server.send_response_message(request_id, meta, {'errors': [], 'context': {}, 'actions': [], 'echo': body})
    return request_id, meta, body


# ---- round trips


@pytest.mark.parametrize('version', [1, 2, 3])
@pytest.mark.parametrize('serializer', [None, JSON])
def test_round_trip_per_version_and_serializer(
    backend: dict[str, Any], raw: 'redis.Redis', version: int, serializer: dict[str, Any] | None
) -> None:
    settings: dict[str, Any] = {'protocol_version': version}
    server_settings: dict[str, Any] = {}
    if serializer:
        settings['default_serializer_config'] = serializer
        if version == 1:
            server_settings['default_serializer_config'] = serializer  # v1 carries no content type
    client, server = make_pair(backend, settings, server_settings)
    mime = 'application/json' if serializer else 'application/msgpack'

    client.send_request_message(7, {'client_version': [1, 4, 9]}, JOB)
    element = raw.lindex(SERVICE_QUEUE, 0)
    assert isinstance(element, bytes)
    header = b'content-type:%s;' % mime.encode()
    expected_prefix = {1: b'', 2: header, 3: b'pysoa-redis/3//' + header}
    assert element.startswith(expected_prefix[version])
    assert element[len(expected_prefix[version]) : len(expected_prefix[version]) + 1] in (b'{', b'\x83')

    request_id, meta, body = echo_once(server)
    assert request_id == 7
    assert body == JOB
    assert meta['protocol_version'] == version
    assert meta['serializer'].mime_type == mime
    assert meta['client_version'] == [1, 4, 9]
    assert meta['reply_to'].startswith(f'service.echo.{client.client_id}!')

    # The server answers in the request's framing and serializer.
    reply_key = 'pysoa:' + meta['reply_to']
    reply = raw.lindex(reply_key, 0)
    assert isinstance(reply, bytes) and reply.startswith(expected_prefix[version])
    assert 0 < raw.ttl(reply_key) <= 60

    response = client.receive_response_message(5)
    assert response.request_id == 7
    assert response.body is not None and response.body['echo'] == JOB
    assert client.requests_outstanding == 0
    assert client.receive_response_message() == (None, None, None)


def test_reply_meta_is_the_request_meta_with_fresh_expiry(backend: dict[str, Any]) -> None:
    client, server = make_pair(backend)
    meta: dict[str, Any] = {'client_version': [2, 0, 0], 'custom': 'x'}
    client.send_request_message(1, meta, JOB, message_expiry_in_seconds=30)
    assert time.time() + 29 < meta['__expiry__'] <= time.time() + 30
    _, server_meta, _ = echo_once(server)
    assert server_meta['__expiry__'] == pytest.approx(meta['__expiry__'])
    response = client.receive_response_message(5)
    assert response.meta is not None
    assert response.meta['custom'] == 'x'
    assert response.meta['__expiry__'] > meta['__expiry__'] + 20  # the server's own default of 60 s


def test_several_outstanding_requests(backend: dict[str, Any]) -> None:
    client, server = make_pair(backend)
    for request_id in range(1, 4):
        client.send_request_message(request_id, {}, JOB)
    assert client.requests_outstanding == 3
    for _ in range(3):
        echo_once(server)
    assert [client.receive_response_message(5).request_id for _ in range(3)] == [1, 2, 3]
    assert client.requests_outstanding == 0


def test_reply_queues_are_per_thread(backend: dict[str, Any]) -> None:
    client, server = make_pair(backend)
    results: dict[int, Any] = {}
    sent = threading.Barrier(5)

    def call(request_id: int) -> None:
        client.send_request_message(request_id, {}, {**JOB, 'n': request_id})
        sent.wait(timeout=10)
        response = client.receive_response_message(10)
        assert response.body is not None
        results[request_id] = (response.request_id, response.body['echo']['n'], client.requests_outstanding)

    threads = [threading.Thread(target=call, args=(request_id,)) for request_id in range(1, 5)]
    for thread in threads:
        thread.start()
    sent.wait(timeout=10)
    for _ in threads:
        echo_once(server)
    for thread in threads:
        thread.join(timeout=10)
    assert results == {n: (n, n, 0) for n in range(1, 5)}


def test_receive_timeout_is_bounded(backend: dict[str, Any]) -> None:
    client, server = make_pair(backend, server={'receive_timeout_in_seconds': 1})
    start = time.monotonic()
    with pytest.raises(MessageReceiveTimeout, match='received'):
        server.receive_request_message()
    assert 0.8 < time.monotonic() - start < 3
    client.send_request_message(1, {}, JOB)
    with pytest.raises(MessageReceiveTimeout):
        client.receive_response_message(1)


# ---- sizes and chunking


def big_body(size: int) -> dict[str, Any]:
    return {'errors': [], 'context': {}, 'actions': [], 'blob': 'x' * size}


def test_client_refuses_requests_over_its_limit(backend: dict[str, Any], raw: 'redis.Redis') -> None:
    client, _ = make_pair(backend)
    with pytest.raises(MessageTooLarge) as error:
        client.send_request_message(1, {}, {**JOB, 'blob': 'x' * 110_000})
    assert error.value.message_size_in_bytes > 102_400
    assert raw.llen(SERVICE_QUEUE) == 0
    assert client.requests_outstanding == 0


def test_server_limit_allows_250k_and_refuses_more(backend: dict[str, Any]) -> None:
    client, server = make_pair(backend, client={'maximum_message_size_in_bytes': 1_000_000})
    client.send_request_message(1, {}, JOB)
    request_id, meta, _ = server.receive_request_message()
    assert request_id is not None and meta is not None
    with pytest.raises(MessageTooLarge):
        server.send_response_message(request_id, meta, big_body(260_000))
    # The server can still answer (RESPONSE_TOO_LARGE) through the same meta, in the same format.
    server.send_response_message(request_id, meta, {'errors': [{'code': 'RESPONSE_TOO_LARGE'}], 'actions': []})
    response = client.receive_response_message(5)
    assert response.body is not None and response.body['errors'][0]['code'] == 'RESPONSE_TOO_LARGE'


CHUNKING = {'chunk_messages_larger_than_bytes': 102_400, 'maximum_message_size_in_bytes': 102_400 * 6}


@pytest.mark.parametrize('serializer', [None, JSON])
def test_chunked_response(backend: dict[str, Any], raw: 'redis.Redis', serializer: dict[str, Any] | None) -> None:
    settings = {'default_serializer_config': serializer} if serializer else {}
    client, server = make_pair(backend, {**settings, 'maximum_message_size_in_bytes': 1_000_000}, CHUNKING)
    client.send_request_message(1, {}, JOB)
    request_id, meta, _ = server.receive_request_message()
    assert request_id is not None and meta is not None
    body = big_body(250_000)
    server.send_response_message(request_id, meta, body)
    elements = raw.lrange('pysoa:' + meta['reply_to'], 0, -1)
    assert len(elements) == 3
    for index, element in enumerate(elements, start=1):
        assert b';chunk-count:3;chunk-id:%d;' % index in element[:80]
    response = client.receive_response_message(5)
    assert response.request_id == 1
    assert response.body == body


@pytest.mark.parametrize('version', [1, 2])
def test_chunking_needed_for_old_client_is_too_large(backend: dict[str, Any], version: int) -> None:
    client, server = make_pair(backend, {'protocol_version': version}, CHUNKING)
    client.send_request_message(1, {}, JOB)
    request_id, meta, _ = server.receive_request_message()
    assert request_id is not None and meta is not None
    with pytest.raises(MessageTooLarge, match='does not support chunking'):
        server.send_response_message(request_id, meta, big_body(150_000))


def test_parallel_chunked_responses_do_not_interleave(backend: dict[str, Any]) -> None:
    client, _ = make_pair(backend)
    servers = [RedisServerTransport('echo', noop_metrics, **backend, **CHUNKING) for _ in range(4)]
    count = 8
    for request_id in range(1, count + 1):
        client.send_request_message(request_id, {}, JOB)
    requests = [servers[0].receive_request_message() for _ in range(count)]
    errors: list[BaseException] = []

    def answer(server: RedisServerTransport, request_id: int, meta: dict[str, Any]) -> None:
        try:
            server.send_response_message(request_id, dict(meta), big_body(200_000 + request_id))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [
        threading.Thread(target=answer, args=(servers[index % 4], request_id, meta))
        for index, (request_id, meta, _) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors
    received = {}
    for _ in range(count):
        response = client.receive_response_message(5)
        assert response.body is not None
        received[response.request_id] = len(response.body['blob'])
    assert received == {n: 200_000 + n for n in range(1, count + 1)}


def test_chunking_settings_are_validated() -> None:
    with pytest.raises(ValueError, match='must be >= 102400'):
        RedisTransportServerCore('redis.standard', chunk_messages_larger_than_bytes=1024)
    with pytest.raises(ValueError, match='at least 5 times larger'):
        RedisTransportServerCore(
            'redis.standard', chunk_messages_larger_than_bytes=102_400, maximum_message_size_in_bytes=102_400 * 5 - 1
        )
    with pytest.raises(TypeError, match='chunk_messages_larger_than_bytes'):
        RedisTransportClientCore('redis.standard', chunk_messages_larger_than_bytes=102_400)
    with pytest.raises(ValueError, match='backend_type'):
        RedisTransportServerCore('hello')


def test_oversized_messages_are_logged_censored(backend: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    client, _ = make_pair(backend, {'log_messages_larger_than_bytes': 150})
    with caplog.at_level(logging.WARNING, logger='pysoa.transport.oversized_message'):
        client.send_request_message(1, {}, {**JOB, 'password': 'hunter2', 'filler': 'y' * 200})
    [record] = [r for r in caplog.records if r.name == 'pysoa.transport.oversized_message']
    data = record.data  # type: ignore[attr-defined]
    assert data['threshold'] == 150
    assert data['serialized_length_in_bytes'] > 150
    assert 'hunter2' not in str(data['message'])
    assert "'filler'" in str(data['message'])


# ---- expiry and full queues


def test_expired_request_is_discarded(backend: dict[str, Any], raw: 'redis.Redis') -> None:
    client, server = make_pair(backend, server={'receive_timeout_in_seconds': 3})
    envelope = {'request_id': 1, 'meta': {'__expiry__': time.time() - 1, 'reply_to': 'x!y'}, 'body': JOB}
    raw.rpush(SERVICE_QUEUE, MsgpackSerializer().dict_to_blob(envelope))
    client.send_request_message(2, {}, JOB)
    start = time.monotonic()
    with pytest.raises(MessageReceiveTimeout, match='expired'):
        server.receive_request_message()
    assert time.monotonic() - start < 1
    assert server.receive_request_message().request_id == 2


def test_full_queue_is_retried_then_fails(backend: dict[str, Any], raw: 'redis.Redis') -> None:
    client, server = make_pair(backend, {'queue_capacity': 3, 'queue_full_retries': 1})
    for request_id in range(3):
        client.send_request_message(request_id, {}, JOB)
    with pytest.raises(MessageSendError, match='service.echo was full'):
        client.send_request_message(3, {}, JOB)
    assert client.requests_outstanding == 3
    assert raw.llen(SERVICE_QUEUE) == 3
    server.receive_request_message()
    client.send_request_message(3, {}, JOB)
    assert raw.llen(SERVICE_QUEUE) == 3


def test_full_queue_retries_stop_at_the_deadline(backend: dict[str, Any]) -> None:
    client, _ = make_pair(backend, {'queue_capacity': 1, 'queue_full_retries': 10})
    client.send_request_message(1, {}, JOB)
    start = time.monotonic()
    with pytest.raises(MessageSendError, match='was full'):
        client.send_request_message(2, {}, JOB, message_expiry_in_seconds=1)
    assert time.monotonic() - start < 1.5  # ten uncapped retries would take minutes


def test_full_queue_succeeds_when_drained_during_back_off(backend: dict[str, Any], raw: 'redis.Redis') -> None:
    client, _ = make_pair(backend, {'queue_capacity': 1, 'queue_full_retries': 5})
    client.send_request_message(1, {}, JOB)
    timer = threading.Timer(0.2, lambda: raw.lpop(SERVICE_QUEUE))
    timer.start()
    try:
        client.send_request_message(2, {}, JOB, message_expiry_in_seconds=10)
    finally:
        timer.join(timeout=5)
    assert raw.llen(SERVICE_QUEUE) == 1


# ---- bad input never stops the server


def good_request(client: RedisClientTransport) -> None:
    client.send_request_message(99, {}, JOB)


@pytest.mark.parametrize(
    'element',
    [
        b'\xc1\xc1 garbage',
        MsgpackSerializer().dict_to_blob({'request_id': 1, 'meta': {}, 'body': JOB})[:-5],
        b'pysoa-redis/3//content-type:application/msgpack;\x81\xa1a\xd4\x63\x00',  # unknown ext code 99
        b'pysoa-redis/9//whatever',
        b'pysoa-redis/3//content-type:application/json;{not json',
        b'pysoa-redis/3//content-type:application/msgpack;chunk-count:2;chunk-id:1;\x80',
        MsgpackSerializer().dict_to_blob({'meta': {}, 'body': JOB}),
        MsgpackSerializer().dict_to_blob({'request_id': 1, 'meta': 'nope', 'body': JOB}),
        MsgpackSerializer().dict_to_blob({'request_id': 1, 'meta': {'__expiry__': 'soon'}, 'body': JOB}),
        b'\x93\x01\x02\x03',  # a list, not a map
    ],
)
def test_bad_request_is_discarded_and_the_next_one_served(
    backend: dict[str, Any], raw: 'redis.Redis', element: bytes
) -> None:
    client, server = make_pair(backend)
    raw.rpush(SERVICE_QUEUE, element)
    good_request(client)
    with pytest.raises(MessageReceiveTimeout, match='Invalid request discarded'):
        server.receive_request_message()
    assert server.receive_request_message().request_id == 99


def test_unknown_content_type_falls_back_to_the_default_serializer(backend: dict[str, Any], raw: 'redis.Redis') -> None:
    _, server = make_pair(backend)
    envelope = MsgpackSerializer().dict_to_blob({'request_id': 5, 'meta': {}, 'body': JOB})
    raw.rpush(SERVICE_QUEUE, b'pysoa-redis/3//content-type:application/x-unknown;' + envelope)
    request_id, meta, body = server.receive_request_message()
    assert (request_id, body) == (5, JOB)
    assert meta is not None and isinstance(meta['serializer'], MsgpackSerializer)


@pytest.mark.parametrize('serializer', [MsgpackSerializer(), JSONSerializer()])
def test_wrong_body_type_is_answered_with_an_error(
    backend: dict[str, Any], raw: 'redis.Redis', serializer: MsgpackSerializer | JSONSerializer
) -> None:
    client, server = make_pair(backend)
    # A well-formed envelope on the client's own reply queue, with a body that is not a job request.
    reply_to = f'service.echo.{client.client_id}!' + format(threading.get_ident(), '012x')
    meta = {'reply_to': reply_to, 'client_version': [1, 4, 9]}
    envelope = {'request_id': 41, 'meta': meta, 'body': ['not', 'a', 'map']}
    raw.rpush(
        SERVICE_QUEUE,
        b'pysoa-redis/3//content-type:%s;' % serializer.mime_type.encode() + serializer.dict_to_blob(envelope),
    )
    client._requests_outstanding = 1
    with pytest.raises(MessageReceiveTimeout, match='Invalid request discarded'):
        server.receive_request_message()
    response = client.receive_response_message(5)
    assert response.request_id == 41
    assert response.body is not None
    [error] = response.body['errors']
    assert error['code'] == 'INVALID'
    assert error['is_caller_error'] is True
    assert 'expected a map' in error['message']
    assert response.meta is not None and isinstance(response.meta['serializer'], type(serializer))


def test_error_answer_to_a_pre_0_70_client_has_no_is_caller_error(backend: dict[str, Any], raw: 'redis.Redis') -> None:
    client, server = make_pair(backend)
    reply_to = f'service.echo.{client.client_id}!' + format(threading.get_ident(), '012x')
    envelope = {'request_id': 3, 'meta': {'reply_to': reply_to, 'client_version': [0, 60, 1]}, 'body': 'job'}
    raw.rpush(SERVICE_QUEUE, MsgpackSerializer().dict_to_blob(envelope))
    client._requests_outstanding = 1
    with pytest.raises(MessageReceiveTimeout):
        server.receive_request_message()
    response = client.receive_response_message(5)
    assert response.body is not None
    assert response.body['errors'][0]['code'] == 'INVALID'
    assert 'is_caller_error' not in response.body['errors'][0]


def test_garbage_response_is_an_invalid_message_and_is_not_awaited_again(
    backend: dict[str, Any], raw: 'redis.Redis'
) -> None:
    client, _ = make_pair(backend)
    client.send_request_message(1, {}, JOB)
    reply_key = f'pysoa:service.echo.{client.client_id}!' + format(threading.get_ident(), '012x')
    raw.rpush(reply_key, b'\xc1 garbage')
    with pytest.raises(InvalidMessageError):
        client.receive_response_message(5)
    assert client.requests_outstanding == 0


@pytest.mark.parametrize(('meta', 'message'), [({}, 'Missing reply queue'), ({'reply_to': 12}, 'Invalid reply queue')])
def test_missing_reply_queue_is_an_invalid_message(
    backend: dict[str, Any], raw: 'redis.Redis', meta: dict[str, Any], message: str
) -> None:
    # Such a request is received as it is (the server may still run it); only answering it fails.
    _, server = make_pair(backend)
    raw.rpush(SERVICE_QUEUE, MsgpackSerializer().dict_to_blob({'request_id': 1, 'meta': meta, 'body': JOB}))
    request_id, received_meta, _ = server.receive_request_message()
    assert request_id == 1 and received_meta is not None
    with pytest.raises(InvalidMessageError, match=message):
        server.send_response_message(1, received_meta, {})


def test_send_without_request_id_is_refused(backend: dict[str, Any]) -> None:
    client, _ = make_pair(backend)
    with pytest.raises(InvalidMessageError):
        client.core.send_message('service.echo', None, {}, {})  # type: ignore[arg-type]


# ---- Redis unreachable: transient errors only


def test_unreachable_redis_gives_transient_errors() -> None:
    dead = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [('127.0.0.1', get_free_port())]}}
    client, server = make_pair(dead)
    start = time.monotonic()
    with pytest.raises(MessageSendError):
        client.send_request_message(1, {}, JOB)
    assert client.requests_outstanding == 0
    with pytest.raises(MessageReceiveError):
        server.receive_request_message()
    assert time.monotonic() - start < 2


# ---- settings


def test_settings_schema_is_attached_to_the_classes() -> None:
    schema = fields.ClassConfigurationSchema(base_class=RedisClientTransport)
    good = {
        'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
        'kwargs': {'backend_type': 'redis.standard', 'protocol_version': 2, 'backend_layer_kwargs': {'hosts': ['h']}},
    }
    assert not schema.errors(good)
    bad = {**good, 'kwargs': {**good['kwargs'], 'chunk_messages_larger_than_bytes': 102_400}}  # type: ignore[dict-item]
    assert schema.errors(bad)
    server_schema = fields.ClassConfigurationSchema(base_class=RedisServerTransport)
    assert not server_schema.errors(
        {
            'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
            'kwargs': {'backend_type': 'redis.sentinel', 'chunk_messages_larger_than_bytes': 102_400},
        }
    )


def test_default_serializer_config_by_path(backend: dict[str, Any]) -> None:
    client = RedisClientTransport(
        'echo',
        noop_metrics,
        **backend,
        default_serializer_config={'path': 'pysoa.common.serializer.json_serializer:JSONSerializer'},
    )
    assert isinstance(client.core.default_serializer, JSONSerializer)
    assert client.core.protocol_version == ProtocolVersion.VERSION_3
