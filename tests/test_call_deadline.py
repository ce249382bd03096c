"""The whole call within its deadline (issue 10): a send that Redis holds up, plus the wait for the response, end
within the call's timeout plus 1 s, whatever Redis or the Sentinels do.

Each step had its own bound before (a push its caller's timeout, a pop its own timeout plus a margin); a send held
up for most of the timeout followed by a full wait made a call last nearly twice its timeout.
"""

import os
import signal
import threading
import time

import pytest
import redis

from pysoa.client import Client
from pysoa.common.transport.errors import TransientPySOATransportError
from pysoa.common.transport.redis_gateway.backend import sentinel as sentinel_backend
from pysoa.test.redis_server import RedisServerProcess
from tests.test_redis_sentinel import MASTER_NAME, SentinelCluster
from tests.test_sentinel_failover import cluster  # noqa: F401  # the fixture

TIMEOUT = 2.0


def _client(transport_kwargs: dict[str, object]) -> Client:
    path = 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'
    return Client({'nobody': {'transport': {'path': path, 'kwargs': transport_kwargs}}})


def _timed_call(client: Client) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        client.call_action('nobody', 'anything', timeout=TIMEOUT)
    except BaseException as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


def test_a_send_held_up_by_a_frozen_redis_leaves_the_receive_only_what_remains_of_the_timeout(
    private_redis: RedisServerProcess,
) -> None:
    # No service listens: the request is queued and nobody answers, so the call waits for its response to the end.
    client = _client({'backend_layer_kwargs': {'hosts': [private_redis.url]}})
    assert private_redis.pid is not None
    elapsed, error = _timed_call(client)  # connects, and shows what a call without trouble takes
    assert isinstance(error, TransientPySOATransportError) and elapsed < TIMEOUT + 1

    os.kill(private_redis.pid, signal.SIGSTOP)
    # Thawed three quarters into the timeout, while the push waits: it then goes through, and the wait that follows
    # may only use the quarter left.
    thaw = threading.Timer(TIMEOUT * 0.75, os.kill, (private_redis.pid, signal.SIGCONT))
    thaw.start()
    try:
        elapsed, error = _timed_call(client)
    finally:
        thaw.cancel()
        os.kill(private_redis.pid, signal.SIGCONT)
    print(
        f'send held up {TIMEOUT * 0.75:.1f} s: the call took {elapsed:.3f} s for a {TIMEOUT:.0f} s timeout ({error!r})'
    )
    assert isinstance(error, TransientPySOATransportError), error
    assert elapsed < TIMEOUT + 1
    connection = redis.Redis.from_url(private_redis.url)
    try:
        assert connection.llen('pysoa:service.nobody') >= 1  # the send did go through, late
    finally:
        connection.close()


def test_a_call_keeps_within_its_timeout_while_every_sentinel_is_frozen(
    cluster: SentinelCluster,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = _client(
        {
            'backend_type': 'redis.sentinel',
            'backend_layer_kwargs': {
                'hosts': cluster.hosts,
                'sentinel_services': [MASTER_NAME],
                'sentinel_failover_retries': 8,  # retries must stop at the deadline, too
            },
        }
    )
    elapsed, error = _timed_call(client)
    assert isinstance(error, TransientPySOATransportError) and elapsed < TIMEOUT + 1

    monkeypatch.setattr(sentinel_backend, 'MASTER_CHECK_SECONDS', 0.0)  # every call asks the Sentinels
    frozen = [sentinel.pid for sentinel in cluster.sentinels if sentinel.pid is not None]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    latencies = []
    try:
        for _ in range(3):
            latencies.append(_timed_call(client))
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    print('sentinels frozen: ' + ', '.join(f'{elapsed:.3f} s ({type(error).__name__})' for elapsed, error in latencies))
    for elapsed, error in latencies:
        assert isinstance(error, TransientPySOATransportError), error
        assert elapsed < TIMEOUT + 1
