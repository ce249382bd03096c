"""The envelope `{request_id, meta, body}` to and from the elements of a Redis list.

Pure functions over dicts and bytes, like `framing.py` beneath them, so every rule of protocol §2 and §4
can be tested without Redis: encoding (serialize, size limit, chunking) and decoding (framing, chunk
joining, envelope checks, expiry, and the salvage of an unreadable request so that its sender can
still be told). Errors name the service, because their text goes back to callers and into logs.
"""

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypedDict, cast

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information

from pysoa.common.serializer.base import Serializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout, MessageTooLarge
from pysoa.common.transport.redis_gateway.constants import ProtocolFeature, ProtocolVersion
from pysoa.common.transport.redis_gateway.framing import frame_chunks, frame_message, locate_payload
from pysoa.common.wire import expiry_of

__all__ = (
    'LOCAL_META_KEYS',
    'Encoded',
    'Envelope',
    'InvalidEnvelopeError',
    'MessageExpiredError',
    'UnreadableMessageError',
    'decode_request',
    'decode_response',
    'encode',
    'expiry_times',
    'join_chunks',
    'open_envelope',
    'reply_version',
    'salvage_envelope',
    'wire_envelope',
)

LOCAL_META_KEYS = frozenset({'serializer', 'protocol_version', 'in_flight', 'delivery_count'})
"""Meta keys that describe how a message travelled; they stay in the process and never go on the wire.

(`in_flight` and `delivery_count` are set by at-least-once delivery: `delivery.py`.)"""

SerializerFor = Callable[[str | None], Serializer]
"""Finds the serializer for a received content type (None when the message names none)."""


class Envelope(TypedDict):
    """What one message carries on the wire (protocol §2)."""

    request_id: int
    meta: Mapping[str, object]
    body: Mapping[str, object]


class Encoded(NamedTuple):
    """A message ready to push: one element, or the chunks to push together; and its serialized size."""

    elements: bytes | list[bytes]
    size: int


