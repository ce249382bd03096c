"""What the Redis Cluster tests share: clients of services on the cluster, and service names by master."""

from collections.abc import Iterable, Sequence
from typing import Any

from pysoa.client import Client
from pysoa.test.redis_cluster import RedisClusterProcesses
from pysoa.test.redis_server import RedisServerProcess

__all__ = ('cluster_client', 'cluster_transport_kwargs', 'names_on_distinct_masters', 'request_queue')


def cluster_transport_kwargs(hosts: Sequence[str], **extra: Any) -> dict[str, Any]:
    """Redis transport keyword arguments for the cluster at `hosts`."""
    return {'backend_type': 'redis.cluster', 'backend_layer_kwargs': {'hosts': list(hosts)}, **extra}


def cluster_client(hosts: Sequence[str], services: Iterable[str], **extra: Any) -> Client:
    """A `Client` of each of `services` on the cluster at `hosts`."""
    settings = {
        'transport': {
            'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
            'kwargs': cluster_transport_kwargs(hosts, receive_timeout_in_seconds=10, **extra),
        },
    }
    return Client({name: settings for name in services})


def request_queue(service: str) -> str:
    """The Redis key of a service's request queue on the cluster."""
    return f'pysoa:{{service.{service}}}'


def names_on_distinct_masters(cluster: RedisClusterProcesses, count: int) -> list[tuple[str, RedisServerProcess]]:
    """`count` service names whose queues live on `count` different masters, each with its master."""
    found: dict[int, tuple[str, RedisServerProcess]] = {}
    for index in range(1000):
        name = f'svc{index}'
        master = cluster.master_for_key(request_queue(name))
        found.setdefault(master.port, (name, master))
        if len(found) == count:
            return list(found.values())
    raise AssertionError(f'Could not find {count} service names on distinct masters of {cluster!r}')
