"""Salvage: the `request_id` and `meta` of a request that will not be read, so that its sender can be told why.

Two cases: a message its serializer could not decode as a whole (an unknown extension type from a newer peer,
say), and a message refused unread (too large, or chunked). MessagePack only: JSON cannot be read in part.
"""

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information

from pysoa.common.serializer.base import Serializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion

__all__ = ('SALVAGE_BYTES', 'salvage_envelope')

SALVAGE_BYTES = 64 * 1024
"""How much of a request refused unread is read to find its `request_id` and `meta`."""


def salvage_envelope(
    payload: bytes | memoryview, serializer: Serializer, version: ProtocolVersion, *, whole: bool = True
) -> tuple[object, dict[str, object]] | None:
    """The request id and meta of a MessagePack envelope its serializer could not read, or None if none shows.

    An unknown extension type (sent by a newer peer, say) spoils the whole decoding, yet the envelope
    around it is fine: read with extension types left as they are, it tells where to send the error. A
    message that is not `whole` (one refused unread, for its size) is read only as far as its `request_id` and
    `meta`, within its first SALVAGE_BYTES: senders write them before `body`.
    """
    if not isinstance(serializer, MsgpackSerializer):
        return None
    found = _whole_envelope(payload) if whole else _envelope_head(payload)
    meta = found.get('meta')
    if not isinstance(meta, dict):
        return None
    meta['serializer'] = serializer
    meta['protocol_version'] = version
    return found.get('request_id'), meta


_RAW_UNPACK: dict[str, object] = {'raw': False, 'strict_map_key': False, 'unicode_errors': 'surrogatepass'}


def _whole_envelope(payload: bytes | memoryview) -> dict[object, object]:
    # A truncated or corrupt message is nobody's to answer: only one that reads to its end is salvaged.
    try:
        envelope = msgpack.unpackb(payload, **_RAW_UNPACK)
    except Exception:
        return {}
    return envelope if isinstance(envelope, dict) else {}


def _envelope_head(payload: bytes | memoryview) -> dict[object, object]:
    found: dict[object, object] = {}
    unpacker = msgpack.Unpacker(**_RAW_UNPACK, max_buffer_size=SALVAGE_BYTES)
    try:
        unpacker.feed(payload[:SALVAGE_BYTES])
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            if key in ('request_id', 'meta') and key not in found:
                found[key] = unpacker.unpack()
                if len(found) == 2:
                    break
            else:
                unpacker.skip()  # the body, or a key of no use here; past the bytes read, it ends the search
    except Exception:
        pass  # whatever was found before the bytes ran out or went bad is still good
    return found
