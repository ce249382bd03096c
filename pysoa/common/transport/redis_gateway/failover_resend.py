"""A client's requests that a Sentinel failover lost, sent again to the new master (and only those).

Redis replicates asynchronously, and the Sentinels promote a replica while the old master stays up and writable
until they demote it. A request that a client pushes to the old master in that moment (before its next look at the
Sentinels, `MASTER_CHECK_SECONDS`), or just before without reaching the replica, is not on the new master, and the
old master throws it away when it is demoted: its caller would wait for an answer that cannot come.

So, on the Sentinel backend (`marks_sends`), each request is pushed by `send_marked.lua`, which also adds its id to
a sorted set beside the queue (`SENT_KEY_PREFIX` + the reply queue); a replica gets a script's writes all together or
not at all, so the new master holds the id exactly when it holds (or held) the request. While a thread waits for its
responses, it looks every `CHECK_SECONDS`, and after any Redis error, at the masters its awaited requests went to;
for each that a failover replaced, a request whose id the new master lacks is pushed there again, the same bytes,
logged and counted (`client.transport.redis_gateway.send.resent_after_failover`). Nothing runs the copy left on
the old master: a worker that takes it there finds the failover and does not run it (`failover_guard`). The asyncio
client does the same on its loop (`async_failover_resend`), with the record and the reports defined here.

A request is forgotten once answered or expired; the set drops the ids of requests no longer awaited as the thread
sends more, and expires with the queue when the thread stops sending.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar

import attrs
import redis

from pysoa.common.transport import errors
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient
from pysoa.common.transport.redis_gateway.backend.direct import time_limit
from pysoa.common.transport.redis_gateway.backend.legacy import driven
from pysoa.common.wire import expiry_of

if TYPE_CHECKING:  # at run time a mixin, before `RedisTransportCore` in the client core's bases (`core.py`)
    from pysoa.common.transport.redis_gateway.core import RedisTransportCore as _CoreBase
else:
    _CoreBase = object

__all__ = (
    'CHECK_LIMIT_SECONDS',
    'CHECK_SECONDS',
    'SENT_KEY_PREFIX',
    'FailoverResend',
    'Sent',
    'SentRequests',
    'is_markable',
    'report_resent',
    'report_unchecked',
)

_logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
"""How long a thread waits for a response on one master before it looks whether its requests' masters moved."""

SENT_KEY_PREFIX = 'pysoa:sent:'
"""Followed by a reply queue's name: the ids of the requests that reply queue's thread sent through that server."""

CHECK_LIMIT_SECONDS = 2.0
"""The longest one look at the masters (Sentinels asked, the new master asked, a request pushed) may take."""

_RETRY_SECONDS = 0.1
"""The pause after a Redis error while a thread waits for its responses, before it looks and waits again."""


Client = TypeVar('Client')
"""A master's client: blocking (`redis.Redis`) or asyncio (`redis.asyncio.Redis`)."""


@attrs.define(eq=False)
class Sent(Generic[Client]):
    """An awaited request as it was pushed, and the master client it was pushed with (the latest one)."""

    connection: Client
    queue_key: str
    sent_key: str
    elements: bytes | list[bytes]
    expiry: int
    expires_at: float


class SentRequests(Generic[Client]):
    """Awaited requests that went to a master that a failover may replace, by request id."""

    def __init__(self) -> None:
        self.sent: dict[int, Sent[Client]] = {}

    def prune(self, now: float) -> None:
        for request_id in [key for key, sent in self.sent.items() if sent.expires_at < now]:
            del self.sent[request_id]  # expired: no worker runs it any more, so it is never sent again

    def forget_below(self, request_id: int) -> int:
        """The lowest id still awaited (`request_id` if lower): the set beside the queue keeps ids from there on."""
        return min(request_id, *self.sent) if self.sent else request_id


class _Outbox(SentRequests[redis.Redis], threading.local):
    """The calling thread's requests (each thread waits for its own responses, on its own reply queue)."""


def is_markable(request_id: object) -> TypeGuard[int]:
    """Whether `request_id` can be recorded beside the queue (the sorted set scores an integer id)."""
    return isinstance(request_id, int) and not isinstance(request_id, bool)


def report_resent(service_name: str, request_id: int, count: Callable[[str], None]) -> None:
    """Log and count a request sent again to the master that replaced the one it went to."""
    count('send.resent_after_failover')
    _logger.warning(
        'Sent request %s to service %s again: the Redis master it went to was replaced by a failover '
        'before the request reached the new master',
        request_id,
        service_name,
    )


