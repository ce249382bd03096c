"""Bad input never stops a worker: a real worker process, raw bytes pushed on its queue with redis-py.

Each malformed request must be logged (the worker's stderr, one JSON object per line) with what is
wrong, answered with an error response when its envelope says where to answer, and the same
worker process must serve the next call. Every wait is a BLPOP with a timeout: the worker handles
its queue in order, so once the call that follows a bad message is answered, the bad message has
been dealt with and its log line written.

Run as a script, this file is the worker: `python tests/test_bad_input.py -s test_bad_input`.
"""

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information
import pytest
import redis

from pysoa.client import Client
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout, MessageTooLarge
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.mock_transport import MockServerTransport
from pysoa.test.redis_server import RedisServerProcess

SERVICE = 'badinput'
QUEUE = f'pysoa:service.{SERVICE}'
MAXIMUM_MESSAGE_BYTES = 50_000
REDIS_DB = 11  # a database of its own: the worker outlives single tests, so `redis_url` (db 0, flushed) won't do
MSGPACK = 'application/msgpack'
WAIT = 15  # seconds any single BLPOP may wait for the worker

# ----- the worker (this module is also its settings module) -----

SOA_SERVER_SETTINGS: dict[str, Any] = {
    'transport': {
        'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
        'kwargs': {
            'backend_type': 'redis.standard',
            # Never the shared Redis: without the variable, this points at a port nothing listens on.
            'backend_layer_kwargs': {'hosts': [os.environ.get('BAD_INPUT_REDIS_URL', 'redis://127.0.0.1:1/0')]},
            'receive_timeout_in_seconds': 1,
            'maximum_message_size_in_bytes': MAXIMUM_MESSAGE_BYTES,
        },
    },
    'harakiri': {'timeout': 60, 'shutdown_grace': 5},
}


class WhoAmI(Action):
    """Answers with the worker's PID, so a test can tell that the same process still serves."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'pid': os.getpid()}


class Blob(Action):
    """Answers with `size` characters: big enough, the response exceeds the server's size limit."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'data': 'x' * int(request.body['size'])}


class BadInputServer(Server):
    """The service under test."""

    service_name = SERVICE
    action_class_map = {'whoami': WhoAmI, 'blob': Blob}


# ----- a raw peer: builds, frames and pushes messages as a client would, and reads the answers -----


def new_reply_to() -> str:
    """A reply queue name as clients make them (without the `pysoa:` prefix)."""
    return f'service.{SERVICE}.{uuid.uuid4().hex}!{uuid.uuid4().hex[:12]}'


def job(**overrides: Any) -> dict[str, Any]:
    """A well-formed job calling `whoami`; keyword arguments replace (or, given `DROP`, remove) top-level keys."""
    message: dict[str, Any] = {
        'control': {'continue_on_error': False},
        'context': {'correlation_id': uuid.uuid4().hex, 'switches': []},
        'actions': [{'action': 'whoami', 'body': {}}],
    }
    return _apply(message, overrides)


DROP = object()


