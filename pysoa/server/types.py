"""What the server hands to middleware and actions: enriched requests, switch sets and the action interface.

An `EnrichedActionRequest` is an `ActionRequest` plus what the action needs from its job: the
switches, context and control headers, a `Client` that carries the context on to other services,
and a way to run coroutines. `call_local_action` calls another action of the same service directly.
"""

import abc
import concurrent.futures
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Protocol, SupportsInt, cast, runtime_checkable

import attr

from pysoa.common.constants import ERROR_CODE_SERVER_ERROR
from pysoa.common.errors import Error
from pysoa.common.types import ActionRequest, ActionResponse, Body, Context, Control, JobRequest
from pysoa.server.request_state import current_request
from pysoa.server.settings import ServerSettings

if TYPE_CHECKING:
    from pysoa.client.client import Client
    from pysoa.server.server import Server

__all__ = (
    'ActionInterface',
    'ActionType',
    'EnrichedActionRequest',
    'EnrichedJobRequest',
    'IntrospectionActionType',
    'RequestSwitchSet',
    'RunCoroutineType',
    'SupportsIntValue',
    'SwitchSet',
    'get_switch',
    'is_switch',
)

RunCoroutineType = Callable[[Coroutine[Any, Any, Any]], 'concurrent.futures.Future[Any]']
"""Runs a coroutine on the server's event loop thread and returns a future of its result."""


@runtime_checkable
class SupportsIntValue(Protocol):
    """A switch constant whose `value` is (or converts to) an int, such as an `enum.Enum` member."""

    value: SupportsInt


Switch = SupportsInt | SupportsIntValue
"""An int, or an object that gives one through `__int__` or through its `value`."""


def get_switch(item: object) -> int:
    """The int a switch stands for; `TypeError` if `item` is not a switch."""
    if isinstance(item, int):
        return item
    # `hasattr` rather than `isinstance(..., SupportsInt)`: a protocol check costs far more, on every request.
    if hasattr(item, '__int__'):
        return int(cast(SupportsInt, item))
    value = getattr(item, 'value', None)
    if hasattr(value, '__int__'):
        return int(cast(SupportsInt, value))
    raise TypeError(f'{item!r} is not a switch: it has neither __int__ nor an int-like value')


def is_switch(item: object) -> bool:
    """Whether `item` can be used as a switch."""
    try:
        get_switch(item)
    except TypeError:
        return False
    return True


class SwitchSet(frozenset[int]):
    """An immutable set of switches, stored as ints; membership accepts any switch-like object."""

    def __new__(cls, switches: Iterable[Switch] | None = None) -> 'SwitchSet':
        return super().__new__(cls, (get_switch(s) for s in switches or ()))

    def __contains__(self, switch: object) -> bool:
        if type(switch) is not int:
            try:
                switch = get_switch(switch)
            except TypeError:
                return False
        return frozenset.__contains__(self, switch)


class RequestSwitchSet(SwitchSet):
    """The switches active for a request (from the context's `switches` list)."""

    def is_active(self, switch: Switch) -> bool:
        """Whether `switch` is active for this request."""
        return switch in self


def _to_request_switch_set(value: Iterable[Switch] | None) -> RequestSwitchSet:
    if isinstance(value, RequestSwitchSet):
        return value
    return RequestSwitchSet(value)


# Not slotted, as in PySOA 1.x: middleware commonly attaches its own attributes to requests.
@attr.s(slots=False)
class EnrichedJobRequest(JobRequest):
    """The job request that job middleware sees: a `JobRequest` plus the client and coroutine runner."""

    client: 'Client | None' = attr.ib(default=None)
    run_coroutine: RunCoroutineType | None = attr.ib(default=None)


@attr.s(slots=False)
class EnrichedActionRequest(ActionRequest):
    """The request an action receives: the action and body plus what it needs from its job.

    Servers may use a subclass (the `Server.request_class` attribute); `call_local_action` copies every
    attrs attribute of the subclass that has an `__init__` argument.
    """

    switches: RequestSwitchSet = attr.ib(factory=RequestSwitchSet, converter=_to_request_switch_set)
    context: Context = attr.ib(factory=dict)
    control: Control = attr.ib(factory=dict)
    client: 'Client | None' = attr.ib(default=None)
    run_coroutine: RunCoroutineType | None = attr.ib(default=None)
    # Set by the server; the action request needs it only for `call_local_action`.
    _server: 'Server | None' = attr.ib(default=None, init=False, eq=False, repr=False)

    @property
    def delivery_count(self) -> int:
        """How often the request being served was delivered: 1, or more when at-least-once delivery redelivered it
        (its worker died serving it). An action whose effects must not happen twice checks this (docs/delivery.rst)."""
        request = current_request()
        return 1 if request is None else request.delivery_count

    def call_local_action(
        self,
        action: str,
        body: Body,
        raise_action_errors: bool = True,
        is_caller_error: bool = False,
        context: Context | None = None,
    ) -> ActionResponse:
        """Run another action of this service in process, without the transport, job or middleware.

        The called action gets a copy of this request with the new action and body (and `context` merged
        over a copy of this context). Errors raise `ActionError` unless `raise_action_errors` is false; errors
        the action returned (rather than raised) get `is_caller_error` set to `is_caller_error`.
        """
        # Imported here: the dispatcher works on these request types, so it imports this module.
        from pysoa.server.dispatch import call_local_action, local_failure

        server = self._server
        if server is None:
            error = Error(
                code=ERROR_CODE_SERVER_ERROR,
                message='This action request has no server, so it cannot call a local action',
                is_caller_error=False,
            )
            return local_failure(action, raise_action_errors, error)

        new_context = dict(self.context)
        if context:
            new_context.update(context)
        copied = {
            a.name: getattr(self, a.name)
            for a in attr.fields(type(self))
            if a.init and a.name not in ('action', 'body', 'context')
        }
        request = type(self)(action=action, body=body, context=new_context, **copied)
        request._server = server
        return call_local_action(server, request, raise_action_errors, is_caller_error)


class ActionInterface(abc.ABC):
    """The contract of an action class: built with the server settings, called with each request.

    Most actions extend `pysoa.server.action.Action`; any callable that takes the settings and returns a
    callable from `EnrichedActionRequest` to `ActionResponse` also works.
    """

    @abc.abstractmethod
    def __init__(self, settings: ServerSettings | None = None) -> None:
        """Build the action with the server's settings."""

    @abc.abstractmethod
    def __call__(self, action_request: EnrichedActionRequest) -> ActionResponse:
        """Run the action on one request."""


ActionType = (
    type[ActionInterface] | Callable[[ServerSettings | None], Callable[[EnrichedActionRequest], ActionResponse]]
)
"""Anything that may appear as a value in `Server.action_class_map`."""

IntrospectionActionType = Callable[['Server'], Callable[[EnrichedActionRequest], ActionResponse]]
"""Anything that may be a server's `introspection_action`: called with the server, returns an action."""
