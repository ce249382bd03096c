"""Limits on receive (issue 10, part 6): oversized and chunked requests refused unread, bounded msgpack and JSON
decoding, and log lines that never grow with a message."""

import logging
import time
from collections.abc import Iterator
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information
import pytest
import redis

from pysoa.common import log_text
from pysoa.common.logging import RecursivelyCensoredDictWrapper
from pysoa.common.metrics import noop_metrics
from pysoa.common.serializer.errors import InvalidMessage
from pysoa.common.serializer.json_serializer import JSONSerializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.envelope import (
    InvalidEnvelopeError,
    UnreadableMessageError,
    decode_request,
)
from pysoa.common.transport.redis_gateway.server import RedisServerTransport

V3 = ProtocolVersion.VERSION_3
HEADER = b'pysoa-redis/3//content-type:application/msgpack;'


class NeverRead(MsgpackSerializer):
    """Fails the test if anything is deserialized."""

    def blob_to_dict(self, blob: bytes) -> dict[Any, Any]:
        raise AssertionError(f'{len(blob)} bytes were deserialized')


def big_request(size: int, reply_to: object = 'service.x.abc!000000000001', request_id: int = 9) -> bytes:
    envelope = {'request_id': request_id, 'meta': {'reply_to': reply_to, '__expiry__': time.time() + 60}, 'body': {}}
    envelope['body'] = {'actions': [{'action': 'echo', 'body': {'blob': 'x' * size}}]}
    return HEADER + msgpack.packb(envelope, use_bin_type=True)


@pytest.mark.parametrize('size', [1000, 50 * 1024 * 1024])
def test_an_oversized_request_is_refused_before_it_is_deserialized_and_its_sender_is_known(size: int) -> None:
    never = NeverRead()
    with pytest.raises(InvalidEnvelopeError, match=r'exceeds the maximum message size of 500 bytes') as error:
        decode_request(big_request(size), lambda _: never, 'svc', time.time(), maximum_size=500)
    assert (error.value.request_id, error.value.reason) == (9, 'message_too_large')
    assert error.value.meta is not None and error.value.meta['reply_to'] == 'service.x.abc!000000000001'
    assert len(str(error.value)) < 200


def test_an_oversized_request_whose_envelope_cannot_be_found_is_unreadable() -> None:
    body_first = HEADER + msgpack.packb({'body': {'x': 'y' * 100_000}, 'request_id': 1, 'meta': {}})
    with pytest.raises(UnreadableMessageError, match='exceeds the maximum'):
        decode_request(body_first, lambda _: NeverRead(), 'svc', time.time(), maximum_size=500)


def test_a_chunked_request_is_refused_unread() -> None:
    element = big_request(10).replace(b'msgpack;', b'msgpack;chunk-count:2;chunk-id:1;')
    with pytest.raises(InvalidEnvelopeError, match='only responses may be chunked') as error:
        decode_request(element, lambda _: NeverRead(), 'svc', time.time())
    assert (error.value.request_id, error.value.reason) == (9, 'chunked_request')


def nested_blob(serializer: Any, depth: int) -> bytes:
    """A message `depth` containers deep: a map holding arrays in arrays."""
    if serializer.mime_type == 'application/json':
        return b'{"v":' + b'[' * (depth - 1) + b'1' + b']' * (depth - 1) + b'}'
    return b'\x81\xa1v' + b'\x91' * (depth - 1) + b'\x01'


@pytest.mark.parametrize('serializer', [MsgpackSerializer(), JSONSerializer()], ids=['msgpack', 'json'])
def test_nesting_is_bounded(serializer: Any) -> None:
    limit = serializer.MAXIMUM_NESTING_DEPTH
    if serializer.mime_type == 'application/msgpack':
        assert list(serializer.blob_to_dict(nested_blob(serializer, limit))) == ['v']
        with pytest.raises(InvalidMessage, match=f'nested deeper than {limit} levels'):
            serializer.blob_to_dict(nested_blob(serializer, limit + 1))
    else:  # Python's JSON decoder stops at the interpreter's recursion limit, a little before this one
        assert list(serializer.blob_to_dict(nested_blob(serializer, 500))) == ['v']
    # Deeper than the decoder's own stack is an invalid message too, not a crash.
    with pytest.raises(InvalidMessage):
        serializer.blob_to_dict(nested_blob(serializer, 100_000))

    class Shallow(type(serializer)):  # type: ignore[misc]  # a subclass of whichever serializer this is
        MAXIMUM_NESTING_DEPTH = 3

    with pytest.raises(InvalidMessage, match='nested deeper than 3 levels'):
        Shallow().blob_to_dict(nested_blob(serializer, 4))
    assert list(Shallow().blob_to_dict(nested_blob(serializer, 3))) == ['v']


