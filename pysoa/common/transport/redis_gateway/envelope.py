"""The envelope `{request_id, meta, body}` to and from the elements of a Redis list.

Pure functions over dicts and bytes, like `framing.py` beneath them, so every rule of protocol §2 and §4
can be tested without Redis: encoding (serialize, size limit, signature, chunking) and decoding (framing,
signature, size limit, chunk joining, envelope checks, expiry, and the salvage of an unreadable request so that
its sender can still be told). Errors name the service, because their text goes back to callers and into logs;
anything of the peer's that they quote is cut short (`preview`), so no message makes a log line large.
"""

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypedDict, cast

from pysoa.common.log_text import preview
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.base import RECEIVED_BYTES_META_KEY, SENT_BYTES_META_KEY, ReceivedMessage
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout, MessageTooLarge
from pysoa.common.transport.redis_gateway.constants import REQUEST_QUEUE_SECONDS, ProtocolFeature, ProtocolVersion
from pysoa.common.transport.redis_gateway.framing import frame_chunks, frame_message, locate_payload
from pysoa.common.transport.redis_gateway.salvage import salvage_envelope
from pysoa.common.transport.redis_gateway.signing import SIGNATURE_HEADER, SignatureError, Signer
from pysoa.common.wire import expiry_of

__all__ = (
    'LOCAL_META_KEYS',
    'Encoded',
    'Envelope',
    'InvalidEnvelopeError',
    'MessageExpiredError',
    'SignatureRefusedError',
    'UnreadableMessageError',
    'decode_request',
    'decode_response',
    'encode',
    'expiry_times',
    'join_chunks',
    'note_sent_size',
    'open_envelope',
    'reply_version',
    'salvage_envelope',
    'signer_for_message',
    'wire_envelope',
)

LOCAL_META_KEYS = frozenset(
    {
        'serializer',
        'protocol_version',
        'signed',
        'in_flight',
        'delivery_count',
        RECEIVED_BYTES_META_KEY,
        SENT_BYTES_META_KEY,
    }
)
"""Meta keys that describe how a message travelled; they stay in the process and never go on the wire.

(`signed` is set by a receiver with signing keys: `signing.py`; `in_flight` and `delivery_count` by at-least-once
delivery: `delivery.py`; the sizes, for the server's job log, by `decode_request` and `note_sent_size`.)"""

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