class InvalidEnvelopeError(InvalidMessageError):
    """A message decoded but its envelope is wrong; carries what is known so the sender can be told.

    `reason`, when set, names the counter (under `receive.error.`) that the failure counts in, as it does
    on the other errors of this module.
    """

    def __init__(
        self,
        message: str,
        request_id: Any = None,  # whatever the peer sent: it goes back to the peer as it came (typed `int` there)
        meta: dict[str, object] | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.meta = meta
        self.reason = reason


class UnreadableMessageError(InvalidMessageError):
    """A message whose framing or payload cannot be read at all: nobody can be told."""

    reason = 'invalid_message'


class MessageExpiredError(MessageReceiveTimeout):
    """A message arrived after its `__expiry__`: nobody waits for its answer any more (protocol §4)."""

    reason = 'message_expired'

    def __init__(self, message: str, request_id: object, late_by: float) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.late_by = late_by


# ---- encoding


def expiry_times(now: float, requested: float | None, default: int) -> tuple[float, int]:
    """When a message sent at `now` expires (its `__expiry__`), and how many seconds Redis keeps its queue."""
    if requested:
        return now + requested, math.ceil(requested) + 10
    return now + default, default


def reply_version(meta: Mapping[str, Any], default: ProtocolVersion) -> ProtocolVersion:
    """The framing to send in: the version a request came in (a server's reply), else `default`."""
    version = meta.get('protocol_version') or default
    return version if isinstance(version, ProtocolVersion) else ProtocolVersion(version)


def wire_envelope(request_id: int, meta: Mapping[str, object], body: Mapping[str, object]) -> Envelope:
    """The envelope as it goes on the wire: `meta` without the keys that only describe how a message came."""
    if not LOCAL_META_KEYS.isdisjoint(meta):
        meta = {key: value for key, value in meta.items() if key not in LOCAL_META_KEYS}
    return {'request_id': request_id, 'meta': meta, 'body': body}


def encode(
    envelope: Envelope,
    serializer: Serializer,
    version: ProtocolVersion,
    maximum_size: int,
    chunk_size: int = -1,
) -> Encoded:
    """Serialize and frame `envelope`: one element, or v3 chunks of `chunk_size` when it is larger (0 or less: never).

    Raises MessageTooLarge when the serialized envelope is over `maximum_size`, or needs chunking that a
    peer speaking `version` cannot read.
    """
    serialized = serializer.dict_to_blob(cast(dict[str, Any], envelope))  # a TypedDict is a plain dict at run time
    size = len(serialized)
    if size > maximum_size:
        raise MessageTooLarge(size, 'Message exceeds maximum message size')
    if 0 < chunk_size < size:
        if not ProtocolFeature.CHUNKED_RESPONSES.supported_in(version):
            raise MessageTooLarge(size, 'Message exceeds chunking threshold but client does not support chunking')
        return Encoded(frame_chunks(serialized, serializer.mime_type, chunk_size), size)
    return Encoded(frame_message(serialized, serializer.mime_type, version), size)


# ---- decoding


def decode_request(element: object, serializer_for: SerializerFor, service: str, now: float) -> ReceivedMessage:
    """A request taken from a service queue. Requests are never chunked; an unreadable one is salvaged if it can be.

    Raises UnreadableMessageError, InvalidMessageError, InvalidEnvelopeError (the sender is known) or
    MessageExpiredError.
    """
    data, version, headers, offset = _unframe(element, service)
    serializer = serializer_for(headers.get('content-type'))
    payload = data[offset:] if offset else data
    received = open_envelope(
        _deserialize(payload, serializer, version, service, salvage=True), serializer, version, service, now
    )
    if 'chunk-count' in headers or 'chunk-id' in headers:
        raise InvalidEnvelopeError(
            f'Unsupported chunked request for service {service}: only responses may be chunked',
            received.request_id,
            received.meta,
        )
    return received


def decode_response(
    element: object,
    read_next: Callable[[], object],
    serializer_for: SerializerFor,
    service: str,
    now: float,
) -> ReceivedMessage:
    """A response taken from a reply queue; when it is the first of several chunks, `read_next` gives the others.

    Raises UnreadableMessageError, InvalidMessageError (bad chunks too) or MessageExpiredError.
    """
    data, version, headers, offset = _unframe(element, service)
    serializer = serializer_for(headers.get('content-type'))
    if 'chunk-count' in headers:
        payload = join_chunks(data, headers, offset, read_next, service)
    else:
        payload = data[offset:] if offset else data
    return open_envelope(
        _deserialize(payload, serializer, version, service, salvage=False), serializer, version, service, now
    )


def _unframe(element: object, service: str) -> tuple[bytes, ProtocolVersion, dict[str, str], int]:
    if not isinstance(element, bytes):  # a connection set to decode responses gives str
        raise InvalidMessageError(f'Invalid message for service {service}: not bytes')
    try:
        return element, *locate_payload(element)
    except ValueError as error:
        raise UnreadableMessageError(f'Invalid message framing for service {service}: {error}') from error


def join_chunks(
    first: bytes,
    first_headers: Mapping[str, str],
    first_offset: int,
    read_next: Callable[[], object],
    service: str,
) -> bytes:
    """The payload of a chunked response: the `first` element's, then those `read_next` gives, checked and joined.

    The payloads are only views of the elements until the join, which copies each byte once.
    """
    if 'chunk-id' not in first_headers:
        raise InvalidMessageError(f'Invalid chunked response missing chunk ID for service {service}')
    try:
        chunk_id, chunk_count = int(first_headers['chunk-id']), int(first_headers['chunk-count'])
    except ValueError:
        raise InvalidMessageError(f'Invalid chunked response with non-numeric chunk headers for service {service}')
    if chunk_id != 1 or chunk_count < 1:
        raise InvalidMessageError(
            f'Invalid chunked response has incorrect chunk ID {chunk_id} expected 1 of {chunk_count} for service '
            f'{service}.'
        )
    parts = [memoryview(first)[first_offset:]]
    while len(parts) < chunk_count:
        element, _, headers, offset = _unframe(read_next(), service)
        _check_chunk(headers, len(parts) + 1, chunk_count, service)
        parts.append(memoryview(element)[offset:])
    return b''.join(parts)


def _check_chunk(headers: Mapping[str, str], expected: int, chunk_count: int, service: str) -> None:
    if 'chunk-count' not in headers or 'chunk-id' not in headers:
        raise InvalidMessageError(
            f'Invalid chunked response missing chunk headers expecting chunk {expected} of {chunk_count} '
            f'for service {service}.'
        )
    if headers['chunk-count'] != str(chunk_count):
        raise InvalidMessageError(
            f'Invalid chunked response has different chunk count {headers["chunk-count"]} expecting chunk '
            f'{expected} of {chunk_count} for service {service}.'
        )
    if headers['chunk-id'] != str(expected):
        raise InvalidMessageError(
            f'Invalid chunked response has incorrect chunk ID {headers["chunk-id"]} expected {expected} of '
            f'{chunk_count} for service {service}.'
        )


def _deserialize(
    payload: bytes, serializer: Serializer, version: ProtocolVersion, service: str, *, salvage: bool
) -> object:
    try:
        return serializer.blob_to_dict(payload)
    except Exception as error:
        text = f'Invalid message for service {service}: {error}'
        salvaged = salvage_envelope(payload, serializer, version) if salvage else None
        if salvaged is not None:
            raise InvalidEnvelopeError(text, *salvaged, reason='invalid_message') from error
        raise UnreadableMessageError(text) from error


def salvage_envelope(
    payload: bytes, serializer: Serializer, version: ProtocolVersion
) -> tuple[object, dict[str, object]] | None:
    """The request id and meta of a MessagePack envelope its serializer could not read, or None if none shows.

    An unknown extension type (sent by a newer peer, say) spoils the whole decoding, yet the envelope
    around it is fine: read with extension types left as they are, it tells where to send the error.
    """
    if not isinstance(serializer, MsgpackSerializer):
        return None
    try:
        envelope = msgpack.unpackb(payload, raw=False, strict_map_key=False, unicode_errors='surrogatepass')
    except Exception:
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get('meta'), dict):
        return None
    meta: dict[str, object] = envelope['meta']
    meta['serializer'] = serializer
    meta['protocol_version'] = version
    return envelope.get('request_id'), meta


