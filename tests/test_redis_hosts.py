"""`parse_hosts`, the one reading of the `hosts` setting, and what the transports and backends make of it."""

from typing import Any

import pytest

from pysoa.common.transport.redis_gateway.backend.hosts import parse_hosts
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.backend.standard import StandardRedisClient
from pysoa.common.transport.redis_gateway.options import ClientTransportOptions, ServerTransportOptions


def test_every_form_of_host() -> None:
    hosts = ['plain', ('pair', 7000), ['listpair', 7001], 'redis://u:p@urlhost:7002/3', 'rediss://t:1', 'unix:///s']
    assert parse_hosts(hosts, 6379) == [
        ('plain', 6379),
        ('pair', 7000),
        ('listpair', 7001),  # settings from JSON or YAML cannot hold tuples
        'redis://u:p@urlhost:7002/3',
        'rediss://t:1',
        'unix:///s',
    ]


def test_without_urls_every_string_is_a_host_name() -> None:
    assert parse_hosts(['redis://x', 'y'], 26379, urls=False) == [('redis://x', 26379), ('y', 26379)]


def test_no_hosts() -> None:
    assert parse_hosts(None, 6379) == []
    assert parse_hosts([], 6379) == []
    assert parse_hosts(iter([('a', 1)]), 6379) == [('a', 1)]


@pytest.mark.parametrize('hosts', ['redis://localhost:1234/0', b'host', 6379])
def test_hosts_must_be_a_collection(hosts: Any) -> None:
    with pytest.raises(ValueError, match='iterable of hosts'):
        parse_hosts(hosts, 6379)


@pytest.mark.parametrize('entry', [1234, ('host', 'port'), ('host', 1, 2), ('host', True), (5, 5), None, b'x'])
def test_a_bad_entry_is_named(entry: Any) -> None:
    with pytest.raises(ValueError, match='Sentinel `hosts` entry must be a host name \\(port 26379\\)') as error:
        parse_hosts(['fine', entry], 26379, urls=False, what='Sentinel')
    assert repr(entry) in str(error.value)
    assert 'URL' not in str(error.value)
    with pytest.raises(ValueError, match='URL'):
        parse_hosts([entry], 6379)


def test_the_transport_options_read_hosts_with_the_backend_s_default_port_or_redis_port() -> None:
    standard = ClientTransportOptions(backend_layer_kwargs={'hosts': ['a', 'redis://b:1/0', ['c', 2]]})
    assert standard.backend_layer_kwargs == {'hosts': [('a', 6379), 'redis://b:1/0', ('c', 2)]}
    ported = ServerTransportOptions(backend_layer_kwargs={'hosts': ['a', ('c', 2)], 'redis_port': 7, 'redis_db': 3})
    assert ported.backend_layer_kwargs == {'hosts': [('a', 7), ('c', 2)], 'connection_kwargs': {'db': 3}}
    sentinel = ClientTransportOptions(backend_type='redis.sentinel', backend_layer_kwargs={'hosts': ['s', 'redis://x']})
    assert sentinel.backend_layer_kwargs == {'hosts': [('s', 26379), ('redis://x', 26379)]}


def test_bad_hosts_stop_the_transport_at_construction_whatever_the_backend() -> None:
    for backend_type in ('redis.standard', 'redis.sentinel'):
        with pytest.raises(ValueError, match="\\('host', 'port'\\)"):
            ClientTransportOptions(backend_type=backend_type, backend_layer_kwargs={'hosts': [('host', 'port')]})


def test_the_backends_read_hosts_the_same_way() -> None:
    client = StandardRedisClient(hosts=['plain', ['pair', 7000], 'redis://urlhost:7002/3'])
    pools = [client._get_connection(index).connection_pool.connection_kwargs for index in range(3)]
    assert [(p['host'], p['port']) for p in pools] == [('plain', 6379), ('pair', 7000), ('urlhost', 7002)]
    assert [c.connection_pool.connection_kwargs['port'] for c in StandardRedisClient()._connection_list] == [6379]
    with pytest.raises(ValueError, match='Sentinel `hosts` entry'):
        SentinelRedisClient(hosts=[('s', 1.5)], sentinel_services=['m'])
    sentinel = SentinelRedisClient(hosts=['s', ('t', 1)], sentinel_services=['m'])
    assert [
        (c.connection_pool.connection_kwargs['host'], c.connection_pool.connection_kwargs['port'])
        for c in sentinel._sentinel.sentinels
    ] == [('s', 26379), ('t', 1)]
