"""The envelope layer of the Redis transport (protocol §2 and §4), without Redis: real serializers, real bytes."""

from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information
import pytest

from pysoa.common.serializer.base import Serializer
from pysoa.common.serializer.json_serializer import JSONSerializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout, MessageTooLarge
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.envelope import (
    Envelope,
    InvalidEnvelopeError,
    MessageExpiredError,
    UnreadableMessageError,
    decode_request,
    decode_response,
    encode,
    expiry_times,
    open_envelope,
    reply_version,
    wire_envelope,
)

MSGPACK = MsgpackSerializer()
V1, V2, V3 = ProtocolVersion.VERSION_1, ProtocolVersion.VERSION_2, ProtocolVersion.VERSION_3
SMALL: Envelope = {'request_id': 1, 'meta': {}, 'body': {}}
SMALL_BYTES = b'\x83\xaarequest_id\x01\xa4meta\x80\xa4body\x80'
NOW = 1_700_000_000.0
SERVICE = 'svc'


def serializer_for(mime_type: str | None) -> Serializer:
    return JSONSerializer() if mime_type == 'application/json' else MSGPACK


def no_more() -> bytes:
    raise AssertionError('a message in one element must not ask for another')


def request(element: object) -> Any:
    return decode_request(element, serializer_for, SERVICE, NOW)


def response(elements: list[bytes]) -> Any:
    rest = iter(elements[1:])
    return decode_response(elements[0], lambda: next(rest), serializer_for, SERVICE, NOW)


def packed(message: Any) -> bytes:
    payload: bytes = msgpack.packb(message, use_bin_type=True)
    return b'pysoa-redis/3//content-type:application/msgpack;' + payload


# ---- encoding


@pytest.mark.parametrize(
    ('version', 'expected'),
    [
        (V1, SMALL_BYTES),
        (V2, b'content-type:application/msgpack;' + SMALL_BYTES),
        (V3, b'pysoa-redis/3//content-type:application/msgpack;' + SMALL_BYTES),
    ],
)
def test_encode_gives_the_exact_bytes_of_each_version(version: ProtocolVersion, expected: bytes) -> None:
    assert encode(SMALL, MSGPACK, version, 1000) == (expected, len(SMALL_BYTES))


def test_encode_with_json() -> None:
    elements, size = encode(SMALL, JSONSerializer(), V3, 1000)
    assert isinstance(elements, bytes)
    assert elements.startswith(b'pysoa-redis/3//content-type:application/json;{')
    assert size == len(elements) - len(b'pysoa-redis/3//content-type:application/json;')


def test_encode_refuses_a_message_over_the_limit_and_says_how_large_it_is() -> None:
    with pytest.raises(MessageTooLarge, match='maximum message size') as error:
        encode(SMALL, MSGPACK, V3, len(SMALL_BYTES) - 1)
    assert error.value.message_size_in_bytes == len(SMALL_BYTES)
    assert encode(SMALL, MSGPACK, V3, len(SMALL_BYTES)).size == len(SMALL_BYTES)  # the limit itself is allowed


