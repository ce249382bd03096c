"""The native asyncio calls: `Client.call_*_async` over Redis, awaiting Redis on the event loop (no thread per call).

They take the blocking calls' arguments (bound to the blocking call's signature by `async_calls`) and end the
same way: the request is built by the same function (`calls.job_request`, through `Client._make_control_header`
and `_make_context_header`), sent through the same middleware objects (awaited stacks:
`async_handler`), and the responses are turned into results and errors by `pysoa.client.results`, expansions
planned and applied by `pysoa.client.expansion_runner`; only the waiting is awaited.

`native_call(client, name, service_names)` says whether a call can go this way: every service it names must be
served by a plain `RedisClientTransport` (see `async_client.serves_natively`) through a plain `ServiceHandler`,
and the client must not replace any method the blocking path goes through (1.x subclasses and test helpers
override `send_request`, `get_all_responses`, ...): then the blocking path, in a thread, is the one that runs
their code, as before.
"""

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pysoa.client.arguments import ActionRequestArgument, JobRequestArgument, job_parts, one_action, one_action_jobs
from pysoa.client.async_handler import AsyncServiceHandler
from pysoa.client.calls import SentJobs, caught, job_request
from pysoa.client.expansion_runner import apply_round, expansion_plan, plan_round
from pysoa.client.handler import ServiceHandler
from pysoa.client.matching import Responses
from pysoa.client.options import CallOptions
from pysoa.client.results import (
    JobResult,
    expansion_options,
    first_action,
    first_actions,
    parallel_actions,
    parallel_results,
    raise_errors,
)
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.transport.redis_gateway.async_client import serves_natively
from pysoa.common.types import ActionResponse, JobResponse

if TYPE_CHECKING:  # the client imports this module (through async_calls)
    from pysoa.client.client import Client

__all__ = ('NATIVE_CALLS', 'CallArguments', 'native_call')

_PATH_METHODS = ('send_request', 'get_all_responses', '_send', '_receive_job_response', '_receive_job_responses')
"""The `Client` methods every blocking call goes through."""

_CALL_METHODS = {
    'call_action': ('call_action', 'call_action_future'),
    'call_actions': ('call_actions', 'call_actions_future'),
    'call_actions_parallel': ('call_actions_parallel', 'call_actions_parallel_future', 'call_jobs_parallel_future'),
    'call_jobs_parallel': ('call_jobs_parallel', 'call_jobs_parallel_future'),
}
"""The public methods each blocking call goes through."""

_CALL_PATHS = {name: (*_PATH_METHODS, *methods) for name, methods in _CALL_METHODS.items()}
"""Every `Client` method that each blocking call goes through."""

_HANDLER_METHODS = ('send_request', 'get_all_responses', '_base_send_request', '_base_get_response')


def _untouched(method: object) -> bool:
    """Whether `method` is one of pysoa's own (not a patch: `stub_action` wraps `Client.send_request` in place,
    and `mock.patch` replaces methods with mocks)."""
    return (
        inspect.isfunction(method)
        and method.__module__.startswith('pysoa.client.')
        and not hasattr(method, '__wrapped__')
    )


_verified: dict[tuple[type, str], tuple[object, ...]] = {}
"""The methods last found to be pysoa's own, by client type and call (a patch changes them, so they are compared)."""


def _plain(client: 'Client', name: str) -> bool:
    """Whether the client's type and the client itself leave the methods of call `name` as pysoa defines them.

    Checked on every call: a stub or a patch may come and go between two calls.
    """
    from pysoa.client.client import Client  # the client imports this module

    kind = type(client)
    names = _CALL_PATHS[name]
    methods = tuple(getattr(kind, method_name) for method_name in names)
    if _verified.get((kind, name)) != methods:
        if any(m is not getattr(Client, n) or not _untouched(m) for m, n in zip(methods, names, strict=True)):
            return False
        _verified[(kind, name)] = methods
    return client.__dict__.keys().isdisjoint(names)


def _plain_handler(handler: ServiceHandler) -> bool:
    kind = type(handler)
    return kind is ServiceHandler or all(getattr(kind, n) is getattr(ServiceHandler, n) for n in _HANDLER_METHODS)


def native_call(client: 'Client', name: str, service_names: list[str]) -> bool:
    """Whether call `name` (`call_action`, ...) to `service_names` runs natively on the loop (see the docstring)."""
    if not service_names or not _plain(client, name):
        return False
    for service_name in service_names:
        if service_name not in client.settings:
            return False
        handler = client._get_handler(service_name)
        if not _plain_handler(handler) or not serves_natively(handler.transport):
            return False
    return True


# Sending and receiving


async def _send(
    client: 'Client', service_name: str, actions: Iterable[ActionRequestArgument], options: CallOptions
) -> int:
    """Build and send one job as `Client.send_request` does; return its request id."""
    handler = client.handlers.get(service_name) or client._get_handler(service_name)
    headers = (options.switches, options.correlation_id, options.continue_on_error, options.context)
    request = job_request(client, actions, *headers, options.control_extra, options.expiry, False)
    return await AsyncServiceHandler.of(handler).send_request(request, options.expiry, deadline=client._deadline)