def _apply(message: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if value is DROP:
            message.pop(key, None)
        else:
            message[key] = value
    return message


def envelope(
    reply_to: str | None, body: Any = None, *, request_id: Any = 1, expires_in: float = 60, **meta_overrides: Any
) -> dict[str, Any]:
    """A request envelope as a 1.x/2.x client sends it."""
    meta: dict[str, Any] = {'client_version': [2, 0, 0], '__expiry__': time.time() + expires_in}
    if reply_to is not None:
        meta['reply_to'] = reply_to
    return {'request_id': request_id, 'meta': _apply(meta, meta_overrides), 'body': job() if body is None else body}


def pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def frame(payload: bytes, version: int, content_type: str = MSGPACK, extra_headers: bytes = b'') -> bytes:
    """One Redis list element: v3 preamble and headers, or the v2 content-type header, then the payload."""
    if version == 3:
        return b'pysoa-redis/3//content-type:%s;%s%s' % (content_type.encode(), extra_headers, payload)
    assert version == 2 and not extra_headers
    return b'content-type:%s;%s' % (content_type.encode(), payload)


def unframe(element: bytes, version: int) -> dict[str, Any]:
    """Check a response element's framing (same version and serializer as the request) and decode it."""
    header = frame(b'', version)
    assert element.startswith(header), element[:80]
    decoded: dict[str, Any] = msgpack.unpackb(element[len(header) :], raw=False, unicode_errors='surrogatepass')
    return decoded


class Worker:
    """The worker process, its stderr (JSON lines) and a Redis connection to talk to it."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, connection: redis.Redis) -> None:
        self.process = process
        self.log_path = log_path
        self.redis = connection
        self._next_request_id = 1000

    def request_id(self) -> int:
        self._next_request_id += 1
        return self._next_request_id

    def push(self, *elements: bytes) -> None:
        self.redis.rpush(QUEUE, *elements)

    def pop_reply(self, reply_to: str, timeout: float = WAIT) -> bytes:
        result = self.redis.blpop([f'pysoa:{reply_to}'], timeout=timeout)
        assert result is not None, f'no reply on {reply_to} within {timeout} s; log tail:\n{self.log_tail()}'
        element = result[1]
        assert isinstance(element, bytes)
        return element

    def call_whoami(self, version: int = 3, timeout: float = WAIT) -> int:
        """A well-formed raw call; return the PID that answered it."""
        reply_to = new_reply_to()
        request_id = self.request_id()
        self.push(frame(pack(envelope(reply_to, request_id=request_id)), version))
        response = unframe(self.pop_reply(reply_to, timeout), version)
        assert response['request_id'] == request_id
        assert response['body']['errors'] == [], response
        pid: int = response['body']['actions'][0]['body']['pid']
        return pid

    def log_mark(self) -> int:
        return self.log_path.stat().st_size

    def records_since(self, mark: int) -> list[dict[str, Any]]:
        with self.log_path.open('rb') as log:
            log.seek(mark)
            lines = log.read().decode('utf-8', 'replace').splitlines()
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a traceback printed outside logging, say; the assertions then fail on content
            if isinstance(record, dict):
                records.append(record)
        return records

    def log_tail(self) -> str:
        return self.log_path.read_text(errors='replace')[-4000:]

    def assert_alive(self, pid: int) -> None:
        assert self.process.poll() is None, f'worker exited with {self.process.returncode}:\n{self.log_tail()}'
        assert self.call_whoami() == pid == self.process.pid


def _redis(redis_server: RedisServerProcess, db: int) -> redis.Redis:
    # redis-py's default 5 s socket timeout would cut short the longer BLPOPs.
    return redis.Redis(host=redis_server.host, port=redis_server.port, db=db, socket_timeout=WAIT + 10)


def _start_worker(redis_server: RedisServerProcess, tmp_path: Path) -> Iterator[Worker]:
    connection = _redis(redis_server, REDIS_DB)
    connection.flushdb()
    log_path = tmp_path / 'worker.log'
    environment = dict(os.environ)
    environment['BAD_INPUT_REDIS_URL'] = f'redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}'
    with log_path.open('wb') as log:
        process = subprocess.Popen(
            [sys.executable, __file__, '-s', Path(__file__).stem],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    worker = Worker(process, log_path, connection)
    try:
        # The first answer proves the worker is up; the request waits in the queue until it is.
        assert worker.call_whoami(timeout=2 * WAIT) == process.pid
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        connection.flushdb()
        connection.close()


@pytest.fixture(scope='module')
def worker(redis_server: RedisServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker for the whole module: surviving every case in turn is the point."""
    yield from _start_worker(redis_server, tmp_path_factory.mktemp('bad-input'))


def _errors(records: list[dict[str, Any]], *levels: str) -> list[str]:
    levels = levels or ('ERROR',)
    return [str(r.get('message', '')) + ' ' + str(r.get('exc_info', '')) for r in records if r.get('level') in levels]


def assert_logged(records: list[dict[str, Any]], *fragments: str, levels: tuple[str, ...] = ('ERROR',)) -> None:
    """Some record at one of `levels` mentions every fragment (case-insensitively)."""
    messages = _errors(records, *levels)
    for message in messages:
        if all(fragment.lower() in message.lower() for fragment in fragments):
            return
    raise AssertionError(f'no {levels} record mentions {fragments}; got:\n' + '\n'.join(messages or ['(none)']))


# ----- messages nobody can answer: neither a request id nor a reply queue can be read from them -----

UNDECODABLE: dict[str, tuple[Callable[[str], bytes], tuple[str, ...]]] = {
    'garbage-bytes': (lambda reply_to: b'\xc1\xc1 this is not msgpack \xff\x00', ('invalid message',)),
    'truncated-msgpack': (lambda reply_to: pack(envelope(reply_to))[:-7], ('invalid message',)),
    'envelope-not-a-map': (lambda reply_to: pack([1, reply_to, {}]), ('expected a map',)),
    'meta-not-a-map': (lambda reply_to: pack({'request_id': 5, 'meta': [reply_to], 'body': job()}), ('meta',)),
    'empty': (lambda reply_to: b'', ('invalid message',)),
}


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
@pytest.mark.parametrize('case', sorted(UNDECODABLE))
def test_an_unreadable_request_is_logged_and_the_worker_goes_on(worker: Worker, case: str, version: int) -> None:
    make, fragments = UNDECODABLE[case]
    reply_to = new_reply_to()
    mark = worker.log_mark()

    worker.push(frame(make(reply_to), version))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), SERVICE, *fragments)
    assert worker.redis.llen(f'pysoa:{reply_to}') == 0


