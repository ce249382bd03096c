"""What 1.x code does to a transport's backend keeps working: replacing it with a duck-typed object of its own,
and emptying the shared-backend cache by assigning a new dict to it."""

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.errors import MessageReceiveTimeout, MessageSendError
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.core import RedisTransportCore
from pysoa.common.transport.redis_gateway.server import RedisServerTransport


class OneXBackend:
    """The duck type the 1.x core called: a connection per queue, `send_message_to_queue`, and `blpop`."""

    def __init__(self, capacity: int = 100) -> None:
        self.queues: dict[str, list[bytes]] = {}
        self.capacity = capacity

    def get_connection(self, *_: Any) -> 'OneXBackend':
        return self

    def send_message_to_queue(self, queue_key: str, message: bytes, *_: Any, **__: Any) -> None:
        queue = self.queues.setdefault(queue_key, [])
        if len(queue) >= self.capacity:
            raise redis.ResponseError('queue full')
        queue.append(message)

    def blpop(self, keys: list[str], *_: Any, **__: Any) -> list[Any] | None:
        queue = self.queues.get(keys[0])
        return [keys[0], queue.pop(0)] if queue else None


def test_a_1x_backend_set_on_the_core_carries_requests_and_responses() -> None:
    backend = OneXBackend()
    server = RedisServerTransport('legacy', noop_metrics, 1, backend_type='redis.standard')
    client = RedisClientTransport('legacy', noop_metrics, backend_type='redis.standard')
    server.core._backend_layer = backend  # type: ignore[assignment]  # what 1.x tests do
    client.core._backend_layer = backend  # type: ignore[assignment]  # what 1.x tests do

    client.send_request_message(5, {}, {'actions': [{'action': 'a'}]})
    request_id, meta, body = server.receive_request_message()
    server.send_response_message(request_id, meta, {'actions': [], 'errors': []})

    assert (request_id, body) == (5, {'actions': [{'action': 'a'}]})
    response_id, _, response = client.receive_response_message()
    assert (response_id, response) == (5, {'actions': [], 'errors': []})
    assert sorted(backend.queues) == sorted(['pysoa:service.legacy', 'pysoa:' + meta['reply_to']])
    assert all(queue == [] for queue in backend.queues.values())
    with pytest.raises(MessageReceiveTimeout):
        server.receive_request_message()


def test_a_full_queue_of_a_1x_backend_is_reported_as_full() -> None:
    client = RedisClientTransport('legacy', noop_metrics, backend_type='redis.standard', queue_full_retries=0)
    client.core._backend_layer = OneXBackend(capacity=0)  # type: ignore[assignment]  # what 1.x tests do

    with pytest.raises(MessageSendError, match='full'):
        client.send_request_message(1, {}, {'actions': []})


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    saved = RedisTransportCore.__dict__['_backend_layer_cache']
    try:
        yield
    finally:
        RedisTransportCore._backend_layer_cache = saved


@pytest.mark.usefixtures('fresh_cache')
def test_assigning_a_new_cache_dict_forgets_the_shared_backends() -> None:
    kwargs: dict[str, Any] = {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': ['h1']}}
    first = RedisClientTransport('cached', noop_metrics, **kwargs).core.backend_layer
    assert RedisClientTransport('cached', noop_metrics, **kwargs).core.backend_layer is first

    RedisTransportCore._backend_layer_cache = {}  # how 1.x tests start from no shared backends

    assert RedisClientTransport('cached', noop_metrics, **kwargs).core.backend_layer is not first
