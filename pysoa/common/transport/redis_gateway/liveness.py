"""A worker's heartbeat in Redis, for at-least-once delivery: a key with a time to live on every server of the ring.

Other workers read it from any host: when it lapses, the worker is taken for dead and its in-flight requests go
back to the queue (`backend/recover.lua`). A small daemon thread refreshes it, so a long job does not make its
worker look dead; a process that is frozen or killed stops refreshing it, which is the point.
"""

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable

import redis

from pysoa.common.transport.redis_gateway.backend.direct import time_limit
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys, heartbeat

__all__ = ('WorkerHeartbeat', 'new_worker_id')

_logger = logging.getLogger(__name__)


def new_worker_id() -> str:
    """A name for this worker process that no other worker, here or on another host, has: host, PID and a nonce."""
    return f'{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}'


class WorkerHeartbeat:
    """Keeps `worker`'s heartbeat key alive on every connection `connections()` gives, until `stop()`."""

    def __init__(
        self,
        keys: DeliveryKeys,
        worker: str,
        connections: Callable[[], list[redis.Redis]],
        *,
        interval: float,
        expiry: float,
    ) -> None:
        self.keys = keys
        self.worker = worker
        self._connections = connections
        self._interval = interval
        self._ttl_milliseconds = max(1, int(expiry * 1000))
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def is_current_process(self) -> bool:
        """False in a child forked after this heartbeat was made: the child is another worker, with its own."""
        return self._pid == os.getpid()

    def ensure_running(self) -> None:
        """Beat once now (so the worker is known before it takes a request) and keep a refreshing thread running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.beat()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f'pysoa-heartbeat-{self.worker}', daemon=True)
        self._thread.start()

    def beat(self) -> bool:
        """Refresh the heartbeat on every server; False (logged) when a server could not be reached."""
        healthy = True
        try:
            # Bounded like each beat: mid-failover, finding the master retries for a while, and `stop` waits only
            # about one interval for this thread.
            with time_limit(self._interval):
                connections = self._connections()
        except Exception as error:
            # Finding the servers may itself need Redis (the Sentinels, mid-failover): the same outage, the same
            # answer. The thread must outlive it, or the worker would be taken for dead once Redis is back.
            _logger.warning('Could not find the servers to refresh the heartbeat of worker %s: %r', self.worker, error)
            return False
        for connection in connections:
            try:
                with time_limit(self._interval):  # a frozen Redis must not stall the heartbeat past its next turn
                    heartbeat(connection, self.keys, self.worker, self._ttl_milliseconds)
            except Exception as error:
                # Redis may be down for a while: keep trying, the worker loop has its own view of the outage.
                healthy = False
                _logger.warning('Could not refresh the heartbeat of worker %s: %r', self.worker, error)
        return healthy

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.beat()

    def stop(self) -> None:
        """Stop refreshing (the key then lapses by itself) and wait briefly for the thread."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._interval + 1)