def test_an_unknown_protocol_version_is_logged_and_the_worker_goes_on(worker: Worker) -> None:
    reply_to = new_reply_to()
    mark = worker.log_mark()

    worker.push(b'pysoa-redis/9//content-type:application/msgpack;' + pack(envelope(reply_to)))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), SERVICE, 'framing', '9 is not a valid protocolversion')
    assert worker.redis.llen(f'pysoa:{reply_to}') == 0


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
def test_an_unknown_content_type_with_an_unreadable_payload_is_logged(worker: Worker, version: int) -> None:
    reply_to = new_reply_to()
    mark = worker.log_mark()

    worker.push(frame(json.dumps(envelope(reply_to)).encode(), version, content_type='text/x-bogus'))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), 'text/x-bogus', levels=('WARNING',))
    assert_logged(worker.records_since(mark), SERVICE, 'invalid message')
    assert worker.redis.llen(f'pysoa:{reply_to}') == 0


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
def test_an_unknown_content_type_is_logged_and_read_with_the_default_serializer(worker: Worker, version: int) -> None:
    # protocol.md §4: an unknown content type falls back to the default serializer (msgpack), as 1.x peers do.
    reply_to = new_reply_to()
    request_id = worker.request_id()
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, request_id=request_id)), version, content_type='application/x-bogus'))

    response = unframe(worker.pop_reply(reply_to), version)
    assert response['request_id'] == request_id
    assert response['body']['actions'][0]['body'] == {'pid': worker.process.pid}
    assert_logged(worker.records_since(mark), 'application/x-bogus', levels=('WARNING', 'ERROR'))
    worker.assert_alive(worker.process.pid)


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
def test_a_json_request_with_invalid_json_is_logged(worker: Worker, version: int) -> None:
    mark = worker.log_mark()

    worker.push(frame(b'{"request_id": 1, "meta": {', version, content_type='application/json'))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), SERVICE, 'invalid message')


# ----- envelopes that decode but are wrong: the sender is told, on its reply queue -----


