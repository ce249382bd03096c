"""A worker logs a Redis outage at WARNING, then at ERROR once it has lasted `ERROR_AFTER_SECONDS` (issue 10).

A real server transport on a Redis of the test's own that it stops; the threshold (10 s) is lowered to 1 s so that
the test need not wait ten seconds: the rule is the same.
"""

import logging
import threading
import time
from typing import Any

import pytest

from pysoa.server import worker
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.test.redis_server import RedisServerProcess, find_redis_server_binary
from pysoa.test.waiting import wait_until
from tests.ci import unavailable


class _Outaged(Server):
    service_name = 'outage'
    action_class_map: dict[str, Any] = {}


class _NoAlarm:
    def arm(self) -> None:
        return None


def test_a_worker_logs_an_outage_at_warning_then_at_error_while_it_lasts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    binary = find_redis_server_binary()
    if binary is None:
        unavailable('no redis-server')
    redis_server = RedisServerProcess(binary=binary).start(timeout=10)
    url = redis_server.url
    redis_server.stop()  # the outage: nothing listens there any more

    assert worker.ERROR_AFTER_SECONDS == 10.0  # what operators get
    monkeypatch.setattr(worker, 'ERROR_AFTER_SECONDS', 1.0)
    settings = {
        'transport': {
            'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
            'kwargs': {'backend_layer_kwargs': {'hosts': [url]}, 'receive_timeout_in_seconds': 1},
        },
    }
    server = _Outaged(ServerSettings(settings))
    caplog.set_level(logging.WARNING)
    outage_records = []

    def outage_lines() -> list[logging.LogRecord]:
        outage_records[:] = [
            r for r in caplog.records if r.getMessage().startswith('Transient error from the transport')
        ]
        return outage_records

    loop = threading.Thread(target=server._loop, args=(_NoAlarm(),), daemon=True)
    started = time.monotonic()
    loop.start()
    try:
        # Bounded: the back-off before each attempt is at most 2.25 s, so the first ERROR comes within ~4 s.
        assert wait_until(lambda: any(r.levelno == logging.ERROR for r in outage_lines()), 15), [
            (r.levelname, r.getMessage()) for r in outage_lines()
        ]
    finally:
        server.shutting_down = True
        loop.join(timeout=10)
    assert not loop.is_alive()

    levels = [record.levelno for record in outage_records]
    first_error = levels.index(logging.ERROR)
    assert first_error >= 1 and set(levels[:first_error]) == {logging.WARNING}  # WARNING first, ERROR after
    assert time.monotonic() - started >= 1.0
    assert 'MessageReceiveError' in outage_records[0].getMessage()  # the error is named
