"""1.x test suites replace `redis.sentinel.Sentinel` with a stand-in; the Sentinel backend then drives it the 1.x way.

Such suites mock `master_for` (counting its calls across failover retries) and `sentinel_masters`, and hand out
test doubles for the masters; the backend must ask exactly those and use what they return, without the failover
guard (a double has nothing to replicate).
"""

from typing import Any
from unittest import mock

import pytest
import redis
import redis.sentinel

from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient


class _Master:
    """A master double, as 1.x suites make them: no `execute_command`, only what they use."""

    def __init__(self, name: str) -> None:
        self.name = name


class _StandInSentinel:
    masters = {'service1': _Master('service1'), 'service2': _Master('service2')}

    def __init__(self, *_: Any, **__: Any) -> None:
        sentinel = mock.Mock(spec=['sentinel_masters'])
        sentinel.sentinel_masters.return_value = {name: {} for name in self.masters}
        self.sentinels = [sentinel]

    def master_for(self, service: str) -> _Master:
        return self.masters[service]


def test_a_stand_in_sentinel_names_the_services_and_hands_out_its_masters() -> None:
    with mock.patch('redis.sentinel.Sentinel', new=_StandInSentinel):
        client = SentinelRedisClient(hosts=[('169.254.7.12', 26379)])
        connections = {client.get_connection(f'queue-{n}') for n in range(20)}

    assert connections == set(_StandInSentinel.masters.values())
    # Nothing to confirm on a double: a request taken there is run.
    assert all(client.confirm_taken(connection) for connection in connections)  # type: ignore[arg-type]


@pytest.mark.parametrize(('retries', 'calls'), [(0, 1), (2, 3)])
def test_a_master_the_stand_in_cannot_name_is_asked_for_once_per_retry(retries: int, calls: int) -> None:
    with mock.patch('redis.sentinel.Sentinel') as sentinel_class:
        sentinel_class.return_value.master_for.return_value = _Master('service1')
        client = SentinelRedisClient(
            hosts=[('169.254.7.12', 26379)], sentinel_services=['service1'], sentinel_failover_retries=retries
        )
        assert client.get_connection('queue') is sentinel_class.return_value.master_for.return_value
        client.reset_clients()
        sentinel_class.return_value.master_for.reset_mock()
        sentinel_class.return_value.master_for.side_effect = redis.sentinel.MasterNotFoundError

        with pytest.raises(CannotGetConnectionError):
            client.get_connection('queue')

    assert sentinel_class.return_value.master_for.call_count == calls
    assert sentinel_class.return_value.master_for.call_args[0] == ('service1',)