def _invalid_request_response(worker: Worker, reply_to: str, request_id: int, version: int) -> dict[str, Any]:
    response = unframe(worker.pop_reply(reply_to), version)
    assert response['request_id'] == request_id
    assert response['meta']['reply_to'] == reply_to
    body: dict[str, Any] = response['body']
    assert body['actions'] == []
    assert len(body['errors']) == 1
    error: dict[str, Any] = body['errors'][0]
    assert error['code'] == 'INVALID'
    return error


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
@pytest.mark.parametrize('body', [[1, 2], 'a job', 42, None], ids=['list', 'str', 'int', 'nil'])
def test_a_body_of_the_wrong_type_is_answered_with_an_error(worker: Worker, body: Any, version: int) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    message = envelope(reply_to, request_id=request_id)
    message['body'] = body
    mark = worker.log_mark()

    worker.push(frame(pack(message), version))

    error = _invalid_request_response(worker, reply_to, request_id, version)
    assert 'body' in error['message'] and type(body).__name__ in error['message']
    assert error['is_caller_error'] is True
    assert_logged(worker.records_since(mark), SERVICE, 'body', type(body).__name__)
    worker.assert_alive(worker.process.pid)


@pytest.mark.parametrize('client_version', [['x', 'y', 'z'], 'abc', [0, 60, 0]], ids=['strings', 'str', 'old'])
def test_the_error_response_survives_any_client_version(worker: Worker, client_version: Any) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    message = envelope(reply_to, request_id=request_id, client_version=client_version)
    message['body'] = 'not a job'

    worker.push(frame(pack(message), 3))

    error = _invalid_request_response(worker, reply_to, request_id, 3)
    # Clients before 0.70 (and those that announce no usable version) do not know `is_caller_error`.
    assert 'is_caller_error' not in error
    worker.assert_alive(worker.process.pid)


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
def test_an_unknown_extension_type_is_answered_with_an_error(worker: Worker, version: int) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    body = job(actions=[{'action': 'whoami', 'body': {'when': msgpack.ExtType(42, b'\x00\x01')}}])
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, body, request_id=request_id)), version))

    error = _invalid_request_response(worker, reply_to, request_id, version)
    assert 'extension type code 42' in error['message']
    assert_logged(worker.records_since(mark), SERVICE, 'extension type code 42')
    worker.assert_alive(worker.process.pid)


def test_a_chunked_request_is_answered_with_an_error(worker: Worker) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, request_id=request_id)), 3, extra_headers=b'chunk-count:1;chunk-id:1;'))

    error = _invalid_request_response(worker, reply_to, request_id, 3)
    assert 'chunk' in error['message'].lower()
    assert_logged(worker.records_since(mark), SERVICE, 'chunk')
    worker.assert_alive(worker.process.pid)


def test_a_bad_expiry_is_answered_with_an_error(worker: Worker) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, request_id=request_id, __expiry__='tomorrow')), 3))

    error = _invalid_request_response(worker, reply_to, request_id, 3)
    assert '__expiry__' in error['message']
    assert_logged(worker.records_since(mark), SERVICE, '__expiry__')
    worker.assert_alive(worker.process.pid)


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
def test_a_missing_request_id_is_logged_and_not_answered(worker: Worker, version: int) -> None:
    # A response without a request id matches no call: clients (ours and 1.x) reject it as an invalid message,
    # which would break whatever well-formed calls that client thread still awaits. So it is only logged.
    reply_to = new_reply_to()
    message = envelope(reply_to)
    del message['request_id']
    mark = worker.log_mark()

    worker.push(frame(pack(message), version))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), SERVICE, 'request id')
    assert worker.redis.llen(f'pysoa:{reply_to}') == 0


@pytest.mark.parametrize('reply_to', [None, 42, ''], ids=['missing', 'int', 'empty'])
def test_a_request_without_a_usable_reply_queue_is_logged(worker: Worker, reply_to: Any) -> None:
    message = envelope(None, request_id=worker.request_id())
    if reply_to is not None:
        message['meta']['reply_to'] = reply_to
    mark = worker.log_mark()

    worker.push(frame(pack(message), 3))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), 'reply queue')


