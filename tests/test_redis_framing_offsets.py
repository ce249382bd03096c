"""`locate_payload` finds where the payload starts without copying it, for every framing `parse_frame` reads."""

import pytest

from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.framing import frame_chunks, locate_payload, parse_frame

MSGPACK_MAP = b'\x81\xa1a\x01'  # {'a': 1}


@pytest.mark.parametrize(
    ('element', 'version', 'headers', 'payload'),
    [
        (
            b'pysoa-redis/3//content-type:application/msgpack;' + MSGPACK_MAP,
            3,
            {'content-type': 'application/msgpack'},
            MSGPACK_MAP,
        ),
        # After the usual header, another one (here padded with whitespace) must still be read as a header.
        (
            b'pysoa-redis/3//content-type:application/msgpack; chunk-count:2;chunk-id:1;' + MSGPACK_MAP,
            3,
            {'content-type': 'application/msgpack', 'chunk-count': '2', 'chunk-id': '1'},
            MSGPACK_MAP,
        ),
        (
            b'pysoa-redis/3//content-type:application/msgpack;chunk-count:2;chunk-id:2;c',
            3,
            {'content-type': 'application/msgpack', 'chunk-count': '2', 'chunk-id': '2'},
            b'c',
        ),
        (
            b'pysoa-redis/3//content-type:application/json;{"a": 1}',
            3,
            {'content-type': 'application/json'},
            b'{"a": 1}',
        ),
        (b'content-type:application/json;{"a": 1}', 2, {'content-type': 'application/json'}, b'{"a": 1}'),
        (MSGPACK_MAP, 1, {}, MSGPACK_MAP),
    ],
)
def test_offsets_agree_with_parse_frame(element: bytes, version: int, headers: dict[str, str], payload: bytes) -> None:
    found_version, found_headers, offset = locate_payload(element)
    assert (found_version, found_headers, element[offset:]) == (ProtocolVersion(version), headers, payload)
    assert parse_frame(element) == (ProtocolVersion(version), headers, payload)


def test_chunks_rejoin_from_views() -> None:
    payload = bytes(range(256)) * 1000
    chunks = frame_chunks(payload, 'application/msgpack', 100_000)
    views = []
    for chunk in chunks:
        _, _, offset = locate_payload(chunk)
        views.append(memoryview(chunk)[offset:])
    assert b''.join(views) == payload


def test_extract_version_still_returns_the_rest() -> None:
    assert ProtocolVersion.extract_version(b'pysoa-redis/3//x') == (ProtocolVersion.VERSION_3, b'x')
    assert ProtocolVersion.locate_version(b'pysoa-redis/3//x') == (ProtocolVersion.VERSION_3, 15)
    with pytest.raises(ValueError):
        locate_payload(b'pysoa-redis/9//x')
