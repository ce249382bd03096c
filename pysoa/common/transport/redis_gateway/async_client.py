"""The asyncio side of a `RedisClientTransport`: requests sent and responses received as coroutines, no thread.

`AsyncRedisClientTransport.for_transport(transport)` is the side of one transport on the running loop. Its requests
go out like the blocking transport's (same envelope, signing, size limits, queue-full back-off, metrics) and name
one reply queue, the transport's for this loop (`service.<name>.<client id>!<loop mark>`). One reader task pops
that queue while any response is awaited, and hands each response to the task that sent its request:

- each task has its own awaited request ids, as each thread has in the blocking transport, and
  `receive_response_message` gives the calling task the next response to one of them (or `(None, None, None)` when
  it awaits none);
- a second response to a request, or one to a request given up on (`abandon`, or expired), is dropped and counted
  (`client.transport.redis_gateway.receive.error.unexpected_response`), as is one naming a request nobody here sent:
  a response is never handed to a task that did not send its request;
- every wait is bounded: a send by the caller's timeout (`MessageSendError` when Redis does not answer), a receive
  by what the send left of it (`MessageReceiveTimeout`; see `response_wait`), and the reader's BLPOP by its own
  timeout plus `POP_MARGIN_SECONDS`, so neither a frozen Redis nor a full queue can hold a caller past its timeout
  (the transport's receive timeout for a call without one).

On Sentinel, the reader also sends again a request that a failover lost (`async_failover_resend`).
"""

import asyncio
import collections
import copy
import itertools
import logging
import os
import time
import weakref
from collections.abc import Iterable
from typing import Any, TypeAlias

import redis.asyncio

from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS
from pysoa.common.transport import errors
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.redis_gateway import envelope, reporting, response_wait
from pysoa.common.transport.redis_gateway.async_failover_resend import AsyncFailoverResend
from pysoa.common.transport.redis_gateway.backend import async_commands
from pysoa.common.transport.redis_gateway.backend.async_commands import DRAIN_COUNT
from pysoa.common.transport.redis_gateway.backend.async_rings import ASYNC_BACKEND_TYPES, AsyncRing, ring_for
from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.registry import BACKEND_CLASSES
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.constants import POP_MARGIN_SECONDS
from pysoa.common.transport.redis_gateway.core import RedisTransportClientCore
from pysoa.common.transport.redis_gateway.failover_resend import is_markable
from pysoa.common.transport.redis_gateway.framing import locate_payload
from pysoa.common.transport.redis_gateway.queue_full import queue_full_error

__all__ = ('AsyncRedisClientTransport', 'serves_natively')

_logger = logging.getLogger(__name__)

_PRUNE_SECONDS = 1.0
"""How often a busy reader forgets requests that expired unanswered (an idle one does it at each empty pop)."""

_IDLE_POP_SECONDS = 1.0
"""The BLPOP timeout of a reader while responses are awaited but no task is waiting for one yet."""

_RETRY_SECONDS = 0.1
"""How long the reader waits before trying Redis again after a failure (no tight loop while Redis is down)."""

_Outcome = ReceivedMessage | BaseException

_loop_numbers = itertools.count(1)


def serves_natively(transport: object) -> bool:
    """Whether `transport` is a plain `RedisClientTransport` that this module can drive on a loop.

    A subclass that changes how messages are sent or received, a stand-in core or backend (1.x tests set them), or
    a backend type without an asyncio ring is not: its calls keep running whole in a thread.
    """
    if not isinstance(transport, RedisClientTransport):
        return False
    kind = type(transport)
    if (
        kind.send_request_message is not RedisClientTransport.send_request_message
        or kind.receive_response_message is not RedisClientTransport.receive_response_message
    ):
        return False
    core = transport.__dict__.get('core')
    if type(core) is not RedisTransportClientCore or core.backend_type not in ASYNC_BACKEND_TYPES:
        return False
    backend = core.__dict__.get('_backend_layer')
    return backend is None or type(backend) in BACKEND_CLASSES.values()


class _TaskState:
    """What one task awaits: request ids with their expiry, and responses that arrived for it."""

    __slots__ = ('awaited', 'ready', 'slow_sends', 'waiter')

    def __init__(self) -> None:
        self.awaited: dict[int, float] = {}  # request id -> when it expires (Unix seconds)
        self.ready: dict[int, _Outcome] = {}  # arrived, not yet handed out, in arrival order
        self.slow_sends: dict[int, float] = {}  # awaited, sent without a timeout -> seconds its send took, if long
        self.waiter: asyncio.Future[None] | None = None

    def stop_awaiting(self, request_id: int) -> None:
        """Answered, given up on or expired: no longer awaited, nor its send's time counted."""
        self.awaited.pop(request_id, None)
        if self.slow_sends:
            self.slow_sends.pop(request_id, None)

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