@pytest.mark.parametrize('reply_to', [f'service.{SERVICE}', 'service.other'], ids=['own-queue', 'other-service'])
def test_a_reply_queue_that_is_a_service_queue_is_refused(worker: Worker, reply_to: str) -> None:
    # Answering onto a service's request queue would feed the answer to that service as a request; onto its own
    # queue, the worker would answer its own answers for ever. Reply queues are marked with `!` (protocol §4).
    request_id = worker.request_id()
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, request_id=request_id)), 3))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), f'response to request {request_id}', 'reply queue')
    assert worker.redis.llen(f'pysoa:{reply_to}') == 0
    assert worker.redis.llen(QUEUE) == 0


@pytest.mark.parametrize('request_id', ['abc', 1.5, -1, 2**64 - 1, [1, 2]], ids=['str', 'float', 'neg', 'u64', 'list'])
def test_an_odd_request_id_is_answered_with_the_same_id(worker: Worker, request_id: Any) -> None:
    reply_to = new_reply_to()

    worker.push(frame(pack(envelope(reply_to, request_id=request_id)), 3))

    response = unframe(worker.pop_reply(reply_to), 3)
    assert response['request_id'] == request_id
    assert response['body']['actions'][0]['body'] == {'pid': worker.process.pid}
    worker.assert_alive(worker.process.pid)


def test_an_action_name_with_a_lone_surrogate_is_answered(worker: Worker) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    body = job(actions=[{'action': 'who\ud800ami', 'body': {}}])
    message = msgpack.packb(
        envelope(reply_to, body, request_id=request_id), use_bin_type=True, unicode_errors='surrogatepass'
    )

    worker.push(frame(message, 3))

    response = unframe(worker.pop_reply(reply_to), 3)
    assert response['request_id'] == request_id
    [error] = response['body']['actions'][0]['errors']
    assert (error['code'], error['field']) == ('UNKNOWN', 'action')
    assert 'who\ud800ami' in error['message']
    worker.assert_alive(worker.process.pid)


def test_a_context_with_odd_keys_and_values_is_served(worker: Worker) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    context = {'correlation_id': 'odd', 'switches': [2**40], 1: 'int key', 'request_id': 'clash', 'blob': b'\x00\xff'}

    worker.push(frame(pack(envelope(reply_to, job(context=context), request_id=request_id)), 3))

    response = unframe(worker.pop_reply(reply_to), 3)
    assert response['request_id'] == request_id
    assert response['body']['errors'] == []
    assert response['body']['actions'][0]['body'] == {'pid': worker.process.pid}
    worker.assert_alive(worker.process.pid)


# ----- well-framed jobs that are malformed: answered with job errors -----

