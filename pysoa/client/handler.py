"""`ServiceHandler`: the client's connection to one service (its transport and middleware stacks).

A handler is built once per service, the first time the client calls it, and then reused: the
transport, metrics recorder and both middleware stacks are made here and never again, so a call
costs only the work of that call.

A call may carry a deadline (Unix seconds: the `__expiry__` of the request a server is serving, see
`Server.make_client`): the request then expires no later than the deadline, no receive waits past it, and
once it has passed a call fails at once (`MessageSendTimeout`, `MessageReceiveTimeout`) without sending.
"""

import datetime
import itertools
import os
import random
import time
from collections.abc import Generator
from typing import Any, cast

from pysoa.client.middleware import ClientMiddleware, ClientRequestMiddlewareTask, ClientResponseMiddlewareTask
from pysoa.client.settings import ClientSettings
from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS, MetricsRecorder, NoOpMetricsRecorder
from pysoa.common.middleware import build_middleware_stack
from pysoa.common.transport.base import ClientTransport, ServerTransport
from pysoa.common.transport.errors import MessageReceiveTimeout, MessageSendTimeout
from pysoa.common.types import JobRequest, JobResponse
from pysoa.common.wire import job_request_to_dict, job_response_from_dict
from pysoa.version import __version_info__

__all__ = ('ServiceHandler', 'shared_handler')

try:
    from pymetrics.recorders.noop import NonOperationalMetricsRecorder

    _NOOP_RECORDERS: tuple[type, ...] = (NoOpMetricsRecorder, NonOperationalMetricsRecorder)
except ImportError:  # pragma: no cover  # pymetrics is optional
    _NOOP_RECORDERS = (NoOpMetricsRecorder,)


def _transport_setting(transport: ClientTransport, name: str) -> float | None:
    """A positive numeric setting of the transport (the Redis ones keep theirs on `core`, as 1.x did), or None."""
    for holder in (transport, getattr(transport, 'core', None)):
        value = getattr(holder, name, None)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def _seconds(value: float | None) -> int | None:
    """`value` as the 1.x annotations of transports and middleware type it (`int`); all of ours take fractions."""
    return cast('int | None', value)


