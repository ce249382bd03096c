"""The asyncio twin of a `ServiceHandler`: its middleware stacks as coroutines, over the transport's asyncio side.

Built once per handler (`AsyncServiceHandler.of(handler)`), from the handler's own middleware objects, so a blocking
and an awaited call of the same client run the same middleware instances.

Each layer of the awaited stacks comes from one middleware, in the configured order (the first is the outermost):

- a middleware that overrides `request_async` / `response_async` gives that coroutine wrapper;
- one that overrides only the plain `request` / `response` still applies: its wrapper is called with a stand-in
  for the layers below it. For a request the stand-in records what the wrapper sends, and the layers below are
  awaited with it once the wrapper has returned (a wrapper that does not call it sends nothing); for a response the
  layers below are awaited first, and the stand-in gives the wrapper their response or raises their error. So a
  plain wrapper sees and may change every request and response, and may raise, but its code runs next to the
  transport call, not around its I/O: time measured inside it is not the time of the I/O, and an error of the
  send below it is not raised through it.
"""

import weakref
from collections.abc import Callable
from typing import Any, ClassVar, cast

from pysoa.client.handler import ServiceHandler, _deadline_text, _seconds, _time_left
from pysoa.client.matching import no_response
from pysoa.client.middleware import (
    AsyncClientRequestMiddlewareTask,
    AsyncClientResponseMiddlewareTask,
    ClientMiddleware,
    ClientRequestMiddlewareTask,
    ClientResponseMiddlewareTask,
)
from pysoa.common.metrics import MICROSECOND_TIMER_KWARGS
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.transport.redis_gateway.async_client import AsyncRedisClientTransport
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.types import JobRequest, JobResponse
from pysoa.common.wire import job_request_to_dict, job_response_from_dict

__all__ = ('AsyncServiceHandler', 'plain_request_layer', 'plain_response_layer')

_Received = tuple[int | None, JobResponse | None]


def plain_request_layer(
    wrap: Callable[[ClientRequestMiddlewareTask], ClientRequestMiddlewareTask], below: AsyncClientRequestMiddlewareTask
) -> AsyncClientRequestMiddlewareTask:
    """An awaited request layer from a plain `request` wrapper (`wrap`: the middleware's bound `request`)."""
    sent: list[tuple[int, dict[str, Any], JobRequest, int | None]] = []

    def stand_in(request_id: int, meta: dict[str, Any], job_request: JobRequest, expiry: int | None) -> None:
        sent.append((request_id, meta, job_request, expiry))

    wrapped: ClientRequestMiddlewareTask = wrap(stand_in)

    async def layer(request_id: int, meta: dict[str, Any], job_request: JobRequest, expiry: int | None) -> None:
        # No await between filling and emptying `sent`: no other call of this layer can interleave.
        sent.clear()
        wrapped(request_id, meta, job_request, expiry)
        calls = list(sent)
        sent.clear()
        for arguments in calls:
            await below(*arguments)

    return layer


def plain_response_layer(
    wrap: Callable[[ClientResponseMiddlewareTask], ClientResponseMiddlewareTask],
    below: AsyncClientResponseMiddlewareTask,
) -> AsyncClientResponseMiddlewareTask:
    """An awaited response layer from a plain `response` wrapper (`wrap`: the middleware's bound `response`)."""
    outcome: list[_Received | BaseException] = []

    def stand_in(_timeout: int | None) -> _Received:
        received = outcome[0]
        if isinstance(received, BaseException):
            raise received
        return received

    wrapped: ClientResponseMiddlewareTask = wrap(stand_in)

    async def layer(timeout: int | None) -> _Received:
        try:
            received: _Received | BaseException = await below(timeout)
        except Exception as error:
            received = error
        # No await from here on: no other call of this layer can interleave.
        outcome[:] = [received]
        try:
            return wrapped(timeout)
        finally:
            outcome.clear()

    return layer


def _overrides(middleware: ClientMiddleware, name: str) -> bool:
    return getattr(type(middleware), name, None) is not getattr(ClientMiddleware, name)