INVALID_JOBS: dict[str, tuple[dict[str, Any], str, str]] = {
    'no-control': (job(control=DROP), 'MISSING', 'control'),
    'no-context': (job(context=DROP), 'MISSING', 'context'),
    'no-actions': (job(actions=DROP), 'MISSING', 'actions'),
    'empty-actions': (job(actions=[]), 'INVALID', 'actions'),
    'list-action-body': (job(actions=[{'action': 'whoami', 'body': [1, 2]}]), 'INVALID', 'actions.0.body'),
    'action-not-a-map': (job(actions=['whoami']), 'INVALID', 'actions.0'),
    'context-not-a-map': (job(context='ctx'), 'INVALID', 'context'),
    'no-correlation-id': (job(context={'switches': []}), 'MISSING', 'context.correlation_id'),
    'switches-not-ints': (job(context={'correlation_id': 'c', 'switches': ['on']}), 'INVALID', 'context.switches.0'),
    'bytes-body-key': (job(actions=[{'action': 'whoami', 'body': {b'k': 1}}]), 'INVALID', "actions.0.body.b'k'"),
    'action-name-not-str': (job(actions=[{'action': 7, 'body': {}}]), 'INVALID', 'actions.0.action'),
    'control-not-a-map': (job(control=[]), 'INVALID', 'control'),
}


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
@pytest.mark.parametrize('case', sorted(INVALID_JOBS))
def test_a_malformed_job_is_answered_with_job_errors(worker: Worker, case: str, version: int) -> None:
    body, code, field = INVALID_JOBS[case]
    reply_to = new_reply_to()
    request_id = worker.request_id()
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, body, request_id=request_id)), version))

    response = unframe(worker.pop_reply(reply_to), version)
    assert response['request_id'] == request_id
    assert response['body']['actions'] == []
    errors = response['body']['errors']
    assert (code, field) in [(e['code'], e['field']) for e in errors], errors
    assert_logged(worker.records_since(mark), 'invalid job request', field)
    worker.assert_alive(worker.process.pid)


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
@pytest.mark.parametrize(
    ('body', 'code', 'field'),
    [('not a job', 'INVALID', None), (job(actions=[]), 'INVALID', 'actions')],
    ids=['body-not-a-map', 'empty-actions'],
)
def test_a_bad_json_request_is_answered_in_json(
    worker: Worker, version: int, body: Any, code: str, field: str | None
) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()

    worker.push(
        frame(json.dumps(envelope(reply_to, body, request_id=request_id)).encode(), version, 'application/json')
    )

    element = worker.pop_reply(reply_to)
    header = frame(b'', version, 'application/json')
    assert element.startswith(header), element[:80]
    response = json.loads(element[len(header) :])
    assert response['request_id'] == request_id
    assert [(e['code'], e['field']) for e in response['body']['errors']] == [(code, field)]
    worker.assert_alive(worker.process.pid)


# ----- expiry and size -----


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
def test_an_expired_request_is_discarded_and_logged(worker: Worker, version: int) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, request_id=request_id, expires_in=-5)), version))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), 'expired', str(request_id), levels=('WARNING', 'ERROR'))
    assert worker.redis.llen(f'pysoa:{reply_to}') == 0


@pytest.mark.parametrize('version', [3, 2], ids=['v3', 'v2'])
def test_an_oversized_response_is_answered_with_response_too_large(worker: Worker, version: int) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()
    body = job(actions=[{'action': 'blob', 'body': {'size': MAXIMUM_MESSAGE_BYTES * 2}}])
    mark = worker.log_mark()

    worker.push(frame(pack(envelope(reply_to, body, request_id=request_id)), version))

    response = unframe(worker.pop_reply(reply_to), version)
    assert response['request_id'] == request_id
    assert [e['code'] for e in response['body']['errors']] == ['RESPONSE_TOO_LARGE']
    assert_logged(worker.records_since(mark), 'too large')
    worker.assert_alive(worker.process.pid)


def test_a_burst_of_bad_input_then_a_real_client_call(worker: Worker, redis_server: RedisServerProcess) -> None:
    """Everything at once, ahead of a real client's call: the call is answered by the same worker."""
    reply_to = new_reply_to()
    worker.push(
        b'\xc1garbage',
        frame(pack(envelope(reply_to))[:-3], 3),
        b'pysoa-redis/9//' + pack(envelope(reply_to)),
        frame(pack(envelope(reply_to, 'not a job', request_id=7)), 2),
        frame(pack(envelope(reply_to, job(actions=[]), request_id=8)), 3),
        frame(pack(envelope(reply_to, request_id=9, expires_in=-1)), 3),
    )
    client = Client({SERVICE: _client_settings(redis_server)})

    response = client.call_action(SERVICE, 'whoami', timeout=WAIT)

    assert response.body == {'pid': worker.process.pid}
    answered = sorted(
        msgpack.unpackb(unframe_any(e), raw=False)['request_id']
        for e in worker.redis.lrange(f'pysoa:{reply_to}', 0, -1)
    )
    assert answered == [7, 8]


def unframe_any(element: Any) -> bytes:
    """The payload of a v3 or v2 framed element."""
    assert isinstance(element, bytes)
    for header in (frame(b'', 3), frame(b'', 2)):
        if element.startswith(header):
            return element[len(header) :]
    raise AssertionError(element[:80])


