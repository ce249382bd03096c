"""The native asyncio calls: `Client.call_*_async` over Redis, awaiting Redis on the event loop (no thread per call).

They take the blocking calls' arguments and end the same way: the request is built by the same header functions
(`Client._make_control_header`, `_make_context_header`), sent through the same middleware objects (awaited stacks:
`async_handler`), and the responses are turned into results and errors by `pysoa.client.results`, expansions
planned and applied by `pysoa.client.expansion_runner`; only the waiting is awaited.

`native_call(client, name, service_names)` says whether a call can go this way: every service it names must be
served by a plain `RedisClientTransport` (see `async_client.serves_natively`) through a plain `ServiceHandler`,
and the client must not replace any method the blocking path goes through (1.x subclasses and test helpers
override `send_request`, `get_all_responses`, ...): then the blocking path, in a thread, is the one that runs
their code, as before.
"""

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from pysoa.client.arguments import (
    ActionRequestArgument,
    JobRequestArgument,
    check_body,
    check_mapping,
    job_parts,
    make_job_request,
)
from pysoa.client.async_handler import AsyncServiceHandler
from pysoa.client.expander import Expansions
from pysoa.client.expansion_runner import apply_round, expansion_plan, plan_round
from pysoa.client.handler import ServiceHandler
from pysoa.client.headers import with_expiry
from pysoa.client.matching import Responses
from pysoa.client.options import CallOptions, Switches
from pysoa.client.results import (
    JobResult,
    Slot,
    expansion_options,
    first_actions,
    parallel_actions,
    parallel_results,
    raise_errors,
)
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.transport.redis_gateway.async_client import serves_natively
from pysoa.common.types import ActionRequest, ActionResponse, Body, Context, Control, JobResponse

if TYPE_CHECKING:  # the client imports this module (through async_calls)
    from pysoa.client.client import Client

__all__ = ('NATIVE_CALLS', 'native_call')

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
    check_mapping(options.control_extra, 'control_extra')
    control_extra = with_expiry(options.control_extra, options.expiry)
    control = client._make_control_header(options.continue_on_error, control_extra, False)
    context = client._make_context_header(options.switches, options.correlation_id, options.context)
    job_request = make_job_request(control, context, actions)
    return await AsyncServiceHandler.of(handler).send_request(job_request, options.expiry, deadline=client._deadline)


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
    slots: list[Slot] = []
    outstanding: dict[str, set[int]] = {}
    received: dict[str, Responses] = {}
    receive_errors: dict[str, PySOATransportError] = {}
    try:
        for index, job in enumerate(jobs):
            service_name, job_actions = job_parts(index, job)
            try:
                request_id = await _send(client, service_name, job_actions, options)
            except PySOATransportError as e:
                if not options.catch_transport_errors:
                    raise
                slots.append((service_name, e))
                continue
            slots.append((service_name, request_id))
            outstanding.setdefault(service_name, set()).add(request_id)
        for service_name, request_ids in outstanding.items():
            received[service_name] = {}
            try:
                await _receive(client, service_name, request_ids, options.timeout, received[service_name])
            except PySOATransportError as e:
                if not options.catch_transport_errors:
                    raise
                receive_errors[service_name] = e
    finally:
        _abandon(client, outstanding)
    results = parallel_results(client, slots, received, receive_errors, options, expand=False)
    if options.expansions:
        await _expand(client, parallel_actions(results), options)
    return results


# The calls, with the parameters of their blocking twins (see `Client`).


async def call_action(
    client: 'Client',
    service_name: str,
    action: str,
    body: Body | None = None,
    expansions: Expansions | None = None,
    raise_job_errors: bool = True,
    raise_action_errors: bool = True,
    timeout: float | None = None,
    switches: Switches | None = None,
    correlation_id: str | None = None,
    context: Context | None = None,
    control_extra: Control | None = None,
) -> object:
    """`Client.call_action`, awaited."""
    options = CallOptions.of(locals())
    check_body(body)
    response = await _job(client, service_name, [ActionRequest(action=action, body=body or {})], options)
    # As `results.action_result`: the job's errors when they are not raised, else the action's response.
    return response.errors if response.errors else response.actions[0]


async def call_actions(
    client: 'Client',
    service_name: str,
    actions: Iterable[ActionRequestArgument],
    expansions: Expansions | None = None,
    raise_job_errors: bool = True,
    raise_action_errors: bool = True,
    timeout: float | None = None,
    switches: Switches | None = None,
    correlation_id: str | None = None,
    continue_on_error: bool = False,
    context: Context | None = None,
    control_extra: Control | None = None,
) -> object:
    """`Client.call_actions`, awaited."""
    return await _job(client, service_name, actions, CallOptions.of(locals()))


async def call_actions_parallel(
    client: 'Client',
    service_name: str,
    actions: Iterable[ActionRequestArgument],
    expansions: Expansions | None = None,
    raise_job_errors: bool = True,
    raise_action_errors: bool = True,
    catch_transport_errors: bool = False,
    timeout: float | None = None,
    switches: Switches | None = None,
    correlation_id: str | None = None,
    context: Context | None = None,
    control_extra: Control | None = None,
) -> object:
    """`Client.call_actions_parallel`, awaited."""
    options = CallOptions.of(locals())
    singles: list[JobRequestArgument] = [{'service_name': service_name, 'actions': [a]} for a in actions]
    return first_actions(await _jobs(client, singles, options))


async def call_jobs_parallel(
    client: 'Client',
    jobs: Iterable[JobRequestArgument],
    expansions: Expansions | None = None,
    raise_job_errors: bool = True,
    raise_action_errors: bool = True,
    catch_transport_errors: bool = False,
    timeout: float | None = None,
    switches: Switches | None = None,
    correlation_id: str | None = None,
    continue_on_error: bool = False,
    context: Context | None = None,
    control_extra: Control | None = None,
) -> object:
    """`Client.call_jobs_parallel`, awaited."""
    return await _jobs(client, jobs, CallOptions.of(locals()))


NATIVE_CALLS: dict[str, Callable[..., Awaitable[object]]] = {
    'call_action': call_action,
    'call_actions': call_actions,
    'call_actions_parallel': call_actions_parallel,
    'call_jobs_parallel': call_jobs_parallel,
}
"""The native coroutine of each blocking call, by the blocking call's name."""
