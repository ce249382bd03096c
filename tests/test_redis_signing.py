"""Signed envelopes (issue 10, part 7) without Redis: what is signed, what is refused, rotation, chunks, settings."""

import hashlib
import hmac
from typing import Any

import pytest

from pysoa.common.metrics import noop_metrics
from pysoa.common.serializer.base import Serializer
from pysoa.common.serializer.json_serializer import JSONSerializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.envelope import (
    Envelope,
    InvalidEnvelopeError,
    MessageExpiredError,
    SignatureRefusedError,
    decode_request,
    decode_response,
    encode,
    signer_for_message,
    wire_envelope,
)
from pysoa.common.transport.redis_gateway.framing import parse_frame
from pysoa.common.transport.redis_gateway.options import ClientTransportOptions, ServerTransportOptions
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.common.transport.redis_gateway.signing import Signer, parse_signing_keys

MSGPACK = MsgpackSerializer()
V1, V2, V3 = ProtocolVersion.VERSION_1, ProtocolVersion.VERSION_2, ProtocolVersion.VERSION_3
NOW = 1_700_000_000.0
KEY, OLD_KEY, OTHER_KEY = b'k' * 32, b'o' * 32, b'x' * 32
SIGNER = Signer((KEY,))
MESSAGE: Envelope = {'request_id': 3, 'meta': {'reply_to': 'r!', '__expiry__': NOW + 60}, 'body': {'actions': []}}


def serializer_for(mime_type: str | None) -> Serializer:
    return JSONSerializer() if mime_type == 'application/json' else MSGPACK


def request(element: object, signer: Signer | None) -> Any:
    return decode_request(element, serializer_for, 'svc', NOW, signer=signer)


def response(elements: list[bytes], signer: Signer | None) -> Any:
    rest = iter(elements[1:])
    return decode_response(elements[0], lambda: next(rest), serializer_for, 'svc', NOW, signer=signer)


def signed(message: Envelope = MESSAGE, signer: Signer = SIGNER, serializer: Serializer = MSGPACK) -> bytes:
    element = encode(message, serializer, V3, 1_000_000, signer=signer).elements
    assert isinstance(element, bytes)
    return element


def test_the_signature_is_an_hmac_sha256_of_the_content_type_and_the_serialized_envelope() -> None:
    frame = parse_frame(signed())
    payload = MSGPACK.dict_to_blob(dict(MESSAGE))
    assert frame.payload == payload
    expected = hmac.new(KEY, b'application/msgpack;' + payload, hashlib.sha256).hexdigest()
    assert frame.headers == {'content-type': 'application/msgpack', 'signature': expected}
    assert signed().startswith(b'pysoa-redis/3//content-type:application/msgpack;signature:' + expected.encode())


def test_a_signed_request_is_read_and_says_so() -> None:
    received = request(signed(), SIGNER)
    assert (received.request_id, received.body) == (3, {'actions': []})
    assert received.meta['signed'] is True
    assert request(signed(serializer=JSONSerializer()), SIGNER).meta['signed'] is True


def test_a_side_without_keys_reads_signed_messages_and_records_nothing() -> None:
    received = request(signed(), None)
    assert received.request_id == 3 and 'signed' not in received.meta


@pytest.mark.parametrize(
    ('tamper', 'reason'),
    [
        (lambda e: e.replace(b'\xa2r!', b'\xa2q!'), 'bad_signature'),  # the reply queue changed
        (lambda e: e[:-1] + b'\x81', 'bad_signature'),  # the body changed
        (lambda e: e.replace(b'signature:', b'signature:0'), 'bad_signature'),  # malformed
        (lambda e: e.replace(b'application/msgpack;signature', b'application/json;signature'), 'bad_signature'),
        (lambda e: e.split(b'signature:')[0] + e.split(b';', 2)[2], 'unsigned'),  # the header taken out
    ],
)
def test_a_tampered_or_unsigned_request_is_refused_before_it_is_read(tamper: Any, reason: str) -> None:
    with pytest.raises(SignatureRefusedError) as error:
        request(tamper(signed()), SIGNER)
    assert error.value.reason == reason
    assert not isinstance(error.value, InvalidEnvelopeError)  # nobody is told: the sender is not trusted


def test_a_message_signed_with_another_key_is_refused_and_rotation_verifies_with_every_key() -> None:
    with pytest.raises(SignatureRefusedError, match='matches no signing key'):
        request(signed(signer=Signer((OTHER_KEY,))), SIGNER)
    rotating = Signer((KEY, OLD_KEY))
    assert request(signed(signer=Signer((OLD_KEY,))), rotating).request_id == 3
    assert request(signed(signer=rotating), SIGNER).request_id == 3  # the first key signs


def test_a_replay_after_expiry_is_refused_and_a_signed_message_must_expire() -> None:
    stale: Envelope = {**MESSAGE, 'meta': {'reply_to': 'r!', '__expiry__': NOW - 1}}
    with pytest.raises(MessageExpiredError):
        request(signed(stale), SIGNER)
    timeless: Envelope = {**MESSAGE, 'meta': {'reply_to': 'r!'}}
    with pytest.raises(SignatureRefusedError, match='no __expiry__') as error:
        request(signed(timeless), SIGNER)
    assert error.value.reason == 'no_expiry'