def _nested_body_request(reply_to: str, request_id: int, depth: int) -> bytes:
    placeholder = msgpack.ExtType(99, b'placeholder')
    message = pack(
        envelope(reply_to, job(actions=[{'action': 'whoami', 'body': {'deep': placeholder}}]), request_id=request_id)
    )
    nested = b'\x81\xa1a' * depth + b'\xc0'  # {'a': {'a': ... None}}, depth maps deep
    return message.replace(pack(placeholder), nested)


def test_a_deeply_nested_request_is_answered(worker: Worker) -> None:
    reply_to = new_reply_to()
    request_id = worker.request_id()

    worker.push(frame(_nested_body_request(reply_to, request_id, 900), 3))

    response = unframe(worker.pop_reply(reply_to), 3)
    assert response['request_id'] == request_id
    assert response['body']['actions'][0]['body'] == {'pid': worker.process.pid}
    worker.assert_alive(worker.process.pid)


def test_a_request_nested_too_deeply_to_decode_is_logged(worker: Worker) -> None:
    reply_to = new_reply_to()
    mark = worker.log_mark()

    worker.push(frame(_nested_body_request(reply_to, worker.request_id(), 5000), 3))

    worker.assert_alive(worker.process.pid)
    assert_logged(worker.records_since(mark), SERVICE, 'invalid message', 'StackError')
    assert worker.redis.llen(f'pysoa:{reply_to}') == 0


# ----- the same guarantees for any transport: the server loop itself -----


def _flaky_server() -> tuple[BadInputServer, MockServerTransport]:
    server = BadInputServer(ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}}))
    assert isinstance(server.transport, MockServerTransport)
    return server, server.transport


def _sent_ids(transport: MockServerTransport) -> list[int]:
    return [response.request_id for response in transport.sent]


def test_a_request_the_transport_cannot_read_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    server, transport = _flaky_server()
    transport.incoming.extend([InvalidMessageError('the bytes made no sense'), ReceivedMessage(2, {}, job())])

    with caplog.at_level(logging.ERROR, logger='pysoa.server'):
        server.handle_next_request()
        server.handle_next_request()

    assert _sent_ids(transport) == [2]
    assert any('the bytes made no sense' in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


@pytest.mark.parametrize(
    'failure',
    [InvalidMessageError('Missing reply queue name'), MessageTooLarge(10**9, 'even the error is too large')],
    ids=['no-reply-queue', 'too-large'],
)
def test_a_response_that_cannot_be_sent_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture, failure: Exception
) -> None:
    server, transport = _flaky_server()
    transport.incoming.extend([ReceivedMessage(1, {}, job()), ReceivedMessage(2, {}, job())])
    transport.send_failures.extend([failure, failure])  # MessageTooLarge: the response, then the RESPONSE_TOO_LARGE one

    with caplog.at_level(logging.ERROR, logger='pysoa.server'):
        server.handle_next_request()
        transport.send_failures.clear()
        server.handle_next_request()

    assert _sent_ids(transport) == [2]
    assert any(
        'Could not send the response to request 1' in r.getMessage() and str(failure) in r.getMessage()
        for r in caplog.records
    )


# ----- the client side: garbage on a client's reply queue -----


def _client_settings(redis_server: RedisServerProcess) -> dict[str, Any]:
    return {
        'transport': {
            'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
            'kwargs': {
                'backend_type': 'redis.standard',
                'backend_layer_kwargs': {'hosts': [f'redis://{redis_server.host}:{redis_server.port}/{REDIS_DB}']},
                'receive_timeout_in_seconds': 5,
            },
        },
    }