@pytest.mark.parametrize(
    'blob',
    [
        b'\x81\xa1v\xdd\xff\xff\xff\xff',  # an array claiming 4 billion items
        b'\x81\xa1v\xdf\xff\xff\xff\xff',  # a map claiming as many entries
        b'\x81\xa1v\xdb\xff\xff\xff\xff',  # a string claiming 4 GiB
        b'\x81\xa1v\xc6\xff\xff\xff\xff',  # bytes claiming 4 GiB
        b'\x81\xa1v\xc9\x00\x10\x00\x00\x05' + b'\0' * 10,  # an extension claiming 1 MiB
    ],
)
def test_msgpack_sizes_are_limited_explicitly(blob: bytes) -> None:
    with pytest.raises(InvalidMessage):
        MsgpackSerializer().blob_to_dict(blob)


def test_log_text_is_bounded_and_says_how_long_it_was() -> None:
    text = RecursivelyCensoredDictWrapper({'password': 'p', 'blob': 'x' * 1_000_000}).__repr__()
    assert len(text) < log_text.MAXIMUM_LOG_CHARACTERS + 100
    whole = len(repr({'password': '*' * 10, 'blob': 'x' * 1_000_000}))
    assert text.endswith(f'(truncated: {whole} characters in all)')
    assert text.startswith("{'password': '**********', 'blob': 'xxx")
    record = logging.LogRecord('x', logging.INFO, __file__, 1, 'Job request: %s', ('y' * 200_000,), None)
    assert len(log_text.safe_message(record)) < log_text.MAXIMUM_LOG_CHARACTERS + 100
    assert (
        log_text.truncated('abc', 0) == 'abc'
        and log_text.truncated('abcd', 2) == 'ab... (truncated: 4 characters in all)'
    )

    class Unbounded(RecursivelyCensoredDictWrapper):
        MAXIMUM_CHARACTERS = 0

    assert len(repr(Unbounded({'blob': 'x' * 100_000}))) > 100_000


def test_the_bound_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PYSOA_LOG_MAXIMUM_CHARACTERS', '123')
    assert log_text._limit_from_environment() == 123
    monkeypatch.setenv('PYSOA_LOG_MAXIMUM_CHARACTERS', 'lots')
    assert log_text._limit_from_environment() == 65536


@pytest.fixture
def raw(redis_url: str) -> Iterator['redis.Redis']:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_a_server_answers_an_oversized_request_with_an_error_and_runs_nothing(
    redis_url: str, raw: 'redis.Redis', caplog: pytest.LogCaptureFixture
) -> None:
    backend = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}}
    client = RedisClientTransport('limits', noop_metrics, **backend)
    server = RedisServerTransport('limits', noop_metrics, maximum_message_size_in_bytes=300_000, **backend)
    client.send_request_message(1, {}, {'actions': []})  # for the client's reply queue name and a request id it awaits
    reply_to = server.receive_request_message().meta['reply_to']
    raw.rpush('pysoa:service.limits', big_request(20 * 1024 * 1024, reply_to, request_id=1))
    with caplog.at_level(logging.ERROR), pytest.raises(MessageReceiveTimeout, match='Invalid request discarded'):
        server.receive_request_message()
    assert any('exceeds the maximum message size of 300000 bytes' in r.getMessage() for r in caplog.records)
    assert max(len(r.getMessage()) for r in caplog.records) < 1000
    response = client.receive_response_message(5)
    assert response.request_id == 1
    assert response.body is not None and response.body['errors'][0]['code'] == 'INVALID'
    assert 'exceeds the maximum message size' in response.body['errors'][0]['message']


def test_a_message_too_deep_for_repr_logs_a_placeholder_instead_of_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_stack(*walk_arguments: object) -> object:
        raise RecursionError('maximum recursion depth exceeded')

    monkeypatch.setattr(RecursivelyCensoredDictWrapper, '_censored', staticmethod(out_of_stack))
    assert repr(RecursivelyCensoredDictWrapper({'v': 1})) == '<a message nested too deeply to log>'
