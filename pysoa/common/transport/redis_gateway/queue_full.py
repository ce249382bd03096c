"""Pushing onto a queue that may be full: try again after a jittered back-off, within the caller's time.

A full queue means the service is behind; waiting past the caller's deadline would only deliver a message
nobody waits for, so the attempts stop at the deadline or after the configured number of retries.
"""

import time
from collections.abc import Callable

from pysoa.common.backoff import jittered_backoff
from pysoa.common.transport.errors import QueueFullError
from pysoa.common.transport.redis_gateway.backend.direct import time_limit

__all__ = ('push_while_full', 'queue_full_error', 'retry_delay')


def retry_delay(
    attempts: int, deadline: float, retries: int, factor: float, count: Callable[[str], None]
) -> float | None:
    """How long to wait before trying again after `attempts` pushes found the queue full; None: give up (`retries`
    retries are spent, or the monotonic `deadline` would pass). Counts the retry. The blocking loop below and the
    asyncio one (`async_commands.push_while_full`) both ask this."""
    delay = jittered_backoff(attempts - 1, factor)
    if attempts > retries or time.monotonic() + delay >= deadline:
        return None
    count('send.queue_full_retry')
    count(f'send.queue_full_retry.retry_{attempts}')
    return delay


def push_while_full(
    push: Callable[[], bool],
    deadline: float,
    retries: int,
    factor: float,
    count: Callable[[str], None],
) -> tuple[bool, int]:
    """Run `push` (False: the queue was full) until it succeeds, `retries` retries are spent or the monotonic
    `deadline` would pass; return whether it was pushed and how many attempts were made.

    Each attempt runs under a time limit up to `deadline`, so a Redis that stops answering cannot hold it longer;
    what `push` raises propagates.
    """
    attempts = 0
    while True:
        attempts += 1
        with time_limit(deadline - time.monotonic()):
            if push():
                return True, attempts
        delay = retry_delay(attempts, deadline, retries, factor, count)
        if delay is None:
            return False, attempts
        time.sleep(delay)


def queue_full_error(queue_name: str, attempts: int, started: float, count: Callable[[str], None]) -> QueueFullError:
    """Count a send that gave up on a full queue and say so (`started`: when the send began, monotonic)."""
    count('send.error.redis_queue_full')
    elapsed = time.monotonic() - started
    return QueueFullError(f'Redis queue {queue_name} was full: {attempts} attempts over {elapsed:.2f} seconds')