CLIENT_GARBAGE: dict[str, Callable[[], bytes]] = {
    'garbage-bytes': lambda: b'\xc1\xc1 not msgpack',
    'truncated-msgpack': lambda: frame(pack({'request_id': 1, 'meta': {}, 'body': {}})[:-2], 3),
    'unknown-version': lambda: b'pysoa-redis/9//' + pack({'request_id': 1, 'meta': {}, 'body': {}}),
    'no-request-id': lambda: frame(pack({'meta': {}, 'body': {'errors': [], 'actions': []}}), 3),
    'body-not-a-map': lambda: frame(pack({'request_id': 1, 'meta': {}, 'body': [1]}), 3),
    'bad-chunk': lambda: frame(pack({'request_id': 1}), 3, extra_headers=b'chunk-count:2;chunk-id:2;'),
}


class _ReplyQueueSpy:
    """Learns the client's reply queue by watching the service queue (the client names it in each request)."""

    def __init__(self, connection: redis.Redis) -> None:
        self.redis = connection

    def take_request(self) -> dict[str, Any]:
        result = self.redis.blpop([QUEUE], timeout=WAIT)
        assert result is not None, 'the client sent nothing'
        decoded: dict[str, Any] = msgpack.unpackb(unframe_any(result[1]), raw=False)
        return decoded


@pytest.fixture
def stopped_queue(redis_server: RedisServerProcess) -> Iterator[redis.Redis]:
    """The service queue with no worker behind it (another database), so the test plays the server."""
    connection = _redis(redis_server, REDIS_DB + 1)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.mark.parametrize('case', sorted(CLIENT_GARBAGE))
def test_garbage_on_a_reply_queue_raises_a_transport_error_and_the_next_call_works(
    stopped_queue: redis.Redis, redis_server: RedisServerProcess, case: str
) -> None:
    settings = _client_settings(redis_server)
    settings['transport']['kwargs']['backend_layer_kwargs']['hosts'] = [
        f'redis://{redis_server.host}:{redis_server.port}/{REDIS_DB + 1}'
    ]
    client = Client({SERVICE: settings})
    spy = _ReplyQueueSpy(stopped_queue)
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome['response'] = client.call_action(SERVICE, 'whoami', timeout=WAIT)
        except Exception as error:
            outcome['error'] = error

    caller = threading.Thread(target=call)
    caller.start()
    request = spy.take_request()
    stopped_queue.rpush(f'pysoa:{request["meta"]["reply_to"]}', CLIENT_GARBAGE[case]())
    caller.join(WAIT)
    assert not caller.is_alive()

    error = outcome.get('error')
    assert isinstance(error, InvalidMessageError), outcome
    assert SERVICE in str(error)

    # The next call on the same client and thread gets its own answer.
    caller = threading.Thread(target=call)
    outcome.clear()
    caller.start()
    request = spy.take_request()
    reply = {
        'request_id': request['request_id'],
        'meta': request['meta'],
        'body': {'errors': [], 'context': {}, 'actions': [{'action': 'whoami', 'errors': [], 'body': {'pid': 1}}]},
    }
    stopped_queue.rpush(f'pysoa:{request["meta"]["reply_to"]}', frame(pack(reply), 3))
    caller.join(WAIT)
    assert not caller.is_alive()
    assert 'error' not in outcome, outcome
    assert outcome['response'].body == {'pid': 1}


def test_a_long_receive_timeout_ends_in_a_timeout_not_a_transport_error(
    stopped_queue: redis.Redis, redis_server: RedisServerProcess
) -> None:
    # redis-py reads with a 5 s socket timeout by default: a BLPOP waiting longer must not be cut short by it.
    settings = _client_settings(redis_server)
    settings['transport']['kwargs']['backend_layer_kwargs']['hosts'] = [
        f'redis://{redis_server.host}:{redis_server.port}/{REDIS_DB + 1}'
    ]
    client = Client({SERVICE: settings})
    started = time.monotonic()
    with pytest.raises(MessageReceiveTimeout):
        client.call_action(SERVICE, 'whoami', timeout=6)
    assert 6 <= time.monotonic() - started < 9


if __name__ == '__main__':
    BadInputServer.main()