def report_unchecked(service_name: str, request_id: int, error: BaseException) -> None:
    """Log that a look at the master of `request_id` failed (it is looked at again at the next turn)."""
    _logger.info('Could not check request %s of service %s after a failover yet: %r', request_id, service_name, error)


class FailoverResend(_CoreBase):
    """The client core's part: record each request sent through a Sentinel master, and send it again where a
    failover lost it (see the module docstring)."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._outbox = _Outbox()

    def forget_sent(self, request_id: object) -> None:
        """`request_id` is answered (or given up on): it is never sent again."""
        if is_markable(request_id):
            self._outbox.sent.pop(request_id, None)

    def _push(
        self,
        connection: redis.Redis,
        queue_key: str,
        elements: bytes | list[bytes],
        expiry: int,
        meta: dict[str, Any],
        request_id: object,
    ) -> bool:
        backend = driven(self.backend_layer)
        reply_to = meta.get('reply_to')
        if not (
            isinstance(backend, BaseRedisClient)
            and backend.marks_sends
            and is_markable(request_id)
            and isinstance(reply_to, str)
        ):
            return super()._push(connection, queue_key, elements, expiry, meta, request_id)
        outbox = self._outbox
        outbox.prune(time.time())
        sent = Sent(connection, queue_key, SENT_KEY_PREFIX + reply_to, elements, expiry, expiry_of(meta) or 0.0)
        if not self._push_marked(backend, sent, request_id, connection):
            return False
        outbox.sent[request_id] = sent
        return True

    def _push_marked(
        self, backend: BaseRedisClient, sent: Sent[redis.Redis], request_id: int, connection: redis.Redis
    ) -> bool:
        return backend.push_marked(
            connection,
            sent.queue_key,
            sent.elements,
            expiry=sent.expiry,
            capacity=self.queue_capacity,
            sent_key=sent.sent_key,
            request_id=request_id,
            forget_below=self._outbox.forget_below(request_id),
        )

    def receive_message(self, queue_name: str, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        """Wait in turns of `CHECK_SECONDS` while requests sent through a Sentinel master are awaited, looking after
        each turn (and each Redis error, until the timeout) whether a failover lost one of them."""
        if not self._outbox.sent:
            return super().receive_message(queue_name, receive_timeout_in_seconds)
        deadline = time.monotonic() + (receive_timeout_in_seconds or self.receive_timeout_in_seconds)
        while True:
            left = deadline - time.monotonic()
            try:
                return super().receive_message(queue_name, max(min(left, CHECK_SECONDS), 0.01))
            except errors.MessageReceiveTimeout:
                if left <= CHECK_SECONDS:
                    raise
            except errors.TransientPySOATransportError:
                # The master may be moving: the answer can still come from the new one within the caller's time.
                if deadline - time.monotonic() <= _RETRY_SECONDS * 2:
                    raise
                time.sleep(_RETRY_SECONDS)
            self.resend_lost(deadline)

    def resend_lost(self, deadline: float) -> None:
        """Send again, to the master that now serves its queue, each awaited request that a failover lost."""
        outbox, backend = self._outbox, driven(self.backend_layer)
        if not isinstance(backend, BaseRedisClient):
            return
        outbox.prune(time.time())
        for request_id, sent in list(outbox.sent.items()):
            seconds = min(deadline - time.monotonic(), CHECK_LIMIT_SECONDS)
            if seconds <= 0:
                return
            try:
                with time_limit(seconds):
                    resent = self._resend_if_lost(backend, sent, request_id)
            except (redis.RedisError, errors.PySOATransportError, OSError) as error:
                report_unchecked(self.service_name, request_id, error)
                continue
            if resent:
                report_resent(self.service_name, request_id, self._count)

    def _resend_if_lost(self, backend: BaseRedisClient, sent: Sent[redis.Redis], request_id: int) -> bool:
        """Whether `request_id` was pushed again, to the master that replaced the one it went to. The record follows
        the master once that master is known to hold the request; until then (an error, a full queue), the next
        look asks again."""
        current = backend.current_connection(sent.connection)
        if current is sent.connection:
            return False
        if backend.was_pushed(current, sent.sent_key, request_id):
            sent.connection = current  # the new master has it (queued, taken or answered)
            return False
        if not self._push_marked(backend, sent, request_id, current):
            return False  # the new master's queue is full
        sent.connection = current
        return True
