"""The backend layer without Redis: the registry of backend types, shared backends, the Lua loader, push and pop."""

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import redis

from pysoa.common.transport.redis_gateway import backend as backend_package
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient
from pysoa.common.transport.redis_gateway.backend.cluster import ClusterRedisClient
from pysoa.common.transport.redis_gateway.backend.registry import (
    BACKEND_CLASSES,
    SHARED_BACKENDS,
    backend_class_for,
    shared_backend,
)
from pysoa.common.transport.redis_gateway.backend.scripts import SEND_SCRIPT, load_script
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.backend.standard import StandardRedisClient
from pysoa.common.transport.redis_gateway.constants import REDIS_BACKEND_TYPES
from pysoa.common.transport.redis_gateway.core import RedisTransportClientCore, RedisTransportServerCore
from pysoa.common.transport.redis_gateway.settings import RedisClientTransportSchema


class Recorder(redis.Redis):
    """A redis-py client that answers from a script instead of a server (a subclass: it takes the client path)."""

    def __init__(self, *replies: object) -> None:
        super().__init__()
        self.replies = list(replies)
        self.commands: list[tuple[object, ...]] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands.append(args)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


class FakeBackend(BaseRedisClient):
    """A backend type of its own: one class and one registry entry are all it takes."""

    DEFAULT_PORT = 1234

    def __init__(self, hosts: list[Any] | None = None) -> None:
        self.hosts = hosts
        super().__init__(ring_size=1)

    def _get_connection(self, index: int) -> redis.Redis:
        return Recorder()


@pytest.fixture
def no_shared_backends() -> Iterator[None]:
    with mock.patch.dict(SHARED_BACKENDS, clear=True):
        yield


def test_the_registry_knows_the_1x_backend_types_and_cluster() -> None:
    assert tuple(BACKEND_CLASSES) == REDIS_BACKEND_TYPES
    assert backend_class_for('redis.standard') is StandardRedisClient
    assert backend_class_for('redis.sentinel') is SentinelRedisClient
    assert backend_class_for('redis.cluster') is ClusterRedisClient
    for unknown in ('redis.clustr', '', None):
        with pytest.raises(
            ValueError, match="backend_type must be one of \\('redis.standard', 'redis.sentinel', 'redis.cluster'\\)"
        ):
            backend_class_for(unknown)  # type: ignore[arg-type]  # a settings mistake, as a user could make it
    assert RedisClientTransportSchema.contents['backend_type'].values == set(BACKEND_CLASSES)  # type: ignore[attr-defined]  # a Constant field


def test_a_new_backend_is_one_class_and_one_registry_line(no_shared_backends: None) -> None:
    with mock.patch.dict(BACKEND_CLASSES, {'test.fake': FakeBackend}):
        core = RedisTransportClientCore('test.fake', backend_layer_kwargs={'hosts': ['h', ('i', 2)]})
        backend = core.backend_layer
    assert isinstance(backend, FakeBackend)
    assert backend.hosts == [('h', 1234), ('i', 2)]  # its own default port


def test_equal_settings_share_one_backend(no_shared_backends: None) -> None:
    kwargs: dict[str, Any] = {
        'backend_layer_kwargs': {'hosts': ['redis://127.0.0.1:1/0'], 'connection_kwargs': {'db': 1}}
    }
    first, second = RedisTransportClientCore(**kwargs), RedisTransportServerCore(**kwargs)
    assert first.backend_layer is second.backend_layer
    other = RedisTransportClientCore(backend_layer_kwargs={'hosts': ['redis://127.0.0.1:2/0']})
    assert other.backend_layer is not first.backend_layer
    created: list[BaseRedisClient] = []

    def create() -> BaseRedisClient:
        created.append(FakeBackend())
        return created[-1]

    unhashable = {'connection_kwargs': {'opaque': [[1]]}}  # a list of lists cannot be a key: no sharing, no failure
    assert shared_backend('test.fake', unhashable, create) is not shared_backend('test.fake', unhashable, create)
    assert len(created) == 2


def test_scripts_are_lua_files_beside_the_backends_read_by_one_loader() -> None:
    path = Path(backend_package.__file__).parent / 'send.lua'
    source = path.read_text(encoding='utf-8')
    assert SEND_SCRIPT.source == source
    assert SEND_SCRIPT.sha == hashlib.sha1(source.encode()).hexdigest()
    assert load_script('send') is SEND_SCRIPT
    with pytest.raises(FileNotFoundError):
        load_script('no-such-script')


def test_a_script_is_loaded_on_a_server_that_lacks_it_then_run(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.script_flush()
        assert client.script_exists(SEND_SCRIPT.sha) == [False]

        assert SEND_SCRIPT.run(client, ['k'], [60, 10, b'm']) == 1

        assert client.script_exists(SEND_SCRIPT.sha) == [True]
        assert client.lrange('k', 0, -1) == [b'm']
    finally:
        client.close()


def test_push_sends_chunks_in_one_call_and_reports_a_full_queue(redis_url: str) -> None:
    backend = FakeBackend()
    client = redis.Redis.from_url(redis_url)
    try:
        assert backend.push(client, 'q', [b'a', b'b'], expiry=60, capacity=3) is True
        assert backend.push(client, 'q', b'c', expiry=60, capacity=3) is True
        assert backend.push(client, 'q', b'd', expiry=60, capacity=3) is False  # holds 3 already: nothing pushed
        assert client.lrange('q', 0, -1) == [b'a', b'b', b'c']
        assert 0 < client.ttl('q') <= 60
        with pytest.raises(redis.ResponseError, match='queue full'):  # the 1.x name keeps raising
            backend.send_message_to_queue(queue_key='q', message=b'd', expiry=60, capacity=3, connection=client)
        client.set('not-a-list', 'x')
        with pytest.raises(redis.ResponseError, match='WRONGTYPE'):
            backend.push(client, 'not-a-list', b'e', expiry=60, capacity=3)
    finally:
        client.close()


def test_pop_gives_the_element_or_none(redis_url: str) -> None:
    backend = FakeBackend()
    client = redis.Redis.from_url(redis_url)
    try:
        client.rpush('q', b'element')
        assert backend.pop(client, 'q', 0.5) == b'element'
        assert backend.pop(client, 'q', 0.1) is None
    finally:
        client.close()


def test_a_client_subclass_or_double_is_driven_through_its_own_methods() -> None:
    # 1.x drove every client through `blpop` and `register_script`: doubles written for it offer just those.
    backend = FakeBackend()
    client = Recorder((b'q', b'element'), None, 1)

    assert backend.pop(client, 'q', 2.5) == b'element'
    assert backend.pop(client, 'q', 2.5) is None
    assert backend.push(client, 'q', [b'a', b'b'], expiry=60, capacity=5) is True
    assert client.commands[:2] == [('BLPOP', 'q', 2.5), ('BLPOP', 'q', 2.5)]
    assert client.commands[2:] == [('EVALSHA', SEND_SCRIPT.sha, 1, 'q', 60, 5, b'a', b'b')]
