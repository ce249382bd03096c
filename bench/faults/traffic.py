"""Steady traffic to the `faults` service: client threads, each with its own `Client`, one call after another.

Every call gets a unique id (`uid`, in the body) and is recorded: when it started and ended, how it ended, and
whether its request was accepted by Redis (the client middleware below sees the send return). A response the
client transport drops as a second answer is traced back to its call through the same middleware, from the
transport's log line. Each thread's loop is bounded in count, each call in time by its timeout.
"""

import dataclasses
import logging
import threading
import time
from typing import Any

from pysoa.client import Client
from pysoa.client.errors import CallActionError, CallJobError
from pysoa.client.middleware import ClientMiddleware, ClientRequestMiddlewareTask
from pysoa.common.transport.errors import (
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    PySOATransportError,
)
from pysoa.common.types import JobRequest

__all__ = ('Call', 'DROPPED', 'REPLY_QUEUES', 'RESENT', 'SENT', 'Traffic', 'count_dropped_responses')

SENT: dict[tuple[int, int], str] = {}
"""(thread ident, request id) -> uid, for every request whose send returned (the request is in Redis)."""

REPLY_QUEUES: dict[int, str] = {}
"""thread ident -> the reply queue its requests name."""

DROPPED: list[str] = []
"""The uid of every response the client transport dropped as already answered or given up on."""

RESENT: list[str] = []
"""The uid of every request the client transport sent again because a Sentinel failover had lost it."""

_lock = threading.Lock()


class RecordSends(ClientMiddleware):
    """Records which uid each request id stands for, once the send has returned."""

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        def send(request_id: int, meta: dict[str, Any], job: JobRequest, expiry: int | None) -> None:
            send_request(request_id, meta, job, expiry)
            ident = threading.get_ident()
            with _lock:
                SENT[(ident, request_id)] = job.actions[0].body['uid']
                REPLY_QUEUES[ident] = meta.get('reply_to', '')

        return send


class _DroppedResponses(logging.Handler):
    """Turns the transport's 'Dropped a response to request N' warnings into uids."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith('Dropped a response to request') and record.args:
            request_id = record.args[0] if isinstance(record.args, tuple) else None
            with _lock:
                uid = SENT.get((record.thread or 0, request_id))  # type: ignore[arg-type]
                DROPPED.append(uid or f'unknown:{request_id}')


class _ResentRequests(logging.Handler):
    """Turns the transport's 'Sent request N to service S again' warnings (after a failover) into uids."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith('Sent request') and isinstance(record.args, tuple) and record.args:
            with _lock:
                uid = SENT.get((record.thread or 0, record.args[0]))  # type: ignore[arg-type]
                RESENT.append(uid or f'unknown:{record.args[0]}')


def count_dropped_responses() -> None:
    """From now on, count the responses the client transport drops (in `DROPPED`) and the requests it sends again
    after a failover (in `RESENT`) instead of printing them."""
    for name, handler_class in (
        ('pysoa.common.transport.redis_gateway.client', _DroppedResponses),
        ('pysoa.common.transport.redis_gateway.failover_resend', _ResentRequests),
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(handler, handler_class) for handler in logger.handlers):
            logger.addHandler(handler_class(logging.WARNING))
        logger.setLevel(logging.WARNING)
        logger.propagate = False


@dataclasses.dataclass
class Call:
    """One call of `work`, as its caller saw it."""

    uid: str
    timeout: float
    started: float
    ended: float = 0.0
    outcome: str = ''  # response, send_error, timeout, transport_error, job_error, other
    detail: str = ''
    pid: int = 0

    @property
    def elapsed(self) -> float:
        return self.ended - self.started


def client_settings(transport_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Settings of the `faults` service for a `Client`, with the recording middleware."""
    return {
        'transport': {
            'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
            'kwargs': transport_kwargs,
        },
        'middleware': [{'path': 'bench.faults.traffic:RecordSends'}],
    }


def _outcome(error: Exception) -> str:
    if isinstance(error, (MessageSendError, MessageSendTimeout)):
        return 'send_error'
    if isinstance(error, MessageReceiveTimeout):
        return 'timeout'
    if isinstance(error, PySOATransportError):
        return 'transport_error'
    if isinstance(error, (CallActionError, CallJobError)):
        return 'job_error'
    return 'other'


class Traffic:
    """`threads` callers of `work` (`work_seconds` each) with `timeout` (None: the transport's receive timeout)."""

    def __init__(
        self,
        name: str,
        transport_kwargs: dict[str, Any],
        *,
        threads: int,
        timeout: float | None,
        bound: float,
        work_seconds: float,
        max_calls_per_thread: int = 5000,
    ) -> None:
        self.name = name
        self.settings = client_settings(transport_kwargs)
        self.threads = threads
        self.timeout = timeout
        self.bound = bound  # the wait a caller was promised: its timeout, else the transport's receive timeout
        self.work_seconds = work_seconds
        self.max_calls = max_calls_per_thread
        self.calls: list[Call] = []
        self.stop = threading.Event()
        self.sweep = threading.Event()
        self.idents: list[int] = []
        self.failures: list[str] = []
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def answered(self) -> int:
        return sum(1 for call in self.calls if call.outcome == 'response')

    def _call(self, client: Client, uid: str, record: bool) -> Call:
        call = Call(uid, self.bound, time.monotonic())
        if record:
            with _lock:
                self.calls.append(call)
        try:
            response = client.call_action(
                'faults', 'work', {'uid': uid, 'seconds': self.work_seconds}, timeout=self.timeout
            )
            call.outcome, call.pid = 'response', response.body['pid']
        except Exception as error:  # every way a call can end is counted; none ends the thread
            call.outcome, call.detail = _outcome(error), f'{type(error).__name__}: {error}'[:200]
        call.ended = time.monotonic()
        return call

    def _run(self, number: int) -> None:
        try:
            self._loop(number)
        except Exception as error:  # reported with the row: a caller that cannot run makes the run meaningless
            self.failures.append(f'caller {number}: {type(error).__name__}: {error}'[:300])

    def _loop(self, number: int) -> None:
        client = Client({'faults': self.settings})
        with _lock:
            self.idents.append(threading.get_ident())
        for n in range(self.max_calls):
            if self.stop.is_set():
                break
            call = self._call(client, f'{self.name}-{number}-{n}', record=True)
            if call.outcome != 'response':
                self.stop.wait(0.1)  # a failing Redis refuses at once: pace the retries
        # The sweep: one last call once the service has drained, which reads (and so counts) any response still
        # waiting on this thread's reply queue, a second one included.
        if self.sweep.wait(120):
            self._call(client, f'{self.name}-{number}-sweep', record=False)

    def join_calls(self, timeout: float) -> bool:
        """Wait until no caller is in a call (each ends its current one, bounded by its timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with _lock:
                if all(call.ended for call in self.calls):
                    return True
            time.sleep(0.05)
        return False

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.1))
        return not any(thread.is_alive() for thread in self._threads)
