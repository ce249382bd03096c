"""From received job responses to what a `Client.call_*` method returns or raises.

Blocking, future and awaitable calls all end here, so errors are raised (job errors first, then
action errors) and expansions performed the same way for each. Which errors are raised is up to the
call's `CallOptions`; an error not raised is returned in its place, as 1.x did.
"""

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING

import attrs

from pysoa.client.expansion_runner import perform_expansions
from pysoa.client.matching import Responses, no_response
from pysoa.client.options import CallOptions
from pysoa.common.errors import Error
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.types import ActionResponse, JobResponse

if TYPE_CHECKING:  # the client imports this module
    from pysoa.client.client import Client

__all__ = (
    'ActionResult',
    'JobResult',
    'ParallelActionResult',
    'Slot',
    'action_result',
    'expansion_options',
    'first_action',
    'first_actions',
    'job_result',
    'parallel_actions',
    'parallel_results',
    'raise_errors',
)

ActionResult = ActionResponse | list[Error]
"""What a single-action call gives: the action's response, or the job's errors if they are not raised."""

JobResult = JobResponse | PySOATransportError
"""An item of a parallel jobs call: the job's response, or the transport error caught in its place."""

ParallelActionResult = ActionResponse | list[Error] | PySOATransportError
"""An item of a parallel actions call: an `ActionResult`, or the transport error caught in its place."""

Slot = tuple[str, int | PySOATransportError]
"""One job of a parallel call, in order: its service, and its request id or the error that stopped its sending."""


def raise_errors(client: 'Client', response: JobResponse, options: CallOptions) -> None:
    """Raise the client's `JobError` or `CallActionError` for the errors in `response` that `options` raise."""
    if options.raise_job_errors and response.errors:
        raise client.JobError(response.errors)
    if options.raise_action_errors:
        failed = [a for a in response.actions if a.errors]
        if failed:
            raise client.CallActionError(failed)


def job_result(client: 'Client', response: JobResponse, options: CallOptions) -> JobResponse:
    """The response of a single-job call, its errors raised and its actions expanded as `options` ask."""
    raise_errors(client, response, options)
    if options.expansions:
        perform_expansions(client, response.actions, expansion_options(response, options))
    return response


def expansion_options(response: JobResponse, options: CallOptions) -> CallOptions:
    """The options of the expansion calls of a single-job call's response."""
    # Expansion calls belong to the same logical request: they reuse its correlation id.
    correlation_id = options.correlation_id or response.context.get('correlation_id')
    return attrs.evolve(options, correlation_id=correlation_id)


def action_result(client: 'Client', response: JobResponse, options: CallOptions) -> ActionResult:
    """The result of a single-action call: its response, or the job's errors when they are not raised."""
    return first_action(job_result(client, response, options))


def first_action(job: JobResponse) -> ActionResult:
    """What a single-action call returns of its (checked) job response: the job's errors if any, else its action."""
    return job.errors if job.errors else job.actions[0]


def parallel_results(
    client: 'Client',
    slots: list[Slot],
    received: Mapping[str, Responses],
    receive_errors: Mapping[str, PySOATransportError],
    options: CallOptions,
    expand: bool = True,
) -> list[JobResult]:
    """The results of a parallel call, in the order of `slots`; errors raised and actions expanded as for one job.

    A slot whose response was not received because receiving from its service failed gets that
    error (only kept in `receive_errors` when the call catches transport errors). Without `expand`, the caller
    performs the expansions (the asyncio calls await them).
    """
    results: list[JobResult] = []
    for service_name, request_id_or_error in slots:
        if isinstance(request_id_or_error, PySOATransportError):
            results.append(request_id_or_error)
            continue
        response = received[service_name].get(request_id_or_error)
        if response is None:
            if service_name in receive_errors:
                results.append(receive_errors[service_name])
                continue
            raise no_response(service_name, [request_id_or_error])
        raise_errors(client, response, options)
        results.append(response)
    if expand and options.expansions:
        perform_expansions(client, parallel_actions(results), options)
    return results


def parallel_actions(results: list[JobResult]) -> list[ActionResponse]:
    """Every action response among a parallel call's results (what its expansions look into)."""
    return [a for r in results if isinstance(r, JobResponse) for a in r.actions]


def first_actions(results: list[JobResult]) -> Generator[ParallelActionResult, None, None]:
    """Each one-action job's result as `call_actions_parallel` yields it: its action, its errors, or a caught error."""
    for job in results:
        yield job if isinstance(job, PySOATransportError) else first_action(job)
