"""Framing of Redis Gateway list elements (protocol §4), without Redis."""

import pytest

from pysoa.common.transport.redis_gateway.constants import ProtocolFeature, ProtocolVersion
from pysoa.common.transport.redis_gateway.framing import frame_chunks, frame_message, parse_frame

PAYLOAD = b'\x83\xaarequest_id\x01\xa4meta\x80\xa4body\x80'


@pytest.mark.parametrize(
    ('version', 'expected'),
    [
        (ProtocolVersion.VERSION_1, PAYLOAD),
        (ProtocolVersion.VERSION_2, b'content-type:application/msgpack;' + PAYLOAD),
        (ProtocolVersion.VERSION_3, b'pysoa-redis/3//content-type:application/msgpack;' + PAYLOAD),
    ],
)
def test_frame_message_per_version(version: ProtocolVersion, expected: bytes) -> None:
    assert frame_message(PAYLOAD, 'application/msgpack', version) == expected
    frame = parse_frame(expected)
    assert frame.version == version
    assert frame.payload == PAYLOAD
    assert frame.headers == ({} if version == 1 else {'content-type': 'application/msgpack'})


def test_json_v3_uses_the_slow_path_and_round_trips() -> None:
    framed = frame_message(b'{"a":1}', 'application/json', ProtocolVersion.VERSION_3)
    assert framed == b'pysoa-redis/3//content-type:application/json;{"a":1}'
    assert parse_frame(framed) == (ProtocolVersion.VERSION_3, {'content-type': 'application/json'}, b'{"a":1}')


def test_whitespace_in_headers_is_tolerated() -> None:
    frame = parse_frame(b'pysoa-redis/3//content-type : application/json ; {"a": 1}')
    assert frame.headers == {'content-type': 'application/json'}
    assert frame.payload == b' {"a": 1}'
    frame = parse_frame(b'content-type : application/json ; {"a": 1}')
    assert frame.version == ProtocolVersion.VERSION_2


def test_payload_starting_with_space_is_not_stripped() -> None:
    # The last header's semicolon ends the headers; what follows is payload byte for byte.
    frame = parse_frame(b'pysoa-redis/3//content-type:application/json; {"a": 1}')
    assert frame.payload == b' {"a": 1}'


def test_v3_without_headers() -> None:
    frame = parse_frame(b'pysoa-redis/3//' + PAYLOAD)
    assert frame == (ProtocolVersion.VERSION_3, {}, PAYLOAD)


def test_unknown_preamble_version_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_frame(b'pysoa-redis/9//' + PAYLOAD)


def test_chunks_are_numbered_from_one_and_rejoin() -> None:
    payload = bytes(range(256)) * 10
    chunks = frame_chunks(payload, 'application/msgpack', 1000)
    assert len(chunks) == 3
    joined = b''
    for index, chunk in enumerate(chunks, start=1):
        prefix = b'pysoa-redis/3//content-type:application/msgpack;chunk-count:3;chunk-id:%d;' % index
        assert chunk.startswith(prefix)
        frame = parse_frame(chunk)
        assert frame.headers == {'content-type': 'application/msgpack', 'chunk-count': '3', 'chunk-id': str(index)}
        joined += frame.payload
    assert joined == payload


def test_chunk_count_is_the_ceiling() -> None:
    assert len(frame_chunks(b'x' * 2000, 'application/json', 1000)) == 2
    assert len(frame_chunks(b'x' * 2001, 'application/json', 1000)) == 3


def test_protocol_features() -> None:
    assert not ProtocolFeature.CONTENT_TYPE_HEADER.supported_in(ProtocolVersion.VERSION_1)
    assert ProtocolFeature.CONTENT_TYPE_HEADER.supported_in(ProtocolVersion.VERSION_2)
    assert not ProtocolFeature.CHUNKED_RESPONSES.supported_in(ProtocolVersion.VERSION_2)
    assert ProtocolFeature.CHUNKED_RESPONSES.supported_in(ProtocolVersion.VERSION_3)
    assert ProtocolVersion.VERSION_3.prefix == b'pysoa-redis/3//'
    assert ProtocolVersion.extract_version(b'pysoa-redis/2//x') == (ProtocolVersion.VERSION_2, b'x')
