"""The frozen options of the Redis transports: one reading of the keyword arguments, for settings and direct use."""

from typing import Any

import attrs
import pytest

from pysoa.common.metrics import noop_metrics
from pysoa.common.serializer.json_serializer import JSONSerializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.core import RedisTransportClientCore, RedisTransportServerCore
from pysoa.common.transport.redis_gateway.options import ClientTransportOptions, ServerTransportOptions
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.common.transport.redis_gateway.settings import RedisClientTransportSchema, RedisServerTransportSchema

HOSTS = {'hosts': ['redis://127.0.0.1:1/0']}


@pytest.mark.parametrize(
    ('options', 'schema'),
    [(ClientTransportOptions, RedisClientTransportSchema), (ServerTransportOptions, RedisServerTransportSchema)],
)
def test_the_settings_schema_and_the_options_name_the_same_keys(options: type, schema: object) -> None:
    assert set(attrs.fields_dict(options)) == set(schema.contents)  # type: ignore[attr-defined]  # a Dictionary field


def test_defaults_per_side() -> None:
    client, server = ClientTransportOptions(), ServerTransportOptions()
    assert (client.maximum_message_size_in_bytes, server.maximum_message_size_in_bytes) == (102_400, 256_000)
    assert (client.log_messages_larger_than_bytes, server.log_messages_larger_than_bytes) == (102_400, 256_000)
    assert (client.protocol_version, server.chunk_messages_larger_than_bytes) == (ProtocolVersion.VERSION_3, -1)
    assert client.default_serializer_config == {'object': MsgpackSerializer, 'kwargs': {}}
    assert (client.backend_type, client.backend_layer_kwargs) == ('redis.standard', {})
    assert (client.message_expiry_in_seconds, client.receive_timeout_in_seconds) == (60, 5)
    assert (client.queue_capacity, client.queue_full_retries) == (10_000, 10)


def test_options_are_frozen_and_read_numbers_as_given_in_settings() -> None:
    options = ClientTransportOptions(
        queue_capacity='50', protocol_version=2
    )  # a number in a string, as settings may hold
    assert (options.queue_capacity, options.protocol_version) == (50, ProtocolVersion.VERSION_2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.queue_capacity = 1  # type: ignore[misc]  # the point of the test


def test_each_side_refuses_the_other_side_s_keyword() -> None:
    with pytest.raises(TypeError, match='chunk_messages_larger_than_bytes'):
        ClientTransportOptions(chunk_messages_larger_than_bytes=102_400)  # type: ignore[call-arg]  # refused
    with pytest.raises(TypeError, match='protocol_version'):
        RedisServerTransport('svc', noop_metrics, protocol_version=3, backend_layer_kwargs=HOSTS)
    with pytest.raises(ValueError, match='protocol_version must be one of 1, 2, 3, got 4'):
        RedisClientTransport('svc', noop_metrics, protocol_version=4, backend_layer_kwargs=HOSTS)


def test_direct_construction_and_settings_build_equal_options() -> None:
    kwargs: dict[str, Any] = {
        'backend_layer_kwargs': {**HOSTS, 'redis_db': 2},
        'queue_capacity': 7,
        'maximum_message_size_in_bytes': 600_000,
        'chunk_messages_larger_than_bytes': 102_400,
    }
    validated = RedisServerTransportSchema.errors(kwargs)
    assert not validated
    transport = RedisServerTransport('svc', noop_metrics, **kwargs)
    assert transport.core.options == ServerTransportOptions(**kwargs)
    assert transport.core.options.backend_layer_kwargs == {**HOSTS, 'connection_kwargs': {'db': 2}}


def test_the_1x_attribute_names_read_the_options_and_may_be_overridden_per_core() -> None:
    core = RedisTransportClientCore(
        backend_layer_kwargs=HOSTS, receive_timeout_in_seconds=3, default_serializer_config={'object': JSONSerializer}
    )
    assert core.receive_timeout_in_seconds == 3 == core.options.receive_timeout_in_seconds
    assert core.default_serializer_config == {'object': JSONSerializer}
    assert isinstance(core.default_serializer, JSONSerializer)
    assert core.protocol_version is ProtocolVersion.VERSION_3 and core.chunk_messages_larger_than_bytes == -1
    core.receive_timeout_in_seconds = 1  # as a 1.x test may shorten a wait
    assert core.receive_timeout_in_seconds == 1
    assert core.options.receive_timeout_in_seconds == 3
    assert RedisTransportClientCore(backend_layer_kwargs=HOSTS).receive_timeout_in_seconds == 5
    server = RedisTransportServerCore(
        backend_layer_kwargs=HOSTS, chunk_messages_larger_than_bytes=200_000, maximum_message_size_in_bytes=10**6
    )
    assert server.chunk_messages_larger_than_bytes == 200_000
