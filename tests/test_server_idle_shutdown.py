"""SIGTERM while a worker waits in BLPOP: it serves at most the one request that wait brings, then exits."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import redis

from pysoa.client.client import Client
from pysoa.test.waiting import wait_until
from tests.paths import PROJECT_ROOT

SERVICE = 'idle_worker'
QUEUE = f'pysoa:service.{SERVICE}'

WORKER_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from pysoa.common.transport.redis_gateway.server import RedisServerTransport
    from pysoa.common.types import ActionResponse
    from pysoa.server.server import Server

    class MarkedTransport(RedisServerTransport):
        def receive_request_message(self):
            print('receiving', flush=True)  # from here on, this receive happens whatever signal comes
            return super().receive_request_message()

    def echo(settings):
        return lambda request: ActionResponse(action=request.action, body=dict(request.body))

    class IdleServer(Server):
        service_name = 'idle_worker'
        action_class_map = {'echo': echo}

    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    IdleServer(IdleServer.settings_class({
        'transport': {
            'path': '__main__:MarkedTransport',
            'kwargs': {
                'backend_type': 'redis.standard',
                'backend_layer_kwargs': {'hosts': [sys.argv[1]]},
                # Long, so that the test can tell "exited after the one request" from "waited out another receive".
                'receive_timeout_in_seconds': 30,
            },
        },
    })).run()
    """
)


def test_sigterm_while_idle_serves_the_one_request_the_pending_receive_brings_then_exits(
    redis_url: str, tmp_path: Path
) -> None:
    connection = redis.Redis.from_url(redis_url)
    log_path = tmp_path / 'worker.log'
    with open(log_path, 'w') as log:
        worker = subprocess.Popen(
            [sys.executable, '-c', WORKER_SCRIPT, redis_url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, 'PYTHONPATH': os.pathsep.join([str(PROJECT_ROOT), *sys.path])},
        )
    try:
        assert wait_until(lambda: 'receiving' in log_path.read_text(), timeout=20), log_path.read_text()

        worker.send_signal(signal.SIGTERM)
        assert wait_until(lambda: 'shutting down after the current job' in log_path.read_text(), timeout=10)
        signalled = time.monotonic()
        client = Client(
            {
                SERVICE: {
                    'transport': {
                        'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
                        'kwargs': {'backend_type': 'redis.standard', 'backend_layer_kwargs': {'hosts': [redis_url]}},
                    },
                },
            },
        )
        first = client.call_action_future(SERVICE, 'echo', {'n': 1}, timeout=20)
        client.call_action_future(SERVICE, 'echo', {'n': 2}, timeout=20)

        assert worker.wait(timeout=20) == 0, log_path.read_text()
        assert time.monotonic() - signalled < 20  # it did not start another 30-second receive
        assert first.result().body == {'n': 1}
        assert connection.llen(QUEUE) == 1  # the second request is left for another worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        connection.close()