class AsyncServiceHandler:
    """Sends job requests and receives job responses of one service from coroutines, through the middleware."""

    _of: ClassVar['weakref.WeakKeyDictionary[ServiceHandler, AsyncServiceHandler]'] = weakref.WeakKeyDictionary()

    def __init__(self, handler: ServiceHandler) -> None:
        self.handler = handler
        self.service_name = handler.service_name
        self._transport = cast(RedisClientTransport, handler.transport)
        send: AsyncClientRequestMiddlewareTask = self._base_send_request
        receive: AsyncClientResponseMiddlewareTask = self._base_get_response
        for middleware in reversed(handler._middleware):
            if _overrides(middleware, 'request_async'):
                send = middleware.request_async(send)
            elif _overrides(middleware, 'request'):
                send = plain_request_layer(middleware.request, send)
            if _overrides(middleware, 'response_async'):
                receive = middleware.response_async(receive)
            elif _overrides(middleware, 'response'):
                receive = plain_response_layer(middleware.response, receive)
        self._send = send
        self._receive = receive

    @classmethod
    def of(cls, handler: ServiceHandler) -> 'AsyncServiceHandler':
        """The asyncio twin of `handler`, made once."""
        twin = cls._of.get(handler)
        if twin is None:
            twin = cls._of[handler] = cls(handler)
        return twin

    def side(self) -> AsyncRedisClientTransport:
        """The transport's asyncio side on the running loop."""
        return AsyncRedisClientTransport.for_transport(self._transport)

    async def _base_send_request(
        self, request_id: int, meta: dict[str, Any], job_request: JobRequest, expiry: int | None = None
    ) -> None:
        body = cast('dict[str, Any]', job_request_to_dict(job_request, False))
        if self.handler._measured:
            with self.handler.metrics.timer('client.send.excluding_middleware', **MICROSECOND_TIMER_KWARGS):
                await self.side().send_request_message(request_id, meta, body, expiry)
        else:
            await self.side().send_request_message(request_id, meta, body, expiry)

    async def _base_get_response(self, receive_timeout_in_seconds: int | None = None) -> _Received:
        try:
            if self.handler._measured:
                with self.handler.metrics.timer('client.receive.excluding_middleware', **MICROSECOND_TIMER_KWARGS):
                    request_id, _, message = await self.side().receive_response_message(receive_timeout_in_seconds)
            else:
                request_id, _, message = await self.side().receive_response_message(receive_timeout_in_seconds)
        except MessageReceiveTimeout as error:
            raise self.handler._with_wait(error, receive_timeout_in_seconds) from None
        if message is None:
            return None, None
        return request_id, job_response_from_dict(message)

    async def send_request(
        self, job_request: JobRequest, message_expiry_in_seconds: float | None = None, *, deadline: float | None = None
    ) -> int:
        """Send `job_request` through the awaited middleware stack; return its request id (see `ServiceHandler`)."""
        handler = self.handler
        request_id, meta, expiry = handler._new_request(message_expiry_in_seconds, deadline)
        if not handler._measured:
            await self._send(request_id, meta, job_request, expiry)
            return request_id
        try:
            with handler.metrics.timer('client.send.including_middleware', **MICROSECOND_TIMER_KWARGS):
                await self._send(request_id, meta, job_request, expiry)
            return request_id
        finally:
            handler.metrics.publish_all()

    async def receive(
        self, request_ids: set[int], timeout: float | None, into: dict[int, JobResponse], deadline: float | None = None
    ) -> None:
        """Receive the responses to `request_ids` into `into` as they arrive (so a failure keeps what came).

        Whatever happens, none of `request_ids` is awaited afterwards: a response that comes later is dropped.
        """
        missing = set(request_ids) - into.keys()
        try:
            while missing:
                if self.handler._measured:
                    with self.handler.metrics.timer('client.receive.including_middleware', **MICROSECOND_TIMER_KWARGS):
                        request_id, response = await self._receive_within(timeout, deadline)
                else:
                    request_id, response = await self._receive_within(timeout, deadline)
                if request_id is None or response is None:
                    raise no_response(self.service_name, missing)
                if request_id in missing:
                    into[request_id] = response
                    missing.discard(request_id)
        finally:
            if missing:
                self.side().abandon(missing)
            if self.handler._measured:
                self.handler.metrics.publish_all()

    async def _receive_within(self, timeout: float | None, deadline: float | None) -> _Received:
        if deadline is None:
            return await self._receive(_seconds(timeout))
        wanted = timeout or self.handler._default_receive_timeout
        refusal = f'Stopped waiting for a response from service "{self.service_name}"'
        left = _time_left(deadline, wanted, MessageReceiveTimeout, refusal)
        if left is None:
            return await self._receive(_seconds(timeout))
        try:
            return await self._receive(_seconds(left))
        except MessageReceiveTimeout as error:
            text = f'No response from service "{self.service_name}" by {_deadline_text(deadline)}'
            raise MessageReceiveTimeout(text) from error
