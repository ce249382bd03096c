"""The state of the request being served, held in context variables instead of on the long-lived `Server`.

A worker process serves one request at a time today. Keeping what belongs to one request (its id, its meta,
the client version it announced, its deadline) in a small `ServedRequest` set in a context variable, and the
receive loop's idle timer in another, lets a later worker serve several requests at once: threads and asyncio
tasks each see their own context, so concurrent requests cannot overwrite each other's state.
"""

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import TypeVar

from pysoa.client.client import Client
from pysoa.common.metrics import MetricsRecorder, Timer
from pysoa.common.wire import client_version_of, expiry_of

__all__ = (
    'ServedRequest',
    'bind_deadline',
    'current_deadline',
    'current_request',
    'idle_timer',
    'serving',
    'stop_idle_timer',
)

_ClientT = TypeVar('_ClientT')


@dataclasses.dataclass(frozen=True, slots=True)
class ServedRequest:
    """One received request, as far as the server's request path needs it besides the job itself."""

    request_id: int
    meta: dict[str, object]
    client_version: tuple[int, ...]
    deadline: float | None
    """The request's `__expiry__` (Unix seconds): the clients built for its job must not wait past it."""

    @classmethod
    def received(cls, request_id: int, meta: dict[str, object]) -> 'ServedRequest':
        """The state of a request just received with this id and meta."""
        try:
            deadline = expiry_of(meta)
        except ValueError:
            # A transport that checks envelopes refuses such a request before it gets here; from one that does
            # not, the job is still served, only without a deadline.
            deadline = None
        return cls(request_id, meta, client_version_of(meta), deadline)

    @property
    def delivery_count(self) -> int:
        """How often the transport has delivered this request: 1, or more when at-least-once delivery redelivers it."""
        count = self.meta.get('delivery_count')  # set by the Redis transport's at-least-once delivery
        return count if isinstance(count, int) and count > 0 else 1


_served: contextvars.ContextVar[ServedRequest | None] = contextvars.ContextVar('pysoa_served_request', default=None)


def current_request() -> ServedRequest | None:
    """The request being served in this context (thread or task), while its job is being processed."""
    return _served.get()


def current_deadline() -> float | None:
    """The deadline of the request being served in this context, if any."""
    request = _served.get()
    return None if request is None else request.deadline


@contextlib.contextmanager
def serving(request: ServedRequest) -> Iterator[ServedRequest]:
    """Make `request` the current one for the duration of the block (nested blocks restore the outer one)."""
    token = _served.set(request)
    try:
        yield request
    finally:
        _served.reset(token)


def bind_deadline(client: _ClientT) -> _ClientT:
    """Give `client` the deadline of the request being served (see `pysoa.client.handler`); no request, no change."""
    deadline = current_deadline()
    if deadline is not None and isinstance(client, Client):
        client._deadline = deadline
    return client


# The receive loop's idle timer, with the server that owns it: several servers may take turns in one thread (the
# local transport serves a request inside the caller's call), and each must time only its own idle spells.
_idle: contextvars.ContextVar[tuple[object, Timer] | None] = contextvars.ContextVar('pysoa_idle_timer', default=None)


def idle_timer(owner: object, metrics: MetricsRecorder) -> Timer:
    """The idle timer of `owner`'s receive loop in this context, started now when it has none running."""
    current = _idle.get()
    if current is not None and current[0] is owner:
        return current[1]
    timer = metrics.timer('server.idle_time')
    timer.start()
    _idle.set((owner, timer))
    return timer


def stop_idle_timer(owner: object) -> None:
    """Stop (and record) `owner`'s idle timer in this context, if it has one: a request has come."""
    current = _idle.get()
    if current is not None and current[0] is owner:
        current[1].stop()
        _idle.set(None)