def open_envelope(
    message: object, serializer: Serializer, version: ProtocolVersion, service: str, now: float
) -> ReceivedMessage:
    """Check a deserialized envelope and return it; its meta gains `serializer` and `protocol_version` (how it came).

    The checks run in the order 1.x peers rely on: shape, expiry (with `now`), request id, body.
    """
    if not isinstance(message, dict):
        raise InvalidMessageError(f'Invalid message for service {service}: not a map')
    meta = message.get('meta')
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise InvalidMessageError(f'Invalid message for service {service}: meta is not a map')
    meta['serializer'] = serializer
    meta['protocol_version'] = version

    request_id = message.get('request_id')
    try:
        expiry = expiry_of(meta)
    except ValueError:
        text = f'Invalid message for service {service}: bad __expiry__ {meta["__expiry__"]!r}'
        raise InvalidEnvelopeError(text, request_id, meta) from None
    if expiry is not None and expiry < now:
        raise MessageExpiredError(f'Message expired for service {service}', request_id, now - expiry)
    if request_id is None:
        raise InvalidEnvelopeError(f'No request ID for service {service}', None, meta, reason='no_request_id')
    body = message.get('body')
    if not isinstance(body, dict):
        raise InvalidEnvelopeError(
            f'Invalid message body for service {service}: expected a map, got {type(body).__name__}',
            request_id,
            meta,
            reason='invalid_body',
        )
    return ReceivedMessage(request_id, meta, body)
