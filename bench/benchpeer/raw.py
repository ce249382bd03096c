"""The limit: the same two Redis hops in bare redis-py, with no framework.

`python -m benchpeer.raw worker '<json>'` pops requests with BLPOP and pushes replies with RPUSH;
`python -m benchpeer.raw client '<json>'` pushes a request and blocks on its reply list. With `"msgpack": true`
each side packs and unpacks an envelope shaped like PySOA's (request id, meta, job body); without it the same
number of bytes travels as an opaque blob.
"""

import json
import os
import sys
import time
import uuid
from typing import Any, cast

import msgpack  # type: ignore[import-untyped]
import redis

from .driver import run_driver
from .payloads import BATCH_SIZE, SMALL_BODY, large_payload, small_response


def _connect(config: dict[str, Any], name: str | None = None) -> redis.Redis:
    host, port = config['redis'].rsplit(':', 1)
    return redis.Redis(host=host, port=int(port), client_name=name)


def _request_envelope(config: dict[str, Any], request_id: int, reply_to: str) -> dict[str, Any]:
    kind = config['kind']
    if kind == 'large':
        actions = [{'action': 'large', 'body': {'size': int(config['size'])}}]
    else:
        actions = [{'action': 'small', 'body': SMALL_BODY}] * (BATCH_SIZE if kind == 'batch' else 1)
    return {
        'request_id': request_id,
        'meta': {'client_version': [2, 0, 0], 'reply_to': reply_to, '__expiry__': time.time() + 60},
        'body': {
            'control': {'continue_on_error': False, 'timeout': 10},
            'context': {'switches': [], 'correlation_id': uuid.uuid4().hex},
            'actions': actions,
        },
    }


def _response_envelope(request: dict[str, Any]) -> dict[str, Any]:
    answers = []
    for action in request['body']['actions']:
        if action['action'] == 'large':
            body = {'data': large_payload(action['body']['size'])}
        else:
            body = small_response(action['body'])
        answers.append({'action': action['action'], 'errors': [], 'body': body})
    meta = dict(request['meta'])
    meta['__expiry__'] = time.time() + 60
    return {
        'request_id': request['request_id'],
        'meta': meta,
        'body': {'errors': [], 'context': request['body']['context'], 'actions': answers},
    }


def worker(config: dict[str, Any]) -> None:
    """Serve until killed."""
    connection = _connect(config, name='bench-' + config['service'])
    queue = 'pysoa:service.' + config['service']
    use_msgpack = bool(config['msgpack'])
    # Without msgpack, the reply is a prebuilt blob the size of the packed response envelope.
    blob_reply = msgpack.packb(_response_envelope(_request_envelope(config, 1, 'x' * 60)), use_bin_type=True)
    while True:
        item = connection.blpop([queue], timeout=1)
        if item is None:
            continue
        data = cast(bytes, item[1])
        if use_msgpack:
            request = msgpack.unpackb(data, raw=False)
            reply = msgpack.packb(_response_envelope(request), use_bin_type=True)
            connection.rpush('pysoa:' + request['meta']['reply_to'], reply)
        else:
            reply_to, _, _ = data.partition(b'|')
            connection.rpush(reply_to, blob_reply)


def client(config: dict[str, Any]) -> None:
    """Push requests and wait for each reply, in the measuring loop."""
    connection = _connect(config)
    queue = 'pysoa:service.' + config['service']
    reply_to = f'service.{config["service"]}.{uuid.uuid4().hex}!{os.getpid():012x}'
    reply_key = 'pysoa:' + reply_to
    actions = 1 if config['kind'] != 'batch' else BATCH_SIZE
    request_ids = iter(range(1, 1 << 62))
    size = int(config['size']) if config['kind'] == 'large' else 0

    if config['msgpack']:

        def call() -> int:
            envelope = _request_envelope(config, next(request_ids), reply_to)
            connection.rpush(queue, msgpack.packb(envelope, use_bin_type=True))
            popped = connection.blpop([reply_key], timeout=10)
            if popped is None:
                raise TimeoutError('no reply')
            reply = msgpack.unpackb(popped[1], raw=False)
            if size and len(reply['body']['actions'][0]['body']['data']) != size:
                raise AssertionError('short response')
            return actions
    else:
        packed_size = len(msgpack.packb(_request_envelope(config, 1, reply_to), use_bin_type=True))
        prefix = reply_key.encode() + b'|'
        blob = prefix + b'.' * max(packed_size - len(prefix), 0)

        def call() -> int:
            connection.rpush(queue, blob)
            if connection.blpop([reply_key], timeout=10) is None:
                raise TimeoutError('no reply')
            return actions

    run_driver(config, call)


if __name__ == '__main__':
    role, raw_config = sys.argv[1], json.loads(sys.argv[2])
    {'worker': worker, 'client': client}[role](raw_config)