def test_encode_chunks_above_the_threshold_and_the_chunks_join_again() -> None:
    message: Envelope = {'request_id': 7, 'meta': {}, 'body': {'text': 'x' * 300}}
    elements, size = encode(message, MSGPACK, V3, 10_000, 100)
    assert isinstance(elements, list) and len(elements) == -(-size // 100)
    for index, element in enumerate(elements, start=1):
        assert element.startswith(b'pysoa-redis/3//content-type:application/msgpack;chunk-count:4;chunk-id:%d;' % index)
    received = response(elements)
    assert (received.request_id, received.body) == (7, {'text': 'x' * 300})


@pytest.mark.parametrize('version', [V1, V2])
def test_encode_refuses_chunks_to_a_peer_that_cannot_join_them(version: ProtocolVersion) -> None:
    message: Envelope = {'request_id': 7, 'meta': {}, 'body': {'text': 'x' * 300}}
    with pytest.raises(MessageTooLarge, match='does not support chunking'):
        encode(message, MSGPACK, version, 10_000, 100)
    assert isinstance(encode(message, MSGPACK, version, 10_000).elements, bytes)  # chunking off: one element


def test_wire_envelope_leaves_local_meta_keys_out_without_touching_the_meta() -> None:
    meta: dict[str, Any] = {'reply_to': 'q!', 'serializer': MSGPACK, 'protocol_version': V2}
    assert wire_envelope(3, meta, {}) == {'request_id': 3, 'meta': {'reply_to': 'q!'}, 'body': {}}
    assert 'serializer' in meta and 'protocol_version' in meta
    plain: dict[str, Any] = {'reply_to': 'q!'}
    assert wire_envelope(3, plain, {})['meta'] is plain  # nothing to leave out: no copy


def test_expiry_times() -> None:
    assert expiry_times(NOW, None, 60) == (NOW + 60, 60)
    assert expiry_times(NOW, 2.5, 60) == (NOW + 2.5, 13)  # the queue outlives the message by 10 s, whole seconds
    # A service's request queue is kept an hour at least (`REQUEST_QUEUE_SECONDS`), longer when the message is.
    assert expiry_times(NOW, None, 60, request=True) == (NOW + 60, 3600)
    assert expiry_times(NOW, 2.5, 60, request=True) == (NOW + 2.5, 3600)
    assert expiry_times(NOW, 7200, 60, request=True) == (NOW + 7200, 7210)


def test_reply_version_follows_the_request() -> None:
    assert reply_version({}, V3) is V3
    assert reply_version({'protocol_version': 2}, V3) is V2
    assert reply_version({'protocol_version': V1}, V3) is V1


# ---- decoding


@pytest.mark.parametrize('version', [V1, V2, V3])
def test_decode_request_round_trip_records_how_the_message_came(version: ProtocolVersion) -> None:
    meta = {'reply_to': 'service.svc.c!1', '__expiry__': NOW + 5}
    elements, _ = encode({'request_id': 9, 'meta': meta, 'body': {'a': [1, 2]}}, MSGPACK, version, 1000)
    received = request(elements)
    assert received.request_id == 9
    assert received.body == {'a': [1, 2]}
    assert received.meta == {
        **meta,
        'serializer': MSGPACK,
        'protocol_version': version,
        'received_bytes': len(elements),
    }


def test_decode_reads_json_by_its_content_type() -> None:
    elements, _ = encode(SMALL, JSONSerializer(), V3, 1000)
    received = response([elements])  # type: ignore[list-item]  # one element, as encode gives it here
    assert isinstance(received.meta['serializer'], JSONSerializer)


def test_an_expired_message_is_a_timeout_that_says_how_late_it_is() -> None:
    with pytest.raises(MessageExpiredError) as error:
        request(packed({'request_id': 4, 'meta': {'__expiry__': NOW - 1.5}, 'body': {}}))
    assert isinstance(error.value, MessageReceiveTimeout)
    assert (error.value.request_id, error.value.late_by, error.value.reason) == (4, 1.5, 'message_expired')
    assert request(packed({'request_id': 4, 'meta': {'__expiry__': NOW + 1}, 'body': {}})).request_id == 4
    assert request(packed({'request_id': 4, 'meta': {'__expiry__': 0}, 'body': {}})).request_id == 4  # 0: none


@pytest.mark.parametrize('expiry', ['soon', True, [1]])
def test_a_bad_expiry_is_a_bad_envelope_whose_sender_is_known(expiry: object) -> None:
    with pytest.raises(InvalidEnvelopeError, match='bad __expiry__') as error:
        request(packed({'request_id': 4, 'meta': {'reply_to': 'r!', '__expiry__': expiry}, 'body': {}}))
    assert error.value.request_id == 4
    assert error.value.meta is not None and error.value.meta['reply_to'] == 'r!'
    assert error.value.reason is None


@pytest.mark.parametrize(
    ('message', 'text', 'reason'),
    [
        ({'meta': {'reply_to': 'r!'}, 'body': {}}, 'No request ID for service svc', 'no_request_id'),
        ({'request_id': 1, 'meta': {}, 'body': 'job'}, 'expected a map, got str', 'invalid_body'),
        ({'request_id': 1, 'meta': {}}, 'expected a map, got NoneType', 'invalid_body'),
    ],
)
def test_envelope_checks(message: dict[str, Any], text: str, reason: str) -> None:
    with pytest.raises(InvalidEnvelopeError, match=text) as error:
        request(packed(message))
    assert error.value.reason == reason


@pytest.mark.parametrize(('message', 'text'), [([1, 2], 'not a map'), ({'request_id': 1, 'meta': 5}, 'meta is not')])
def test_a_message_that_is_no_envelope_at_all(message: object, text: str) -> None:
    # Serializers refuse most of these themselves; the envelope does not count on it.
    with pytest.raises(InvalidMessageError, match=text) as error:
        open_envelope(message, MSGPACK, V3, SERVICE, NOW)
    assert not isinstance(error.value, InvalidEnvelopeError)


def test_unreadable_framing_and_payload_and_elements_that_are_not_bytes() -> None:
    with pytest.raises(UnreadableMessageError, match='framing for service svc'):
        request(b'pysoa-redis/9//content-type:application/msgpack;' + SMALL_BYTES)
    with pytest.raises(UnreadableMessageError, match='Invalid message for service svc'):
        response([b'pysoa-redis/3//content-type:application/msgpack;\xc1'])
    with pytest.raises(InvalidMessageError, match='not bytes'):
        request('a str, as a connection that decodes responses gives')


def test_an_unreadable_request_is_salvaged_so_that_its_sender_can_be_told() -> None:
    # An extension type the serializer does not know spoils decoding; the envelope around it is still readable.
    envelope = {'request_id': 12, 'meta': {'reply_to': 'r!'}, 'body': {'x': msgpack.ExtType(42, b'?')}}
    with pytest.raises(InvalidEnvelopeError, match='Invalid message for service svc') as error:
        request(packed(envelope))
    assert (error.value.request_id, error.value.reason) == (12, 'invalid_message')
    assert error.value.meta == {'reply_to': 'r!', 'serializer': MSGPACK, 'protocol_version': V3}
    with pytest.raises(UnreadableMessageError):  # a response is never salvaged: nobody is waiting to be told
        response([packed(envelope)])


def test_a_chunked_request_is_refused_with_its_sender_known() -> None:
    framed = b'pysoa-redis/3//content-type:application/msgpack;chunk-count:1;chunk-id:1;' + SMALL_BYTES
    with pytest.raises(InvalidEnvelopeError, match='only responses may be chunked') as error:
        request(framed)
    assert error.value.request_id == 1
    assert response([framed]).request_id == 1  # the same single chunk is a fine response


def test_chunks_out_of_order_or_inconsistent_are_invalid() -> None:
    message: Envelope = {'request_id': 7, 'meta': {}, 'body': {'text': 'y' * 300}}
    elements, _ = encode(message, MSGPACK, V3, 10_000, 100)
    assert isinstance(elements, list)
    with pytest.raises(InvalidMessageError, match='incorrect chunk ID 3 expected 2 of 4'):
        response([elements[0], elements[2], elements[1], elements[3]])
    with pytest.raises(InvalidMessageError, match='incorrect chunk ID 2 expected 1 of 4'):
        response(elements[1:])
    with pytest.raises(InvalidMessageError, match='missing chunk headers expecting chunk 2 of 4'):
        response([elements[0], packed(SMALL)])
    with pytest.raises(InvalidMessageError, match='different chunk count 5'):
        response([elements[0], elements[1].replace(b'chunk-count:4;', b'chunk-count:5;')])
    with pytest.raises(InvalidMessageError, match='non-numeric'):
        response([elements[0].replace(b'chunk-id:1;', b'chunk-id:one;')])


def test_a_message_in_one_element_reads_no_other() -> None:
    elements, _ = encode(SMALL, MSGPACK, V3, 1000)
    assert isinstance(elements, bytes)
    assert decode_response(elements, no_more, serializer_for, SERVICE, NOW).request_id == 1