_SidesByLoop: TypeAlias = 'weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncRedisClientTransport]'


class AsyncRedisClientTransport:
    """Sends requests and receives responses for one `RedisClientTransport` on one event loop."""

    _sides: 'weakref.WeakKeyDictionary[RedisClientTransport, _SidesByLoop]'
    _sides = weakref.WeakKeyDictionary()

    def __init__(self, transport: RedisClientTransport, loop: asyncio.AbstractEventLoop) -> None:
        self.service_name = transport.service_name
        self.core = transport.core
        self.metrics = transport.metrics
        self._send_queue_key = self.core.QUEUE_NAME_PREFIX + transport._send_queue_name
        # A mark no thread id takes (12 hex digits there), and no other loop of this process or of a forked one.
        self.reply_queue_name = f'{transport._receive_queue_name}loop{os.getpid():x}.{next(_loop_numbers)}'
        self._reply_queue_key = self.core.QUEUE_NAME_PREFIX + self.reply_queue_name
        self._ring: AsyncRing | None = None
        self._tasks: weakref.WeakKeyDictionary[asyncio.Task[Any], _TaskState] = weakref.WeakKeyDictionary()
        self._owners: dict[int, _TaskState] = {}  # awaited request id -> the state of the task that sent it
        self._pruned_at = time.monotonic()
        self._reader: asyncio.Task[None] | None = None
        self._buffer: collections.deque[object] = collections.deque()  # replies taken and not yet handed out
        self._waiting_until: dict[_TaskState, float] = {}  # tasks blocked in a receive -> their monotonic deadline
        self._resend = AsyncFailoverResend(self.core, self.reply_queue_name)

    @classmethod
    def for_transport(cls, transport: RedisClientTransport) -> 'AsyncRedisClientTransport':
        """The side of `transport` on the running loop, made on first use there."""
        loop = asyncio.get_running_loop()
        by_loop = cls._sides.get(transport)
        if by_loop is None:
            by_loop = weakref.WeakKeyDictionary()
            cls._sides[transport] = by_loop
        side = by_loop.get(loop)
        if side is None:
            side = by_loop[loop] = cls(transport, loop)
        return side

    async def _get_ring(self) -> AsyncRing:
        if self._ring is None:
            self._ring = await ring_for(self.core.backend_type, self.core.backend_layer_kwargs)
        return self._ring

    def _state(self) -> _TaskState:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError('The asyncio Redis client transport must be used from a task')
        state = self._tasks.get(task)
        if state is None:
            state = self._tasks[task] = _TaskState()
        return state

    # Sending

    async def send_request_message(
        self,
        request_id: int,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        """Send a job request; its response will be handed to the calling task. Raises as the blocking send does."""
        if request_id is None:
            raise errors.InvalidMessageError('No request ID')
        state = self._state()
        core = self.core
        meta['reply_to'] = self.reply_queue_name
        started = time.monotonic()
        elements, redis_expiry = core.encode_message(request_id, meta, body, message_expiry_in_seconds)
        expires_at = meta['__expiry__']
        deadline = started + float(message_expiry_in_seconds or core.receive_timeout_in_seconds)
        # Awaited before it is pushed: the reader may take the response before this task runs again. If the send
        # fails, it is given up on at once (a response, should the push have landed, is then dropped as late).
        state.awaited[request_id] = expires_at
        self._owners[request_id] = state
        try:
            with self.metrics.timer('client.transport.redis_gateway.send', **MICROSECOND_TIMER_KWARGS):
                pushed, attempts = await self._push(request_id, elements, redis_expiry, expires_at, deadline)
        except BaseException:
            self._give_up(state, [request_id])
            raise
        if not pushed:
            self._give_up(state, [request_id])
            queue_name = self._send_queue_key.removeprefix(core.QUEUE_NAME_PREFIX)
            raise queue_full_error(queue_name, attempts, started, core._count)
        # Unless already answered (the reader may have been quicker than this task).
        spent = response_wait.slow_send_seconds(message_expiry_in_seconds, started)
        if spent is not None and request_id in state.awaited:
            state.slow_sends[request_id] = spent

    async def _push(
        self, request_id: int, elements: bytes | list[bytes], redis_expiry: int, expires_at: float, deadline: float
    ) -> tuple[bool, int]:
        """Push the request's elements (batched with other tasks' pushes), retrying while the queue is full."""
        core, key = self.core, self._send_queue_key
        ring = await self._get_ring()
        try:
            connection = await ring.connection_within(key, deadline - time.monotonic())
            run = ring.script_runner(connection)
            marked = ring.marks_sends and is_markable(request_id)
            sent = self._resend.record(connection, key, elements, redis_expiry, expires_at) if marked else None

            async def push_once(seconds: float) -> bool:
                if sent is not None:
                    return await self._resend.push(run, sent, request_id, seconds)
                capacity = core.queue_capacity
                return await async_commands.push(
                    run, key, elements, expiry=redis_expiry, capacity=capacity, seconds=seconds
                )

            factor = core.EXPONENTIAL_BACK_OFF_FACTOR
            return await async_commands.push_while_full(
                push_once, deadline, core.queue_full_retries, factor, core._count
            )
        except CannotGetConnectionError as error:
            raise reporting.connection_failure(error, True, core._count)
        except Exception as error:
            core._count('send.error.transient')
            raise reporting.transport_failure(error, True, self.service_name, core._count, ring.reset_clients)

    # Receiving

    def requests_outstanding(self) -> int:
        """How many responses the calling task still awaits (or has arrived for it and not yet taken)."""
        state = self._state()
        self._expire(state)
        return len(state.awaited) + len(state.ready)

    async def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        """The next response awaited by the calling task, in arrival order; `(None, None, None)` when it awaits none.

        Raises `MessageReceiveTimeout` when none arrives within the timeout (the transport's when None, less the
        time a slow send took) or by just after the awaited requests expire, and the error that stopped the reader
        (`MessageReceiveError`) or made its response unreadable.
        """
        state = self._state()
        if not state.ready:
            self._expire(state)
            if not state.awaited:
                return ReceivedMessage(None, None, None)
            timeout = self._wait_seconds(state, receive_timeout_in_seconds)
            with self.metrics.timer('client.transport.redis_gateway.receive', **MICROSECOND_TIMER_KWARGS):
                await self._wait(state, timeout)
        request_id = next(iter(state.ready))
        outcome = state.ready.pop(request_id)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _wait_seconds(self, state: _TaskState, receive_timeout_in_seconds: float | None) -> float:
        """The caller's timeout, else the transport's less a slow send's time; never past the requests' expiry."""
        timeout = float(receive_timeout_in_seconds or self.core.receive_timeout_in_seconds)
        if not receive_timeout_in_seconds:
            timeout -= response_wait.send_seconds(state.awaited, state.slow_sends)
        left = response_wait.seconds_left(state.awaited)
        return max(timeout if left is None else min(timeout, left), 0.01)

    async def _wait(self, state: _TaskState, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiting_until[state] = time.monotonic() + timeout
        self._ensure_reader()
        waiter = state.waiter = loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            if not state.ready:
                self.core._count('receive.error.timeout')
                raise errors.MessageReceiveTimeout(f'No message received for service {self.service_name}') from None
        finally:
            state.waiter = None
            self._waiting_until.pop(state, None)

    def abandon(self, request_ids: Iterable[int]) -> None:
        """Stop awaiting `request_ids` for the calling task: a response to one of them is now dropped as late."""
        self._give_up(self._state(), request_ids)

    def _give_up(self, state: _TaskState, request_ids: Iterable[int]) -> None:
        for request_id in request_ids:
            state.stop_awaiting(request_id)
            state.ready.pop(request_id, None)
            self._resend.forget(request_id)
            if self._owners.get(request_id) is state:
                del self._owners[request_id]

    def _expire(self, state: _TaskState) -> None:
        """Forget the calling task's awaited requests that have expired: nobody may wait for their responses."""
        now = time.time()
        for request_id in [key for key, expires_at in state.awaited.items() if expires_at < now]:
            state.stop_awaiting(request_id)
            self._owners.pop(request_id, None)

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(
                self._read(), name=f'pysoa-replies-{self.service_name}'
            )
            self._reader.add_done_callback(self._reader_done)

    def _reader_done(self, reader: 'asyncio.Task[None]') -> None:
        if reader.cancelled():
            return
        error = reader.exception()
        if error is not None:
            # A defect: say so, and tell the tasks waiting now instead of leaving them to their timeouts.
            _logger.error('The reply reader of service %s failed', self.service_name, exc_info=error)
            self._fail_waiting(errors.MessageReceiveError(f'Reply reader failed: {error!r}'), stopped=True)

    async def _read(self) -> None:
        """Pop the reply queue while any response is awaited, handing each response to its task."""
        while self._owners or self._buffer:  # what was taken is handed out (or dropped and counted) even so
            pop_timeout = self._resend.pop_timeout(self._pop_timeout())
            try:
                ring = await self._get_ring()
                connection = await ring.connection_within(self._reply_queue_key, pop_timeout + POP_MARGIN_SECONDS)
                element = await self._next_element(connection, pop_timeout)
                if element is None:
                    self._prune()
                    await self._resend.look_if_due(ring, self._owners)
                    continue
                outcome = await self._decode(connection, element, pop_timeout)
            except CannotGetConnectionError as error:
                self._fail_waiting(reporting.connection_failure(error, False, self.core._count))
            except Exception as error:
                self.core._count('receive.error.transient')
                reset = self._ring.reset_clients if self._ring is not None else _nothing
                failure = reporting.transport_failure(error, False, self.service_name, self.core._count, reset)
                self._fail_waiting(failure)
            else:
                self._deliver(outcome)
                if time.monotonic() - self._pruned_at > _PRUNE_SECONDS:
                    self._prune()
                await self._resend.look_if_due(ring, self._owners)
                continue
            # Redis is down or moving: the tasks waiting now were told; the next ones wait for a retry.
            self._prune()
            await asyncio.sleep(_RETRY_SECONDS)
            if self._ring is not None:
                await self._resend.look(self._ring, self._owners)  # the master may have moved: look at once

    async def _next_element(self, connection: redis.asyncio.Redis, timeout: float) -> object:
        """The next reply: one taken earlier, else one popped (waiting up to `timeout`); None if none came.

        When one is popped and more responses are awaited, those already waiting are taken too, in one command.
        """
        if self._buffer:
            return self._buffer.popleft()
        limit = timeout + POP_MARGIN_SECONDS
        element = await async_commands.pop(connection, self._reply_queue_key, timeout, limit)
        if element is not None and len(self._owners) > 1:
            self._buffer.extend(await async_commands.drain(connection, self._reply_queue_key, DRAIN_COUNT, limit))
        return element

    def _pop_timeout(self) -> float:
        """Long enough for the longest wait under way: Redis silent past it means it cannot answer in time."""
        if not self._waiting_until:
            return _IDLE_POP_SECONDS
        return max(0.01, max(self._waiting_until.values()) - time.monotonic())

    async def _decode(self, connection: redis.asyncio.Redis, element: object, pop_timeout: float) -> _Outcome:
        """The received message (or why it cannot be read), having popped the rest of a chunked response."""
        rest: list[object] = []
        if isinstance(element, bytes):
            try:
                chunks = int(locate_payload(element)[1].get('chunk-count', 1))
            except ValueError:
                chunks = 1  # unreadable: the decoder below says why
            for _ in range(chunks - 1):
                rest.append(await self._next_element(connection, pop_timeout))
        pending = iter(rest)
        try:
            received = self.core._decode(element, lambda: next(pending, None))
            if received.meta and received.meta.get('signed') is False:
                self.core._count(
                    'receive.unsigned'
                )  # verify-optional mode: traffic that must sign before it is required
            return received
        except (envelope.MessageExpiredError, envelope.UnreadableMessageError, envelope.InvalidEnvelopeError) as error:
            reporting.report_refused_message(error, self.service_name, self.core._count)
            return error
        except errors.InvalidMessageError as error:
            return error

    def _deliver(self, outcome: _Outcome) -> None:
        request_id = getattr(outcome, 'request_id', None) if isinstance(outcome, BaseException) else outcome[0]
        state = self._owners.pop(request_id, None) if isinstance(request_id, int) else None
        if state is not None and request_id is not None:
            state.stop_awaiting(request_id)
            self._resend.forget(request_id)
            state.ready[request_id] = outcome
            state.wake()
            return
        self.core._count('receive.error.unexpected_response')
        if isinstance(outcome, BaseException):
            _logger.warning('Dropped an unreadable response from service %s: %s', self.service_name, outcome)
        else:
            _logger.warning(
                'Dropped a response to request %r from service %s: it was already answered, given up on or never sent',
                request_id,
                self.service_name,
            )

    def _fail_waiting(self, error: errors.TransientPySOATransportError, stopped: bool = False) -> None:
        """Give the reader's failure to every task waiting now (their requests stay awaited for a later receive).

        While requests a failover could lose are awaited and the reader goes on, only to those whose wait ends before
        its next try: the master may be moving, and their answers can still come from the new one in time (as for
        blocking calls).
        """
        soon = time.monotonic() + 2 * _RETRY_SECONDS if self._resend.watching and not stopped else None
        for state, until in list(self._waiting_until.items()):
            if soon is not None and until > soon:
                continue
            if state.waiter is not None and not state.waiter.done():
                # A copy each: one exception raised in several tasks would collect all their tracebacks.
                state.waiter.set_exception(copy.copy(error))

    def _prune(self) -> None:
        """Forget requests that expired unanswered (their tasks may be gone without giving them up): nobody may
        wait for their responses, which are dropped and counted if they still come."""
        self._pruned_at = time.monotonic()
        now = time.time()
        owners = self._owners
        for request_id in [key for key, state in owners.items() if state.awaited.get(key, now) < now]:
            owners.pop(request_id).stop_awaiting(request_id)


def _nothing() -> None:
    return None
