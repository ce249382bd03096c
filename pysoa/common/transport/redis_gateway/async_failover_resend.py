"""The asyncio client's requests that a Sentinel failover lost, sent again to the new master (and only those).

The blocking client's rule (`failover_resend`, whose docstring says why) on one loop: on a ring that marks its sends
(Sentinel), each request is pushed by `send_marked.lua`, which records its id beside the loop's reply queue on the
same master in the same step. The loop's reply reader, which waits for every task's responses, comes back at least
every `CHECK_SECONDS` while such requests are awaited, and looks then (and after each Redis error) at the masters
they went to: each request whose master a failover replaced, and whose id the new master lacks, is pushed there
again, the same bytes, logged and counted (`send.resent_after_failover`). A request is forgotten once no task
awaits it any more (answered, given up on or expired).
"""

import asyncio
import time
from collections.abc import Container

import redis
import redis.asyncio

from pysoa.common.transport import errors
from pysoa.common.transport.redis_gateway.backend import async_commands
from pysoa.common.transport.redis_gateway.backend.async_commands import ScriptRunner
from pysoa.common.transport.redis_gateway.backend.async_rings import AsyncRing
from pysoa.common.transport.redis_gateway.backend.scripts import send_marked_call
from pysoa.common.transport.redis_gateway.core import RedisTransportCore
from pysoa.common.transport.redis_gateway.failover_resend import (
    CHECK_LIMIT_SECONDS,
    CHECK_SECONDS,
    SENT_KEY_PREFIX,
    Sent,
    SentRequests,
    report_resent,
    report_unchecked,
)

__all__ = ('AsyncFailoverResend',)


class AsyncFailoverResend:
    """The requests one loop's side of a transport sent through a Sentinel master, and their re-send."""

    def __init__(self, core: RedisTransportCore, reply_queue_name: str) -> None:
        self._core = core
        self._sent_key = SENT_KEY_PREFIX + reply_queue_name
        self._requests: SentRequests[redis.asyncio.Redis] = SentRequests()
        self._looked_at = time.monotonic()

    @property
    def watching(self) -> bool:
        """Whether requests a failover could lose may still be awaited (the reader then keeps trying through errors:
        their answers can still come from the new master)."""
        return bool(self._requests.sent)

    def pop_timeout(self, timeout: float) -> float:
        """`timeout`, at most `CHECK_SECONDS` while requests are watched: the reader must come back to look."""
        return min(timeout, CHECK_SECONDS) if self._requests.sent else timeout

    def record(
        self, client: redis.asyncio.Redis, queue_key: str, elements: bytes | list[bytes], expiry: int, expires_at: float
    ) -> Sent[redis.asyncio.Redis]:
        """What `push` needs to push a request, and later to push it again."""
        return Sent(client, queue_key, self._sent_key, elements, expiry, expires_at)

    async def push(self, run: ScriptRunner, sent: Sent[redis.asyncio.Redis], request_id: int, seconds: float) -> bool:
        """Push `sent` with `run` (its client's runner) within `seconds`, recording `request_id` beside the queue;
        False, doing nothing, when the queue is full. Once pushed, it is watched until nobody awaits it."""
        self._requests.prune(time.time())
        if not await self._push_marked(run, sent, request_id, seconds):
            return False
        self._requests.sent[request_id] = sent
        return True

    async def _push_marked(
        self, run: ScriptRunner, sent: Sent[redis.asyncio.Redis], request_id: int, seconds: float
    ) -> bool:
        capacity, forget_below = self._core.queue_capacity, self._requests.forget_below(request_id)
        call = send_marked_call(
            sent.queue_key, sent.elements, sent.expiry, capacity, sent.sent_key, request_id, forget_below
        )
        return await async_commands.run_unless_full(run, call, seconds)

    def forget(self, request_id: int) -> None:
        """`request_id` is answered (or given up on): it is never sent again."""
        self._requests.sent.pop(request_id, None)

    async def look_if_due(self, ring: AsyncRing, awaited: Container[int]) -> None:
        """`look`, when watched requests have not been looked at for `CHECK_SECONDS`."""
        if self._requests.sent and time.monotonic() - self._looked_at >= CHECK_SECONDS:
            await self.look(ring, awaited)

    async def look(self, ring: AsyncRing, awaited: Container[int]) -> None:
        """Send again, to the master that now serves its queue, each watched request still `awaited` that a failover
        lost; within `CHECK_LIMIT_SECONDS` (those not looked at are at the next look)."""
        requests = self._requests
        for request_id in [key for key in requests.sent if key not in awaited]:
            del requests.sent[request_id]  # answered, given up on or expired: never sent again
        requests.prune(time.time())
        self._looked_at = time.monotonic()
        deadline = self._looked_at + CHECK_LIMIT_SECONDS
        for request_id, sent in list(requests.sent.items()):
            seconds = deadline - time.monotonic()
            if seconds <= 0:
                return
            try:
                async with asyncio.timeout(seconds):
                    resent = await self._resend_if_lost(ring, sent, request_id, deadline)
            except (redis.RedisError, errors.PySOATransportError, OSError, TimeoutError) as error:
                report_unchecked(self._core.service_name, request_id, error)
                continue
            if resent:
                report_resent(self._core.service_name, request_id, self._core._count)

    async def _resend_if_lost(
        self, ring: AsyncRing, sent: Sent[redis.asyncio.Redis], request_id: int, deadline: float
    ) -> bool:
        """Whether `request_id` was pushed again, to the master that replaced the one it went to. The record follows
        the master once that master is known to hold the request; until then (an error, a full queue), the next
        look asks again."""
        current = await ring.current_connection(sent.connection)
        if current is sent.connection:
            return False
        seconds = deadline - time.monotonic()
        if await async_commands.execute(current, 'ZSCORE', sent.sent_key, request_id, seconds=seconds) is not None:
            sent.connection = current  # the new master has it (queued, taken or answered)
            return False
        if not await self._push_marked(ring.script_runner(current), sent, request_id, deadline - time.monotonic()):
            return False  # the new master's queue is full
        sent.connection = current
        return True