def test_verify_optional_accepts_unsigned_but_never_a_bad_signature() -> None:
    optional = Signer((KEY,), required=False)
    unsigned = encode(MESSAGE, MSGPACK, V3, 1_000_000).elements
    assert request(unsigned, optional).meta['signed'] is False
    with pytest.raises(SignatureRefusedError):
        request(signed(signer=Signer((OTHER_KEY,))), optional)


def test_replies_are_signed_when_required_or_when_the_request_came_signed() -> None:
    optional = Signer((KEY,), required=False)
    assert signer_for_message({}, optional) is optional  # a request this side originates
    assert signer_for_message({'signed': True}, optional) is optional
    assert signer_for_message({'signed': False}, optional) is None  # an unsigned 1.x caller can read the answer
    assert signer_for_message({'signed': False}, SIGNER) is SIGNER
    assert signer_for_message({'signed': True}, None) is None
    assert 'signed' not in wire_envelope(1, {'signed': True, 'a': 1}, {})['meta']


@pytest.mark.parametrize('version', [V1, V2])
def test_versions_without_headers_go_unsigned(version: ProtocolVersion) -> None:
    element = encode(MESSAGE, MSGPACK, version, 1_000_000, signer=SIGNER).elements
    assert isinstance(element, bytes) and b'signature' not in element


def test_a_chunked_response_is_signed_as_a_whole_and_every_chunk_carries_the_signature() -> None:
    message: Envelope = {**MESSAGE, 'body': {'text': 'y' * 1000}}
    elements = encode(message, MSGPACK, V3, 10_000, 300, signer=SIGNER).elements
    assert isinstance(elements, list) and len(elements) == 4
    signatures = {parse_frame(element).headers['signature'] for element in elements}
    whole = b''.join(parse_frame(element).payload for element in elements)
    assert signatures == {hmac.new(KEY, b'application/msgpack;' + whole, hashlib.sha256).hexdigest()}
    assert response(elements, SIGNER).body == {'text': 'y' * 1000}
    # A chunk swapped for one of another signed response with the same layout is caught by the whole's signature.
    other = encode({**message, 'body': {'text': 'z' * 1000}}, MSGPACK, V3, 10_000, 300, signer=SIGNER).elements
    with pytest.raises(SignatureRefusedError):
        response([elements[0], other[1], elements[2], elements[3]], SIGNER)
    with pytest.raises(SignatureRefusedError, match='unsigned'):
        response(encode(message, MSGPACK, V3, 10_000, 300).elements, SIGNER)  # type: ignore[arg-type]  # a list


def test_an_unsigned_or_forged_response_is_refused_by_a_client_with_keys() -> None:
    unsigned = encode(MESSAGE, MSGPACK, V3, 1_000_000).elements
    with pytest.raises(SignatureRefusedError, match='unsigned message'):
        response([unsigned], SIGNER)  # type: ignore[list-item]  # one element
    with pytest.raises(SignatureRefusedError, match='no signing key'):
        response([signed(signer=Signer((OTHER_KEY,)))], SIGNER)
    assert response([signed()], SIGNER).meta['signed'] is True


def test_keys_come_from_the_setting_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PYSOA_SIGNING_KEYS', f' {"a" * 16} , {"b" * 20},')
    options = ServerTransportOptions()
    assert options.signing_keys == (b'a' * 16, b'b' * 20)
    assert options.signer is not None and options.signer.required
    assert ServerTransportOptions(signing_keys=[KEY]).signing_keys == (KEY,)
    assert ServerTransportOptions(signing_keys=[]).signer is None  # an explicit empty list turns signing off
    monkeypatch.setenv('PYSOA_SIGNING_REQUIRED', 'false')
    signer = ServerTransportOptions().signer
    assert signer is not None and not signer.required
    assert ServerTransportOptions(signing_required=True).signer.required  # type: ignore[union-attr]
    monkeypatch.delenv('PYSOA_SIGNING_KEYS')
    assert ClientTransportOptions().signer is None


def test_bad_keys_and_settings_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match='at least 16'):
        parse_signing_keys(['short'])
    with pytest.raises(ValueError, match='protocol_version 3'):
        ClientTransportOptions(signing_keys=[KEY], protocol_version=2)
    assert parse_signing_keys('é' * 8) == (('é' * 8).encode(),)  # 16 bytes in UTF-8


def test_the_verify_optional_phase_over_redis(redis_url: str) -> None:
    backend = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}}
    server = RedisServerTransport('phase', noop_metrics, signing_keys=[KEY], signing_required=False, **backend)
    counted: list[str] = []
    server.core._count = counted.append  # type: ignore[method-assign]  # the counters this phase is watched by

    unsigned_client = RedisClientTransport('phase', noop_metrics, signing_keys=[], **backend)  # like a 1.x client
    unsigned_client.send_request_message(1, {}, {'actions': []})
    received = server.receive_request_message()
    assert received.meta['signed'] is False and counted == ['receive.unsigned']
    server.send_response_message(1, received.meta, {'actions': []})
    answer = unsigned_client.receive_response_message(5)
    assert answer.request_id == 1 and 'signed' not in answer.meta  # answered unsigned: a 1.x client reads it

    signing_client = RedisClientTransport('phase', noop_metrics, signing_keys=[KEY], **backend)  # requires
    signing_client.send_request_message(2, {}, {'actions': []})
    received = server.receive_request_message()
    assert received.meta['signed'] is True and counted == ['receive.unsigned']
    server.send_response_message(2, received.meta, {'actions': []})
    assert signing_client.receive_response_message(5).meta['signed'] is True  # answered signed
