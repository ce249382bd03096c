"""How long a client waits for a response, so that a whole call, its send included, keeps within its time (issue 10).

Shared by the blocking client transport (per thread) and its asyncio side (per task). Each keeps the requests it
awaits (request id -> expiry, Unix seconds) and the slow sends among them (request id -> seconds the send took):

- a call with a timeout ends within it: the wait ends just after the last awaited request expires (`seconds_left`);
- a call without one ends within the transport's receive timeout: a slow send (a full queue, a Sentinel lookup, a
  frozen Redis) is taken off the wait for its response (`send_seconds`).
"""

import math
import time
from collections.abc import Mapping

__all__ = ('ANSWER_AT_DEADLINE_SECONDS', 'SLOW_SEND_SECONDS', 'send_seconds', 'seconds_left', 'slow_send_seconds')

ANSWER_AT_DEADLINE_SECONDS = 0.5
"""How long past its requests' expiry a wait goes on: a service that gives up at the deadline it was given (its own
calls to other services time out then) answers just after it, and that answer says why; the call still ends
within its timeout plus 1 s."""

SLOW_SEND_SECONDS = 0.05
"""A send without a timeout that took longer shortens the wait for its response by as much (see `send_seconds`)."""


def slow_send_seconds(message_expiry_in_seconds: float | None, started: float) -> float | None:
    """How long the send begun at `started` (monotonic) took, if it had no timeout and took long; else None."""
    if message_expiry_in_seconds is None and (spent := time.monotonic() - started) > SLOW_SEND_SECONDS:
        return spent
    return None


def send_seconds(awaited: Mapping[int, float], slow_sends: Mapping[int, float]) -> float:
    """The least time the send of an awaited request took (0: some request's was quick, or had a timeout).

    Taken off the transport's receive timeout when the caller gives none: a call without a timeout ends within the
    receive timeout however long its send took, as a call with one ends within its timeout; the most patient request
    awaited sets the wait.
    """
    return min((slow_sends.get(request_id, 0.0) for request_id in awaited), default=0.0) if slow_sends else 0.0


def seconds_left(awaited: Mapping[int, float]) -> float | None:
    """Until just after the last awaited request expires (None: none awaited, or one never expires).

    A wait for a response is cut to this: no response to any of them comes later, so a slow send and a full wait
    together still end by the call's deadline.
    """
    if not awaited:
        return None
    latest = max(awaited.values())
    return None if latest == math.inf else max(latest - time.time() + ANSWER_AT_DEADLINE_SECONDS, 0.01)