class SignatureRefusedError(UnreadableMessageError):
    """A message refused by its signature (`reason`: `unsigned`, `bad_signature`, `no_expiry`): nobody is told."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class MessageExpiredError(MessageReceiveTimeout):
    """A message arrived after its `__expiry__`: nobody waits for its answer any more (protocol §4)."""

    reason = 'message_expired'

    def __init__(self, message: str, request_id: object, late_by: float) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.late_by = late_by


# ---- encoding


def expiry_times(now: float, requested: float | None, default: int, *, request: bool = False) -> tuple[float, int]:
    """When a message sent at `now` expires (its `__expiry__`), and how many seconds Redis keeps its queue.

    A reply queue: the message's expiry plus 10 s (without a requested expiry, the default alone), as 1.x. A
    `request` queue: at least `REQUEST_QUEUE_SECONDS`, so that a long outage does not drop queued requests unseen.
    """
    expires_at, queue_seconds = (now + requested, math.ceil(requested) + 10) if requested else (now + default, default)
    return expires_at, max(queue_seconds, REQUEST_QUEUE_SECONDS) if request else queue_seconds


def reply_version(meta: Mapping[str, Any], default: ProtocolVersion) -> ProtocolVersion:
    """The framing to send in: the version a request came in (a server's reply), else `default`."""
    version = meta.get('protocol_version') or default
    return version if isinstance(version, ProtocolVersion) else ProtocolVersion(version)


def wire_envelope(request_id: int, meta: Mapping[str, object], body: Mapping[str, object]) -> Envelope:
    """The envelope as it goes on the wire: `meta` without the keys that only describe how a message came."""
    if not LOCAL_META_KEYS.isdisjoint(meta):
        meta = {key: value for key, value in meta.items() if key not in LOCAL_META_KEYS}
    return {'request_id': request_id, 'meta': meta, 'body': body}


def signer_for_message(meta: Mapping[str, object], signer: Signer | None) -> Signer | None:
    """The signer of an outgoing message with this (local) meta, or None to send it unsigned.

    Requests are signed whenever there are keys. A reply is signed when signing is required, or when its request
    came signed (`meta['signed']`): in the verify-optional phase an unsigned 1.x caller gets an answer it can read.
    """
    if signer is None or signer.required or meta.get('signed') is not False:
        return signer
    return None


def encode(
    envelope: Envelope,
    serializer: Serializer,
    version: ProtocolVersion,
    maximum_size: int,
    chunk_size: int = -1,
    *,
    signer: Signer | None = None,
) -> Encoded:
    """Serialize and frame `envelope`: one element, or v3 chunks of `chunk_size` when it is larger (0 or less: never).

    With a `signer`, a v3 message carries the signature of the serialized envelope (every chunk carries it);
    v1 and v2 have no headers for it, so such a message goes unsigned.
    Raises MessageTooLarge when the serialized envelope is over `maximum_size`, or needs chunking that a
    peer speaking `version` cannot read.
    """
    serialized = serializer.dict_to_blob(cast(dict[str, Any], envelope))  # a TypedDict is a plain dict at run time
    size = len(serialized)
    if size > maximum_size:
        raise MessageTooLarge(size, 'Message exceeds maximum message size')
    mime_type = serializer.mime_type
    signature = None
    if signer is not None and ProtocolFeature.VERSION_MARKER.supported_in(version):
        signature = signer.sign(mime_type, (serialized,))
    if 0 < chunk_size < size:
        if not ProtocolFeature.CHUNKED_RESPONSES.supported_in(version):
            raise MessageTooLarge(size, 'Message exceeds chunking threshold but client does not support chunking')
        return Encoded(frame_chunks(serialized, mime_type, chunk_size, signature), size)
    return Encoded(frame_message(serialized, mime_type, version, signature), size)


# ---- decoding


def decode_request(
    element: object,
    serializer_for: SerializerFor,
    service: str,
    now: float,
    *,
    maximum_size: int = 0,
    signer: Signer | None = None,
) -> ReceivedMessage:
    """A request taken from a service queue. Requests are never chunked; an unreadable one is salvaged if it can be.

    Before anything is deserialized, the signature is checked (with a `signer`), then that it is not chunked, then
    its size (a payload over `maximum_size`, when that is positive, is refused): a refused request costs no more
    than reading its first bytes to find out whom to tell.
    Raises UnreadableMessageError (SignatureRefusedError too), InvalidMessageError, InvalidEnvelopeError (the
    sender is known) or MessageExpiredError.
    """
    data, version, headers, offset = _unframe(element, service)
    serializer = serializer_for(headers.get('content-type'))
    view = memoryview(data)[offset:]  # no copy of a request that will be refused
    signed = _verify(signer, headers, [view], service)
    problem = _unreadable_request(headers, len(view), maximum_size, service)
    if problem is not None:
        text, reason = problem
        salvaged = salvage_envelope(view, serializer, version, whole=False)
        if salvaged is None:
            raise UnreadableMessageError(text)
        raise InvalidEnvelopeError(text, *salvaged, reason=reason)
    message = _deserialize(data[offset:] if offset else data, serializer, version, service, salvage=True)
    received = open_envelope(message, serializer, version, service, now, signed=signed)
    received.meta[RECEIVED_BYTES_META_KEY] = len(data)  # type: ignore[index]  # open_envelope always gives a meta
    return received


def note_sent_size(meta: dict[str, Any], elements: bytes | list[bytes]) -> None:
    """Record in `meta` (local, not sent) the bytes that the reply to it takes on the wire, for the job log."""
    meta[SENT_BYTES_META_KEY] = sum(map(len, elements)) if isinstance(elements, list) else len(elements)


def decode_response(
    element: object,
    read_next: Callable[[], object],
    serializer_for: SerializerFor,
    service: str,
    now: float,
    *,
    signer: Signer | None = None,
) -> ReceivedMessage:
    """A response taken from a reply queue; when it is the first of several chunks, `read_next` gives the others.

    Raises UnreadableMessageError (SignatureRefusedError too), InvalidMessageError (bad chunks too) or
    MessageExpiredError.
    """
    data, version, headers, offset = _unframe(element, service)
    serializer = serializer_for(headers.get('content-type'))
    if 'chunk-count' in headers:
        payload = join_chunks(data, headers, offset, read_next, service)
    else:
        payload = data[offset:] if offset else data
    signed = _verify(signer, headers, [payload], service)
    message = _deserialize(payload, serializer, version, service, salvage=False)
    return open_envelope(message, serializer, version, service, now, signed=signed)


def _unreadable_request(
    headers: Mapping[str, str], size: int, maximum_size: int, service: str
) -> tuple[str, str] | None:
    """Why a request must not be deserialized, and the counter's name; None when it may be."""
    if 'chunk-count' in headers or 'chunk-id' in headers:
        return f'Unsupported chunked request for service {service}: only responses may be chunked', 'chunked_request'
    if 0 < maximum_size < size:
        text = f'Request of {size} bytes exceeds the maximum message size of {maximum_size} bytes for service {service}'
        return text, 'message_too_large'
    return None


def _verify(
    signer: Signer | None, headers: Mapping[str, str], parts: list[bytes | memoryview], service: str
) -> bool | None:
    """Whether the message came signed (and verified), None without keys; SignatureRefusedError: may not be read."""
    if signer is None:
        return None  # a signature is ignored by a side without keys, which can neither trust nor doubt it
    signature = headers.get(SIGNATURE_HEADER)
    try:
        signer.verify(headers.get('content-type', ''), parts, signature)
    except SignatureError as error:
        raise SignatureRefusedError(f'Refused message for service {service}: {error}', error.reason) from None
    return signature is not None


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
        text = f'Invalid message for service {service}: {preview(str(error))}'
        salvaged = salvage_envelope(payload, serializer, version) if salvage else None
        if salvaged is not None:
            raise InvalidEnvelopeError(text, *salvaged, reason='invalid_message') from error
        raise UnreadableMessageError(text) from error


def open_envelope(
    message: object,
    serializer: Serializer,
    version: ProtocolVersion,
    service: str,
    now: float,
    *,
    signed: bool | None = None,
) -> ReceivedMessage:
    """Check a deserialized envelope and return it; its meta gains `serializer` and `protocol_version` (how it came),
    and `signed` when the receiver has keys (`signed`: None when it has none): whether the signature was verified.

    The checks run in the order 1.x peers rely on: shape, expiry (with `now`), request id, body. A signed message
    must have an expiry: without one, a copy could be replayed for ever.
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
    if signed is not None:
        meta['signed'] = signed

    request_id = message.get('request_id')
    try:
        expiry = expiry_of(meta)
    except ValueError:
        text = f'Invalid message for service {service}: bad __expiry__ {preview(repr(meta["__expiry__"]))}'
        raise InvalidEnvelopeError(text, request_id, meta) from None
    if signed and expiry is None:
        raise SignatureRefusedError(f'Refused message for service {service}: signed but no __expiry__', 'no_expiry')
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
