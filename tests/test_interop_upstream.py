"""Wire compatibility with real upstream PySOA 1.4.9 (from PyPI, in a cached virtualenv) over one private Redis.

Both directions: upstream's client against our server, and our client against upstream's server, with msgpack
and JSON, protocol versions 1 to 3, every msgpack extension type, action and job errors, jobs of several
actions, context and switches, and chunked large responses. The same `peer` service and client code runs under
both implementations, so every expectation below holds for upstream against upstream too
(`test_control_upstream_client_to_upstream_server` checks that, so a failure elsewhere is ours).
"""

import datetime
import json
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import msgpack  # type: ignore[import-untyped]
import pytest
import redis
from interop.peer.values import describe, fingerprint, large_payload, sample_values
from interop.peers import PeerServer, our_environ, run_peer_client

import pysoa
from pysoa.test.redis_server import RedisServerProcess

# Building the upstream venv on first use (a pip install from PyPI) can outlast the default per-test timeout.
pytestmark = pytest.mark.timeout(300)

UPSTREAM_VERSION = '1.4.9'
UPSTREAM_SERVICE = 'interop_upstream'
OUR_SERVICE = 'interop_ours'
CHUNKED_SIZE = 1024 * 1024
UNCHUNKED_SIZE = 50_000

# (serializer, protocol version). v1 carries no content type, so it works only with the server's default, msgpack.
COMBINATIONS = [('msgpack', 3), ('msgpack', 2), ('msgpack', 1), ('json', 3), ('json', 2)]
PLAIN_BODY = {'text': 'h\u00e9llo \u2603', 'n': 42, 'f': 1.5, 'list': [1, 'a', None, True], 'nested': {'k': {'e': []}}}


@pytest.fixture(scope='module')
def upstream_server(
    upstream_python: str, upstream_env: dict[str, str], redis_server: RedisServerProcess
) -> Iterator[PeerServer]:
    """Upstream's echo service, in its own process."""
    server = PeerServer(upstream_python, upstream_env, redis_server.host, redis_server.port, UPSTREAM_SERVICE)
    with server:
        yield server
    server.remove_log()


@pytest.fixture(scope='module')
def our_server(redis_server: RedisServerProcess) -> Iterator[PeerServer]:
    """Our echo service, the same code started with our interpreter and package."""
    server = PeerServer(sys.executable, our_environ(), redis_server.host, redis_server.port, OUR_SERVICE)
    with server:
        yield server
    server.remove_log()


@contextmanager
def server_log_on_failure(server: PeerServer) -> Iterator[None]:
    """Add the end of the server's log to a failing assertion (the log file is removed at teardown)."""
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f'{error}\n--- {server.service} log ---\n{server.log_tail()}') from error


def make_plan(server: PeerServer, serializer: str, protocol_version: int) -> dict[str, Any]:
    """Every call the interop tests make, named; ext types only where the serializer carries them."""
    calls: list[dict[str, Any]] = [
        {'name': 'plain', 'action': 'echo', 'body': PLAIN_BODY},
        {'name': 'fail', 'action': 'fail'},
        {'name': 'invalid', 'action': 'validated', 'body': {'count': 'x'}},
        {'name': 'valid', 'action': 'validated', 'body': {'name': 'Ada', 'count': 3}},
        {'name': 'boom', 'action': 'boom'},
        {'name': 'unknown', 'action': 'no_such_action'},
        {'name': 'unchunked', 'action': 'large', 'body': {'size': UNCHUNKED_SIZE}},
        {'name': 'chunked', 'action': 'large', 'body': {'size': CHUNKED_SIZE}},
        {
            'name': 'job_stop',
            'actions': [
                {'action': 'echo', 'body': {'i': 1}},
                {'action': 'fail'},
                {'action': 'echo', 'body': {'i': 3}},
            ],
        },
        {
            'name': 'job_continue',
            'continue_on_error': True,
            'actions': [
                {'action': 'echo', 'body': {'i': 1}},
                {'action': 'fail'},
                {'action': 'echo', 'body': {'i': 3}},
            ],
        },
    ]
    if serializer == 'msgpack':
        calls += [
            {'name': 'echo_samples', 'action': 'echo', 'body': {'v': '$samples'}},
            {'name': 'samples', 'action': 'samples'},
        ]
    return {
        'redis': f'{server.host}:{server.port}',
        'service': server.service,
        'protocol_version': protocol_version,
        'serializer': serializer,
        'switches': [5, 2],
        'correlation_id': 'interop-correlation-1',
        'context': {'interop_extra': 'carried'},
        'calls': calls,
    }


