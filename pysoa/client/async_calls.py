"""Awaitable twins of the blocking `Client` calls: `await client.call_action_async(...)` and friends.

Each twin takes exactly the arguments of its blocking method and returns (or raises) the same. It runs one of
three ways, chosen per call:

- natively on the event loop (`async_native`) when every service it calls is served by the Redis transport:
  no thread, concurrent awaits share the loop's reply queue;
- inline, when a service is in process (a transport that is also the server transport, like the local and stub
  transports): the service's work happens in this thread anyway, and those transports are not made for several
  threads;
- else (another transport, or a client or transport subclass that replaces a method the blocking call goes
  through) the blocking call runs whole, send and receive, in a worker thread (`asyncio.to_thread`), as in 1.x.
"""

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from pysoa.client.async_native import NATIVE_CALLS, native_call
from pysoa.common.transport.base import ServerTransport

if TYPE_CHECKING:
    from pysoa.client.client import Client

__all__ = ('async_twin', 'jobs_services', 'single_service')

_P = ParamSpec('_P')
_R = TypeVar('_R')

_Args = tuple[object, ...]
_Kwargs = dict[str, object]

ServiceNames = Callable[[_Args, _Kwargs], tuple[list[str], _Args, _Kwargs]]
"""Finds the services a call involves: `(args, kwargs) -> (service names, args, kwargs)`; it may
replace a one-shot iterable argument with a list it has read."""


def single_service(args: _Args, kwargs: _Kwargs) -> tuple[list[str], _Args, _Kwargs]:
    """For calls whose first argument is `service_name`."""
    name = args[0] if args else kwargs.get('service_name')
    return ([name] if isinstance(name, str) else []), args, kwargs


def jobs_services(args: _Args, kwargs: _Kwargs) -> tuple[list[str], _Args, _Kwargs]:
    """For calls whose first argument is `jobs`, which may be a generator: it is read once, into a list."""
    given = args[0] if args else kwargs.get('jobs')
    if not isinstance(given, Iterable):
        return [], args, kwargs  # nothing to read: the blocking call reports what is wrong
    jobs = list(given)
    if args:
        args = (jobs, *args[1:])
    else:
        kwargs['jobs'] = jobs
    return [job['service_name'] for job in jobs if isinstance(job, dict) and 'service_name' in job], args, kwargs


def _waits_in_thread(client: 'Client', service_names: list[str]) -> bool:
    if not service_names:
        return False
    for name in service_names:
        if name not in client.settings:
            return False  # only a test stub can answer a service the client has no settings for
        if isinstance(client._get_handler(name).transport, ServerTransport):
            return False
    return True


def async_twin(
    services: ServiceNames,
) -> 'Callable[[Callable[Concatenate[Client, _P], _R]], Callable[Concatenate[Client, _P], Coroutine[Any, Any, _R]]]':
    """Make the awaitable twin of a blocking `Client` method: `async_twin(services)(method)`.

    (The method comes alone in the second call because mypy keeps its overloads only through a
    one-argument call.)
    """

    def make(
        method: 'Callable[Concatenate[Client, _P], _R]',
    ) -> 'Callable[Concatenate[Client, _P], Coroutine[Any, Any, _R]]':
        signature = inspect.signature(method)
        native_coroutine = NATIVE_CALLS[method.__name__]

        async def twin(self: 'Client', /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            names, call_args, call_kwargs = services(args, kwargs)
            if native_call(self, method.__name__, names):
                # Bound as the blocking twin binds them (a wrong argument raises the same `TypeError`).
                bound = signature.bind(self, *call_args, **call_kwargs)
                bound.apply_defaults()
                native: _R = await native_coroutine(self, bound.arguments)  # type: ignore[assignment]  # the blocking twin's result
                return native
            # Looked up on the instance, so that a patched or stubbed method is the one that runs.
            blocking = getattr(self, method.__name__)
            if _waits_in_thread(self, names):
                return await asyncio.to_thread(blocking, *call_args, **call_kwargs)
            result: _R = blocking(*call_args, **call_kwargs)
            return result

        twin.__name__ = f'{method.__name__}_async'
        twin.__qualname__ = f'{method.__qualname__}_async'
        twin.__doc__ = f'Awaitable twin of `{method.__name__}`: same arguments, same result and errors.'
        # Lets `inspect.signature` show the blocking method's parameters.
        twin.__wrapped__ = method  # type: ignore[attr-defined]  # the attribute inspect reads; functions take any
        return twin

    return make
