"""Forged requests and responses with signing on (issue 10, parts 7 and 9), against a real echo service process.

The service gets its keys from PYSOA_SIGNING_KEYS, as a deployment would. It runs one worker, so its queue is
served in order: once the answer to a good request that was queued after the forged ones has come back, every
forged request has been taken and refused, and the reply queue they named shows whether any of them ran.
"""

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pysoa.client import Client
from pysoa.common.metrics import noop_metrics
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.envelope import Envelope, encode
from pysoa.common.transport.redis_gateway.signing import Signer
from tests.conftest import StartService

KEY, WRONG_KEY = 'k' * 32, 'w' * 32
SIGNER = Signer((KEY.encode(),))
MSGPACK = MsgpackSerializer()
V3 = ProtocolVersion.VERSION_3
FORGED_REPLY_QUEUE = 'service.echo.forged!000000000001'
JOB = {
    'control': {'continue_on_error': False},
    'context': {'correlation_id': 'c1', 'switches': [], 'caller': 'admin'},
    'actions': [{'action': 'whoami', 'body': {}}],
}


def element(expiry: float, signer: Signer | None, version: ProtocolVersion = V3) -> bytes:
    envelope: Envelope = {
        'request_id': 66,
        'meta': {'client_version': [1, 4, 9], 'reply_to': FORGED_REPLY_QUEUE, '__expiry__': expiry},
        'body': JOB,
    }
    encoded = encode(envelope, MSGPACK, version, 1_000_000, signer=signer).elements
    assert isinstance(encoded, bytes)
    return encoded


def transport(redis_url: str, **options: Any) -> RedisClientTransport:
    backend = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}}
    return RedisClientTransport('echo', noop_metrics, **backend, **options)


@pytest.fixture
def raw(redis_url: str) -> Iterator['redis.Redis']:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_forged_requests_are_refused_by_a_signing_service_and_never_run(
    start_service: StartService, redis_url: str, raw: 'redis.Redis'
) -> None:
    service = start_service(1, env={'PYSOA_SIGNING_KEYS': KEY})
    now = time.time()
    tampered = element(now + 60, SIGNER).replace(b'admin', b'root!')  # a good signature, a changed caller
    forged = [
        element(now + 60, None),  # unsigned
        element(now + 60, None, ProtocolVersion.VERSION_1),  # unsigned, 1.x framing
        element(now + 60, Signer((WRONG_KEY.encode(),))),  # signed with a key the service does not have
        tampered,
        element(now - 1, SIGNER),  # a good signature, replayed after its expiry
    ]
    raw.rpush('pysoa:service.echo', *forged)

    client = transport(redis_url, signing_keys=[KEY])
    client.send_request_message(1, {}, JOB)  # queued after the forged ones: answered after they were taken
    response = client.receive_response_message(20)
    assert response.request_id == 1, service.output()
    assert response.meta is not None and response.meta['signed'] is True  # the service signs what it sends
    assert response.body is not None and response.body['actions'][0]['action'] == 'whoami'

    assert raw.llen('pysoa:' + FORGED_REPLY_QUEUE) == 0  # none of them ran, and none was answered
    output = service.output()
    assert output.count('Refused message for service echo: unsigned message') == 2, output
    assert output.count('Refused message for service echo: signature matches no signing key') == 2, output
    assert 'Discarding message 66 for service echo: expired' in output, output
    assert 'root!' not in output  # the tampered caller never reached a log line, let alone an action


def test_a_forged_response_is_refused_by_a_signing_client(
    start_service: StartService, redis_url: str, raw: 'redis.Redis'
) -> None:
    start_service(1, env={'PYSOA_SIGNING_KEYS': KEY})
    client = transport(redis_url, signing_keys=[KEY])
    reply_queue = 'pysoa:' + client._reply_queue_name(client._thread_state)
    forged_body = {'errors': [], 'context': {}, 'actions': [{'action': 'whoami', 'errors': [], 'body': {'pid': 1}}]}
    for first, signer in ((1, None), (3, Signer((WRONG_KEY.encode(),)))):
        # The forgery is waiting on the reply queue before the real answer can be.
        forgery: Envelope = {'request_id': first, 'meta': {'__expiry__': time.time() + 60}, 'body': forged_body}
        raw.rpush(reply_queue, encode(forgery, MSGPACK, V3, 1_000_000, signer=signer).elements)  # type: ignore[arg-type]
        client.send_request_message(first, {}, JOB)
        with pytest.raises(InvalidMessageError, match='Refused message for service echo'):
            client.receive_response_message(20)
        # The forged content reached nobody. The real answer to that request comes later, signed, and is dropped
        # as one given up on; the next request is answered as usual.
        client.send_request_message(first + 1, {}, JOB)
        real = client.receive_response_message(20)
        assert real.request_id == first + 1 and real.body is not None
        assert real.body['actions'][0]['body']['pid'] != 1


def test_clients_and_services_with_the_same_keys_talk_and_a_client_without_keys_is_refused(
    start_service: StartService, redis_url: str
) -> None:
    service = start_service(1, env={'PYSOA_SIGNING_KEYS': f'{KEY},{"o" * 32}'})
    kwargs = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}}
    path = 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'

    def client(**options: Any) -> Client:
        return Client({'echo': {'transport': {'path': path, 'kwargs': {**kwargs, **options}}}})

    # Rotation: a client that still signs with the old key is verified by the service's second key.
    for keys in ([KEY], ['o' * 32, KEY]):
        response = client(signing_keys=keys).call_action('echo', 'whoami', timeout=20)
        assert response.body['pid'] > 0
    unsigned = client(signing_keys=[], receive_timeout_in_seconds=1)
    with pytest.raises(MessageReceiveTimeout):  # the request is refused unanswered: the caller times out
        unsigned.call_action('echo', 'whoami', timeout=1)
    assert 'Refused message for service echo: unsigned message' in service.output()
