"""Messages that no honest client sends: forged (signing on), hostile (malformed), or naming a bad reply queue.

Each request names the `work` action with a uid of its own, so the executions store shows whether it ran.
"""

import time
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.envelope import Envelope, encode
from pysoa.common.transport.redis_gateway.signing import Signer

__all__ = ('forged_requests', 'forged_response', 'hostile_requests', 'job')

_MSGPACK = MsgpackSerializer()
_V3 = ProtocolVersion.VERSION_3
ROGUE_REPLY_QUEUE = 'service.faults.rogue!000000000001'


def job(uid: str, action: str = 'work') -> dict[str, Any]:
    return {
        'control': {'continue_on_error': False},
        'context': {'correlation_id': uid, 'switches': [], 'caller': 'admin'},
        'actions': [{'action': action, 'body': {'uid': uid, 'seconds': 0.0}}],
    }


def _element(uid: str, expiry: float, signer: Signer | None, version: ProtocolVersion = _V3) -> bytes:
    envelope: Envelope = {
        'request_id': 66,
        'meta': {'client_version': [2, 0, 0], 'reply_to': ROGUE_REPLY_QUEUE, '__expiry__': expiry},
        'body': job(uid),
    }
    encoded = encode(envelope, _MSGPACK, version, 1_000_000, signer=signer).elements
    assert isinstance(encoded, bytes)
    return encoded


def forged_requests(prefix: str, key: str) -> dict[str, bytes]:
    """uid -> a request that a service signing with `key` must refuse: unsigned, wrong key, tampered, replayed."""
    now = time.time()
    good, wrong = Signer((key.encode(),)), Signer((b'w' * 32,))
    forged = {
        f'{prefix}-unsigned': _element(f'{prefix}-unsigned', now + 60, None),
        f'{prefix}-unsigned-v1': _element(f'{prefix}-unsigned-v1', now + 60, None, ProtocolVersion.VERSION_1),
        f'{prefix}-wrong-key': _element(f'{prefix}-wrong-key', now + 60, wrong),
        f'{prefix}-replayed': _element(f'{prefix}-replayed', now - 1, good),  # signed, but expired
    }
    tampered = _element(f'{prefix}-tampered', now + 60, good).replace(b'admin', b'root!')  # signature now wrong
    forged[f'{prefix}-tampered'] = tampered
    return forged


def forged_response(request_id: int, uid: str, signed_with: str | None) -> bytes:
    """A response to `request_id` claiming worker PID 1: unsigned, or signed with a key the client does not have."""
    body = {
        'errors': [],
        'context': {},
        'actions': [{'action': 'work', 'errors': [], 'body': {'uid': uid, 'pid': 1, 'delivery_count': 1}}],
    }
    envelope: Envelope = {'request_id': request_id, 'meta': {'__expiry__': time.time() + 60}, 'body': body}
    signer = Signer((signed_with.encode(),)) if signed_with else None
    encoded = encode(envelope, _MSGPACK, _V3, 1_000_000, signer=signer).elements
    assert isinstance(encoded, bytes)
    return encoded


def hostile_requests(prefix: str) -> dict[str, bytes]:
    """uid -> a malformed element for the service queue (the uid is named where the element can carry one)."""

    def framed(payload: bytes) -> bytes:
        return b'pysoa-redis/3//content-type:application/msgpack;' + payload

    def request(uid: str, body: Any, **meta: Any) -> bytes:
        meta = {'client_version': [2, 0, 0], 'reply_to': ROGUE_REPLY_QUEUE, '__expiry__': time.time() + 60, **meta}
        envelope = {'request_id': 7, 'meta': meta, 'body': body}
        return framed(msgpack.packb(envelope, use_bin_type=True))

    # 5,000 one-element arrays around a map, as bytes: deeper than any packer would write or unpacker should follow.
    nested = b'\x91' * 5000 + msgpack.packb({'uid': 'x'})
    return {
        f'{prefix}-garbage': b'\x00\xff not a message at all',
        f'{prefix}-bad-frame': b'pysoa-redis/99//content-type:application/msgpack;\x80',
        f'{prefix}-not-msgpack': framed(b'\xc1\xc1\xc1'),
        f'{prefix}-not-a-dict': framed(msgpack.packb([1, 2, 3])),
        f'{prefix}-no-request-id': framed(msgpack.packb({'meta': {}, 'body': job(f'{prefix}-no-request-id')})),
        f'{prefix}-body-a-list': request(f'{prefix}-body-a-list', [1, 2]),
        f'{prefix}-unknown-action': request(f'{prefix}-unknown-action', job(f'{prefix}-unknown-action', 'nope')),
        f'{prefix}-bad-body': request(
            f'{prefix}-bad-body',
            {**job(f'{prefix}-bad-body'), 'actions': [{'action': 'work', 'body': {'uid': 5, 'seconds': 'x'}}]},
        ),
        f'{prefix}-nested': framed(nested),
        f'{prefix}-bad-reply-to': request(f'{prefix}-bad-reply-to', job(f'{prefix}-bad-reply-to'), reply_to=12),
        f'{prefix}-service-reply-to': request(
            f'{prefix}-service-reply-to', job(f'{prefix}-service-reply-to'), reply_to='service.faults'
        ),
    }