def _deadline_text(deadline: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(deadline, datetime.UTC).isoformat(timespec='milliseconds')
    except (OverflowError, ValueError, OSError):
        moment = 'out of range'  # a sender's odd clock must not turn a timeout into another error
    return f'the deadline of the request being served ({moment}, its __expiry__ {deadline:.3f})'


def _time_left(
    deadline: float,
    wanted: float | None,
    overdue: type[MessageSendTimeout | MessageReceiveTimeout],
    refusal: str,
) -> float | None:
    """The seconds left before `deadline` (Unix seconds) if fewer than `wanted`, else None (`wanted` fits).

    Once the deadline has passed, raises `overdue`: `refusal`, then which deadline passed and how long ago.
    """
    remaining = deadline - time.time()
    if remaining <= 0:
        raise overdue(f'{refusal}: {_deadline_text(deadline)} passed {-remaining:.3f} seconds ago')
    if wanted is not None and wanted <= remaining:
        return None
    return remaining


class ServiceHandler:
    """Sends job requests to one service and receives its job responses, through the configured middleware."""

    _client_version = list(__version_info__)

    def __init__(self, service_name: str, settings: ClientSettings) -> None:
        self.service_name = service_name
        metrics_config = settings['metrics']
        self.metrics: MetricsRecorder = metrics_config['object'](**metrics_config.get('kwargs', {}))
        # A no-op recorder is skipped entirely on the per-call path instead of being called to do nothing.
        self._measured = not isinstance(self.metrics, _NOOP_RECORDERS)

        transport_config = settings['transport']
        with self.metrics.timer('client.transport.initialize', **MICROSECOND_TIMER_KWARGS):
            self.transport: ClientTransport = transport_config['object'](
                service_name,
                self.metrics,
                **transport_config.get('kwargs', {}),
            )

        # A transport that is also the server's (in process: local, stub) hands our dicts to the service
        # unserialized; copying them keeps an action that edits its request from editing the caller's data.
        self._copy_requests = isinstance(self.transport, ServerTransport)

        with self.metrics.timer('client.middleware.initialize', **MICROSECOND_TIMER_KWARGS):
            self._middleware: list[ClientMiddleware] = [
                m['object'](**m.get('kwargs', {})) for m in settings['middleware']
            ]
            for middleware in self._middleware:
                middleware.bind_service(service_name)
            # Typed as the middleware sees them, so that the stack is built over the task types.
            send: ClientRequestMiddlewareTask = self._base_send_request
            receive: ClientResponseMiddlewareTask = self._base_get_response
            self._middleware_send_request_wrapper = self._make_middleware_stack(
                [m.request for m in self._middleware], send
            )
            self._middleware_get_response_wrapper = self._make_middleware_stack(
                [m.response for m in self._middleware], receive
            )

        # What the transport uses when a call names no expiry or receive timeout; None if it has no such setting.
        self._default_expiry = _transport_setting(self.transport, 'message_expiry_in_seconds')
        self._default_receive_timeout = _transport_setting(self.transport, 'receive_timeout_in_seconds')

        # Several clients may share one reply queue; starting at a random id keeps their ids apart (drawn apart from
        # the application's seeded `random`, which a library must not advance).
        # itertools.count hands out ids atomically, so one handler may serve several threads.
        self._request_ids = itertools.count(random.SystemRandom().randint(1, 1000000))

    # The 1.x name, kept for subclasses that override it.
    _make_middleware_stack = staticmethod(build_middleware_stack)

    def _base_send_request(
        self,
        request_id: int,
        meta: dict[str, Any],
        job_request: JobRequest,
        message_expiry_in_seconds: int | None = None,
    ) -> None:
        # The transport seam takes any message dict (1.x annotation); a TypedDict is one at run time.
        body = cast('dict[str, Any]', job_request_to_dict(job_request, self._copy_requests))
        if self._measured:
            with self.metrics.timer('client.send.excluding_middleware', **MICROSECOND_TIMER_KWARGS):
                self.transport.send_request_message(request_id, meta, body, message_expiry_in_seconds)
        else:
            self.transport.send_request_message(request_id, meta, body, message_expiry_in_seconds)

    def send_request(
        self,
        job_request: JobRequest,
        message_expiry_in_seconds: float | None = None,
        *,
        deadline: float | None = None,
    ) -> int:
        """Send `job_request` through the middleware and transport; return its request id.

        With a `deadline` (Unix seconds) the request expires by then at the latest; once it has passed,
        `MessageSendTimeout` is raised and nothing is sent.
        """
        request_id, meta, expiry = self._new_request(message_expiry_in_seconds, deadline)
        if not self._measured:
            self._middleware_send_request_wrapper(request_id, meta, job_request, expiry)
            return request_id
        try:
            with self.metrics.timer('client.send.including_middleware', **MICROSECOND_TIMER_KWARGS):
                self._middleware_send_request_wrapper(request_id, meta, job_request, expiry)
            return request_id
        finally:
            self.metrics.publish_all()

    def _new_request(
        self, message_expiry_in_seconds: float | None, deadline: float | None
    ) -> tuple[int, dict[str, Any], int | None]:
        """A new request's id, meta and expiry (cut to end by `deadline`); the asyncio handler sends with these too."""
        if deadline is not None:
            left = _time_left(
                deadline,
                message_expiry_in_seconds or self._default_expiry,
                MessageSendTimeout,
                f'Not calling service "{self.service_name}"',
            )
            if left is not None:
                message_expiry_in_seconds = left
        meta: dict[str, Any] = {'client_version': self._client_version}
        return next(self._request_ids), meta, _seconds(message_expiry_in_seconds)

    def _base_get_response(
        self,
        receive_timeout_in_seconds: int | None = None,
    ) -> tuple[int | None, JobResponse | None]:
        try:
            if self._measured:
                with self.metrics.timer('client.receive.excluding_middleware', **MICROSECOND_TIMER_KWARGS):
                    request_id, _, message = self.transport.receive_response_message(receive_timeout_in_seconds)
            else:
                request_id, _, message = self.transport.receive_response_message(receive_timeout_in_seconds)
        except MessageReceiveTimeout as error:
            raise self._with_wait(error, receive_timeout_in_seconds) from None
        if message is None:
            return None, None
        return request_id, job_response_from_dict(message)

    def _with_wait(self, error: MessageReceiveTimeout, timeout: float | None) -> MessageReceiveTimeout:
        """`error`, its message saying how long the client waited (when known) and what to check."""
        waited = timeout or self._default_receive_timeout
        if waited is None or not error.args or not isinstance(error.args[0], str) or 'waited' in error.args[0]:
            return error
        annotated = type(error)(
            f'{error.args[0]} (waited {waited:g} seconds; is the service running?)',
            *error.args[1:],
        )
        return annotated.with_traceback(error.__traceback__)

    def get_all_responses(
        self,
        receive_timeout_in_seconds: float | None = None,
        *,
        deadline: float | None = None,
    ) -> Generator[tuple[int, JobResponse], None, None]:
        """Yield `(request_id, job_response)` for each response until the transport has none outstanding.

        Blocks for each response up to the receive timeout, then raises `MessageReceiveTimeout`. With a
        `deadline` (Unix seconds) no wait goes past it: `MessageReceiveTimeout` names it.
        """
        receive = self._middleware_get_response_wrapper
        timeout = _seconds(receive_timeout_in_seconds)
        if deadline is not None:
            receive = self._receiver_within(deadline, receive)
        if not self._measured:
            while True:
                request_id, response = receive(timeout)
                if request_id is None or response is None:
                    return
                yield request_id, response
        try:
            while True:
                with self.metrics.timer('client.receive.including_middleware', **MICROSECOND_TIMER_KWARGS):
                    request_id, response = receive(timeout)
                if request_id is None or response is None:
                    return
                yield request_id, response
        finally:
            self.metrics.publish_all()

    def _receiver_within(self, deadline: float, receive: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        """`receive`, each wait cut short at `deadline`, and refused once it has passed."""

        def receive_within(timeout: int | None) -> tuple[int | None, JobResponse | None]:
            left = _time_left(
                deadline,
                timeout or self._default_receive_timeout,
                MessageReceiveTimeout,
                f'Stopped waiting for a response from service "{self.service_name}"',
            )
            if left is None:
                return receive(timeout)
            try:
                return receive(_seconds(left))
            except MessageReceiveTimeout as error:
                raise MessageReceiveTimeout(
                    f'No response from service "{self.service_name}" by {_deadline_text(deadline)}',
                ) from error

        return receive_within


def shared_handler(handler_class: type[ServiceHandler], service_name: str, settings: ClientSettings) -> ServiceHandler:
    """The handler for `service_name` that every client built from this very `settings` object shares.

    A server builds a client per job from the same validated routing settings; sharing makes the
    transport (and its connections) and the middleware once per process instead of once per job.
    Handlers made before a fork are not reused in the child, which must not share connections.
    """
    handlers: dict[tuple[type[ServiceHandler], str], tuple[int, ServiceHandler]] | None
    handlers = settings.__dict__.get('_pysoa_shared_handlers')
    if handlers is None:
        handlers = settings.__dict__.setdefault('_pysoa_shared_handlers', {})
    key = (handler_class, service_name)
    pid = os.getpid()
    entry = handlers.get(key)
    if entry is None or entry[0] != pid:
        entry = handlers[key] = (pid, handler_class(service_name, settings))
    return entry[1]
