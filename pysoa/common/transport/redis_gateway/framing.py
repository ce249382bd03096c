"""Framing of one Redis list element: preamble, `name:value;` headers, then the serialized envelope.

Pure functions over bytes, so the wire format can be tested without Redis. See protocol §4.
"""

import functools
import math
import re
from typing import NamedTuple

from pysoa.common.transport.redis_gateway.constants import ProtocolFeature, ProtocolVersion

__all__ = ('Frame', 'frame_chunks', 'frame_message', 'locate_payload', 'parse_frame')

SUPPORTED_HEADERS_RE = re.compile(
    rb'\s*(?P<header_name>content-type|chunk-count|chunk-id|signature)\s*:\s*(?P<header_value>[a-zA-Z0-9_/.-]+)\s*;',
)
"""One header; whitespace around names and values is tolerated, as older peers allowed it.

`signature` (see `signing.py`) is ours: 1.x peers stop reading headers at it, so only signing peers send it.
"""


class Frame(NamedTuple):
    """A received element taken apart: its protocol version, its headers, and the serialized payload."""

    version: ProtocolVersion
    headers: dict[str, str]
    payload: bytes


_MAYBE_HEADER_BYTES = frozenset(bytes([byte]) for byte in b'cs \t\n\r\x0b\x0c')


@functools.cache
def _header_bytes(version: ProtocolVersion, mime_type: str) -> bytes:
    header = b''
    if ProtocolFeature.VERSION_MARKER.supported_in(version):
        header += version.prefix
    if ProtocolFeature.CONTENT_TYPE_HEADER.supported_in(version):
        header += b'content-type:%s;' % mime_type.encode('ascii')
    return header


@functools.cache
def _fast_path_header(mime_type: str) -> bytes:
    return _header_bytes(ProtocolVersion.VERSION_3, mime_type)


def _signature_header(signature: str | None) -> bytes:
    return b'signature:%s;' % signature.encode('ascii') if signature else b''


def frame_message(payload: bytes, mime_type: str, version: ProtocolVersion, signature: str | None = None) -> bytes:
    """Frame one serialized envelope for `version` (v1 adds nothing, v2 the content type, v3 preamble too).

    A `signature` (v3 only) follows the content type.
    """
    header = _header_bytes(version, mime_type) + _signature_header(signature)
    return header + payload if header else payload


def frame_chunks(payload: bytes, mime_type: str, chunk_size: int, signature: str | None = None) -> list[bytes]:
    """Split a serialized envelope into `ceil(len/chunk_size)` v3 chunk elements, numbered from 1.

    A `signature` (of the whole envelope) goes in every chunk, after the content type.
    """
    count = math.ceil(len(payload) / chunk_size)
    header = _header_bytes(ProtocolVersion.VERSION_3, mime_type) + _signature_header(signature)
    header += b'chunk-count:%d;' % count
    view = memoryview(payload)
    # join copies each slice once; %-formatting a memoryview into bytes is several times slower.
    return [
        b''.join((header, b'chunk-id:%d;' % (index + 1), view[index * chunk_size : (index + 1) * chunk_size]))
        for index in range(count)
    ]


def parse_frame(data: bytes, expected_mime_type: str = 'application/msgpack') -> Frame:
    """Take a received element apart; raise ValueError for a preamble of an unknown version.

    `expected_mime_type` only selects a fast path for the most common header; any header is accepted.
    """
    version, headers, offset = locate_payload(data, expected_mime_type)
    return Frame(version, headers, data[offset:] if offset else data)


def locate_payload(
    data: bytes, expected_mime_type: str = 'application/msgpack'
) -> tuple[ProtocolVersion, dict[str, str], int]:
    """Like `parse_frame`, but return where the payload starts instead of a copy of it (chunks are joined once)."""
    fast_header = _fast_path_header(expected_mime_type)
    if data.startswith(fast_header):
        start = len(fast_header)
        # Another header can only follow if the next byte starts one (every name starts with `c`) or is
        # whitespace, which headers may be padded with; a serialized envelope starts with neither.
        if data[start : start + 1] not in _MAYBE_HEADER_BYTES or not SUPPORTED_HEADERS_RE.match(data, start):
            return ProtocolVersion.VERSION_3, {'content-type': expected_mime_type}, start
    version, position = ProtocolVersion.locate_version(data)
    headers: dict[str, str] = {}
    while match := SUPPORTED_HEADERS_RE.match(data, position):
        headers[match.group('header_name').decode('ascii')] = match.group('header_value').decode('ascii')
        position = match.end()
    return version, headers, position