def _codes(errors: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    return {(e['code'], e['field']) for e in errors}


def check_results(plan: dict[str, Any], results: list[dict[str, Any]], server_version: str) -> None:
    """Assert what both implementations must answer to `make_plan`'s calls (the server's version included)."""
    by_name = dict(zip((c['name'] for c in plan['calls']), results, strict=True))
    for name, result in by_name.items():
        assert 'exception' not in result, (name, result)

    plain = by_name['plain']
    assert plain['job_errors'] == []
    [action] = plain['actions']
    assert action['errors'] == []
    assert action['body']['implementation'] == server_version
    assert action['body']['echo'] == PLAIN_BODY
    assert action['body']['seen'] == PLAIN_BODY
    assert action['body']['context'] == {
        'correlation_id': 'interop-correlation-1',
        'switches': [2, 5],
        'caller': action['body']['context']['caller'],
        'extra': 'carried',
    }

    [fail] = by_name['fail']['actions']
    assert fail['errors'] == [
        {
            'code': 'DELIBERATE',
            'message': 'This action always fails',
            'field': 'thing',
            'variables': {'a': '1'},
            'denied_permissions': None,
            'is_caller_error': True,
            'has_traceback': False,
        },
        {
            'code': 'OTHER',
            'message': 'A second error',
            'field': None,
            'variables': None,
            'denied_permissions': ['perm.x'],
            'is_caller_error': True,
            'has_traceback': False,
        },
    ]

    [invalid] = by_name['invalid']['actions']
    assert _codes(invalid['errors']) == {('MISSING', 'name'), ('INVALID', 'count')}
    assert all(e['is_caller_error'] for e in invalid['errors'])

    [valid] = by_name['valid']['actions']
    assert valid == {'action': 'validated', 'errors': [], 'body': {'greeting': 'Hello, Ada!'}}

    [boom] = by_name['boom']['actions']
    [boom_error] = boom['errors']
    assert boom_error['code'] == 'SERVER_ERROR'
    assert boom_error['message'] == 'Internal server error: kaboom'
    assert boom_error['has_traceback'] and not boom_error['is_caller_error']

    unknown = by_name['unknown']
    unknown_errors = unknown['job_errors'] + [e for a in unknown['actions'] for e in a['errors']]
    assert ('UNKNOWN', 'action') in _codes(unknown_errors)

    [unchunked] = by_name['unchunked']['actions']
    assert unchunked['body'] == {'data': fingerprint(large_payload(UNCHUNKED_SIZE)), 'size': UNCHUNKED_SIZE}

    chunked = by_name['chunked']
    if plan['protocol_version'] >= 3:
        assert chunked['job_errors'] == []
        assert chunked['actions'][0]['body'] == {'data': fingerprint(large_payload(CHUNKED_SIZE)), 'size': CHUNKED_SIZE}
    else:
        # Chunks need the v3 headers: an older client is told the response was too large.
        assert _codes(chunked['job_errors']) == {('RESPONSE_TOO_LARGE', None)}

    stop = by_name['job_stop']
    assert [a['action'] for a in stop['actions']] == ['echo', 'fail']
    assert stop['actions'][0]['body']['echo'] == {'i': 1}
    proceed = by_name['job_continue']
    assert [a['action'] for a in proceed['actions']] == ['echo', 'fail', 'echo']
    assert proceed['actions'][2]['body']['echo'] == {'i': 3}
    assert _codes(proceed['actions'][1]['errors']) == {('DELIBERATE', 'thing'), ('OTHER', None)}

    if plan['serializer'] == 'msgpack':
        expected = describe(sample_values())
        [echoed] = by_name['echo_samples']['actions']
        assert echoed['errors'] == []
        assert echoed['body']['seen'] == {'v': expected}, "the server decoded the client's extension types"
        assert echoed['body']['echo'] == {'v': expected}, "the client decoded the server's extension types"
        [made] = by_name['samples']['actions']
        assert made['body'] == {'samples': expected}


@pytest.mark.parametrize(('serializer', 'protocol_version'), COMBINATIONS)
def test_upstream_client_to_our_server(
    upstream_python: str, upstream_env: dict[str, str], our_server: PeerServer, serializer: str, protocol_version: int
) -> None:
    """Upstream 1.4.9's client calls our server."""
    plan = make_plan(our_server, serializer, protocol_version)
    output = run_peer_client(upstream_python, upstream_env, plan)
    assert output['implementation'] == UPSTREAM_VERSION
    with server_log_on_failure(our_server):
        check_results(plan, output['results'], pysoa.__version__)


@pytest.mark.parametrize(('serializer', 'protocol_version'), COMBINATIONS)
def test_our_client_to_upstream_server(upstream_server: PeerServer, serializer: str, protocol_version: int) -> None:
    """Our client (in this process) calls upstream 1.4.9's server."""
    from interop.peer.client import make_client, run_call

    plan = make_plan(upstream_server, serializer, protocol_version)
    client = make_client(plan)
    check_results(plan, [run_call(client, plan, call) for call in plan['calls']], UPSTREAM_VERSION)
    if serializer == 'msgpack':
        # Ours also encodes the standard library's UTC (upstream only pytz's): upstream reads it as UTC.
        moment = datetime.datetime(2022, 2, 3, 4, 5, 6, 789012, tzinfo=datetime.UTC)
        response = client.call_action(UPSTREAM_SERVICE, 'echo', {'moment': moment})
        assert response.body['echo']['moment'] == moment
        assert response.body['seen']['moment'] == describe(moment)


def test_control_upstream_client_to_upstream_server(
    upstream_python: str, upstream_env: dict[str, str], upstream_server: PeerServer
) -> None:
    """Upstream against itself meets every expectation above, so they describe upstream's behaviour."""
    plan = make_plan(upstream_server, 'msgpack', 3)
    output = run_peer_client(upstream_python, upstream_env, plan)
    assert output['implementation'] == UPSTREAM_VERSION
    check_results(plan, output['results'], UPSTREAM_VERSION)
    assert output['samples'] == describe(sample_values()), 'both interpreters build the same samples'


def test_our_client_parallel_chunked_responses_from_both_servers(
    upstream_server: PeerServer, our_server: PeerServer
) -> None:
    """Parallel jobs to an upstream and an our service, each answered in chunks, come back whole and matched."""
    from interop.peer.client import make_client

    plan = make_plan(upstream_server, 'msgpack', 3)
    client = make_client(plan)
    client_for_ours = make_client(make_plan(our_server, 'msgpack', 3))
    sizes = [300_000, 450_000, 200_000]
    for target_client, service in ((client, UPSTREAM_SERVICE), (client_for_ours, OUR_SERVICE)):
        responses = target_client.call_actions_parallel(
            service, [{'action': 'large', 'body': {'size': size}} for size in sizes]
        )
        bodies = [describe(response.body) for response in responses]
        assert bodies == [{'data': fingerprint(large_payload(size)), 'size': size} for size in sizes]


# Byte-level comparison: the same request answered by both servers, and the same call sent by both clients.

_VOLATILE = frozenset({'__expiry__', 'reply_to', 'client_version', 'request_id'})
_FRAMES = {
    ('msgpack', 3): b'pysoa-redis/3//content-type:application/msgpack;',
    ('json', 3): b'pysoa-redis/3//content-type:application/json;',
    ('msgpack', 2): b'content-type:application/msgpack;',
    ('json', 2): b'content-type:application/json;',
}


def _ordered(value: Any) -> Any:
    """The value with every map as a list of (key, value) pairs, so that key order counts; volatile values masked."""
    if isinstance(value, dict):
        return [(k, '<volatile>' if k in _VOLATILE else _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def _split_frame(element: bytes, serializer: str, protocol_version: int) -> Any:
    frame = _FRAMES[(serializer, protocol_version)]
    assert element.startswith(frame), element[:80]
    payload = element[len(frame) :]
    if serializer == 'json':
        return json.loads(payload)
    return msgpack.unpackb(payload, raw=False)


def _pack(envelope: dict[str, Any], serializer: str, protocol_version: int) -> bytes:
    if serializer == 'json':
        payload = json.dumps(envelope).encode()
    else:
        payload = msgpack.packb(envelope, use_bin_type=True)
    return _FRAMES[(serializer, protocol_version)] + payload


def _raw_exchange(server: PeerServer, element: bytes, reply_to: str) -> bytes:
    """Push a hand-made request element on the service queue and pop the raw reply element."""
    connection = redis.Redis(host=server.host, port=server.port)
    try:
        connection.rpush(f'pysoa:service.{server.service}', element)
        reply = connection.blpop([f'pysoa:{reply_to}'], timeout=15)
    finally:
        connection.close()
    assert reply is not None, f'no reply from {server.service}:\n{server.log_tail()}'
    return cast(bytes, reply[1])


@pytest.mark.parametrize(
    ('serializer', 'protocol_version', 'client_version'),
    [('msgpack', 3, [1, 4, 9]), ('json', 2, [1, 4, 9]), ('msgpack', 2, [0, 60, 0])],
)
def test_both_servers_answer_the_same_bytes(
    upstream_server: PeerServer,
    our_server: PeerServer,
    serializer: str,
    protocol_version: int,
    client_version: list[int],
) -> None:
    """Given one request, our server's reply has upstream's framing and key order, value for value.

    Client version 0.60.0 predates `is_caller_error`, which both servers must then leave out.
    """
    answers = []
    for server in (upstream_server, our_server):
        reply_to = f'service.{server.service}.{uuid.uuid4().hex}!{0xABC:012x}'
        envelope = {
            'request_id': 77,
            'meta': {'client_version': client_version, 'reply_to': reply_to, '__expiry__': time.time() + 30},
            'body': {
                'control': {'continue_on_error': True},
                'context': {'switches': [3], 'correlation_id': 'wire-1', 'custom': 'kept'},
                'actions': [
                    {'action': 'validated', 'body': {'name': 'Ada'}},
                    {'action': 'validated', 'body': {'name': 5}},
                    {'action': 'fail'},
                    {'action': 'large', 'body': {'size': 10}},
                ],
            },
        }
        raw = _raw_exchange(server, _pack(envelope, serializer, protocol_version), reply_to)
        answers.append(_split_frame(raw, serializer, protocol_version))
    upstream_answer, our_answer = answers
    with server_log_on_failure(our_server):
        assert our_answer['request_id'] == 77
        assert our_answer['meta']['reply_to'].startswith(f'service.{OUR_SERVICE}.')
        assert _ordered(our_answer) == _ordered(upstream_answer)
        has_caller_flag = any('is_caller_error' in e for a in our_answer['body']['actions'] for e in a['errors'])
        assert has_caller_flag == (client_version >= [0, 70, 0])


@pytest.mark.parametrize(('serializer', 'protocol_version'), [('msgpack', 3), ('json', 2)])
def test_both_clients_send_the_same_bytes(
    upstream_python: str,
    upstream_env: dict[str, str],
    redis_server: RedisServerProcess,
    serializer: str,
    protocol_version: int,
) -> None:
    """The same call from upstream's client and ours leaves requests with one framing and key order on the queue."""
    from interop.peer.client import make_client, run_call

    elements = []
    for service, run in (
        ('wire_nobody_upstream', lambda plan: run_peer_client(upstream_python, upstream_env, plan)),
        ('wire_nobody_ours', lambda plan: [run_call(make_client(plan), plan, c) for c in plan['calls']]),
    ):
        plan = {
            'redis': f'{redis_server.host}:{redis_server.port}',
            'service': service,
            'serializer': serializer,
            'protocol_version': protocol_version,
            'receive_timeout': 1,
            'switches': [7],
            'correlation_id': 'wire-2',
            'context': {'custom': 'kept'},
            'calls': [{'actions': [{'action': 'a', 'body': {'x': [1, 2]}}, {'action': 'b'}]}],
        }
        run(plan)  # nobody serves this queue: the call times out and the request stays queued
        connection = redis.Redis(host=redis_server.host, port=redis_server.port)
        try:
            [element] = cast(list[bytes], connection.lrange(f'pysoa:service.{service}', 0, -1))
            connection.delete(f'pysoa:service.{service}')
        finally:
            connection.close()
        elements.append(_split_frame(element, serializer, protocol_version))
    upstream_request, our_request = elements
    assert our_request['meta']['reply_to'].startswith('service.wire_nobody_ours.')
    assert '!' in our_request['meta']['reply_to']
    assert our_request['meta']['__expiry__'] > 0
    assert _ordered(our_request) == _ordered(upstream_request)


@pytest.fixture(scope='module')
def optional_signing_server(redis_server: RedisServerProcess) -> Iterator[PeerServer]:
    """Our echo service with signing keys in the verify-optional phase of a rollout (docs: operations, "Signing")."""
    environ = {**our_environ(), 'PYSOA_SIGNING_KEYS': 's' * 32, 'PYSOA_SIGNING_REQUIRED': '0'}
    server = PeerServer(sys.executable, environ, redis_server.host, redis_server.port, 'interop_signing')
    with server:
        yield server
    server.remove_log()


@pytest.mark.parametrize(('serializer', 'protocol_version'), COMBINATIONS)
def test_upstream_client_to_our_server_in_the_verify_optional_signing_phase(
    upstream_python: str,
    upstream_env: dict[str, str],
    optional_signing_server: PeerServer,
    serializer: str,
    protocol_version: int,
) -> None:
    """A server with keys that does not require signatures serves 1.4.9 clients as one without keys does."""
    plan = make_plan(optional_signing_server, serializer, protocol_version)
    output = run_peer_client(upstream_python, upstream_env, plan)
    assert output['implementation'] == UPSTREAM_VERSION
    with server_log_on_failure(optional_signing_server):
        check_results(plan, output['results'], pysoa.__version__)