async def _receive(
    client: 'Client', service_name: str, request_ids: set[int], timeout: float | None, into: Responses
) -> Responses:
    handler = AsyncServiceHandler.of(client.handlers[service_name])
    await handler.receive(request_ids, timeout, into, client._deadline)
    return into


def _abandon(client: 'Client', outstanding: dict[str, set[int]]) -> None:
    """Stop awaiting what was sent and not received (after an error, or a cancellation)."""
    for service_name, request_ids in outstanding.items():
        AsyncServiceHandler.of(client.handlers[service_name]).side().abandon(request_ids)


async def _expand(client: 'Client', actions: list[ActionResponse], options: CallOptions) -> None:
    """`perform_expansions`, awaited: each round's requests are all sent before any response is awaited."""
    plan = expansion_plan(client, actions, options)
    if plan is None:
        return
    trees, candidates, options = plan
    already_requested: dict[str, set[Any]] = {}
    while candidates:
        sent: dict[str, dict[int, Any]] = {}
        received: dict[str, Responses] = {}
        try:
            for service_name, round_actions, targets in plan_round(candidates, already_requested):
                sent.setdefault(service_name, {})[await _send(client, service_name, round_actions, options)] = targets
            for service_name, by_request in sent.items():
                received[service_name] = await _receive(client, service_name, set(by_request), options.expiry, {})
        finally:
            _abandon(client, {name: set(by_request) for name, by_request in sent.items()})
        candidates = apply_round(sent, received, trees)


async def _job(
    client: 'Client', service_name: str, actions: Iterable[ActionRequestArgument], options: CallOptions
) -> JobResponse:
    """Send one job and receive its response, errors raised and actions expanded as `options` ask."""
    request_id = await _send(client, service_name, actions, options)
    try:
        responses = await _receive(client, service_name, {request_id}, options.timeout, {})
    finally:
        _abandon(client, {service_name: {request_id}})
    response = responses[request_id]
    raise_errors(client, response, options)
    if options.expansions:
        await _expand(client, response.actions, expansion_options(response, options))
    return response


async def _jobs(client: 'Client', jobs: Iterable[JobRequestArgument], options: CallOptions) -> list[JobResult]:
    """Send every job, then receive every response: `call_jobs_parallel`, awaited."""
    sent = SentJobs()
    received: dict[str, Responses] = {}
    receive_errors: dict[str, PySOATransportError] = {}
    try:
        for index, job in enumerate(jobs):
            service_name, job_actions = job_parts(index, job)
            try:
                sent.add(service_name, await _send(client, service_name, job_actions, options))
            except PySOATransportError as e:
                sent.add(service_name, caught(options, e))
        for service_name, request_ids in sent.outstanding.items():
            received[service_name] = {}
            try:
                await _receive(client, service_name, request_ids, options.timeout, received[service_name])
            except PySOATransportError as e:
                receive_errors[service_name] = caught(options, e)
    finally:
        _abandon(client, sent.outstanding)
    results = parallel_results(client, sent.slots, received, receive_errors, options, expand=False)
    if options.expansions:
        await _expand(client, parallel_actions(results), options)
    return results


# The calls. Each takes the arguments of its blocking twin as bound to that twin's signature (defaults applied):
# the parameters are declared once, on `Client`.

CallArguments = Mapping[str, Any]
"""A call's arguments by parameter name, as `inspect.BoundArguments.arguments` gives them."""


async def call_action(client: 'Client', arguments: CallArguments) -> object:
    """`Client.call_action`, awaited."""
    options = CallOptions.of(arguments)
    actions = one_action(arguments['action'], arguments['body'])
    return first_action(await _job(client, arguments['service_name'], actions, options))


async def call_actions(client: 'Client', arguments: CallArguments) -> object:
    """`Client.call_actions`, awaited."""
    return await _job(client, arguments['service_name'], arguments['actions'], CallOptions.of(arguments))


async def call_actions_parallel(client: 'Client', arguments: CallArguments) -> object:
    """`Client.call_actions_parallel`, awaited."""
    singles = list(one_action_jobs(arguments['service_name'], arguments['actions']))
    return first_actions(await _jobs(client, singles, CallOptions.of(arguments)))


async def call_jobs_parallel(client: 'Client', arguments: CallArguments) -> object:
    """`Client.call_jobs_parallel`, awaited."""
    return await _jobs(client, arguments['jobs'], CallOptions.of(arguments))


NATIVE_CALLS: dict[str, Callable[['Client', CallArguments], Awaitable[object]]] = {
    'call_action': call_action,
    'call_actions': call_actions,
    'call_actions_parallel': call_actions_parallel,
    'call_jobs_parallel': call_jobs_parallel,
}
"""The native coroutine of each blocking call, by the blocking call's name."""
