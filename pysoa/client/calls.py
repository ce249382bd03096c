"""The steps of a call between its options and its result: send its jobs, and make the future that receives them.

Jobs go out through `Client.send_request` and responses come in through `Client.get_all_responses`
(test helpers wrap both); the future turns the responses into the call's result with
`pysoa.client.results`.
"""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

import attrs

from pysoa.client.arguments import (
    ActionRequestArgument,
    JobRequestArgument,
    check_mapping,
    check_timeout,
    job_parts,
    make_job_request,
)
from pysoa.client.future import FutureSOAResponse
from pysoa.client.headers import with_expiry
from pysoa.client.matching import Responses
from pysoa.client.options import CallOptions, Switches
from pysoa.client.results import JobResult, Slot, parallel_results
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.types import Context, Control, JobRequest, JobResponse

if TYPE_CHECKING:  # the client imports this module
    from pysoa.client.client import Client

__all__ = ('SentJobs', 'caught', 'job_future', 'job_request', 'jobs_future')

_T = TypeVar('_T')


def job_request(
    client: 'Client',
    actions: Iterable[ActionRequestArgument],
    switches: Switches | None,
    correlation_id: str | None,
    continue_on_error: bool,
    context: Context | None,
    control_extra: Control | None,
    expiry: float | None,
    suppress_response: bool,
) -> JobRequest:
    """The job request `Client.send_request` sends (the asyncio calls build theirs here too).

    The headers come from the client's own `_make_control_header` and `_make_context_header`, which 1.x code
    patches. `expiry` is the request's `message_expiry_in_seconds`.
    """
    check_timeout(expiry, 'message_expiry_in_seconds')
    check_mapping(control_extra, 'control_extra')
    control = client._make_control_header(continue_on_error, with_expiry(control_extra, expiry), suppress_response)
    context_header = client._make_context_header(switches, correlation_id, context)
    return make_job_request(control, context_header, actions)


def job_future(
    client: 'Client',
    service_name: str,
    request_id: int,
    options: CallOptions,
    finish: Callable[['Client', JobResponse, CallOptions], _T],
) -> FutureSOAResponse[_T]:
    """The future of one sent job: it receives the response, then `finish` makes the result of it."""

    def get_response(result_timeout: float | None) -> _T:
        response = client._receive_job_response(service_name, request_id, result_timeout or options.timeout)
        return finish(client, response, options)

    return FutureSOAResponse(get_response)


def jobs_future(
    client: 'Client', jobs: Iterable[JobRequestArgument], options: CallOptions
) -> FutureSOAResponse[list[JobResult]]:
    """Send every job now; the future receives all their responses and makes the results of them."""
    sent = SentJobs()
    for index, job in enumerate(jobs):
        service_name, job_actions = job_parts(index, job)
        try:
            sent.add(service_name, client._send(service_name, job_actions, options))
        except PySOATransportError as e:
            sent.add(service_name, caught(options, e))
    # Kept across calls of get_response, so that a retry after a receive timeout loses nothing.
    received: dict[str, Responses] = {name: {} for name in sent.outstanding}

    def get_response(result_timeout: float | None) -> list[JobResult]:
        receive_errors: dict[str, PySOATransportError] = {}
        for name, request_ids in sent.outstanding.items():
            try:
                client._receive_job_responses(name, request_ids, result_timeout or options.timeout, received[name])
            except PySOATransportError as e:
                receive_errors[name] = caught(options, e)
        return parallel_results(client, sent.slots, received, receive_errors, options)

    return FutureSOAResponse(get_response)


@attrs.define
class SentJobs:
    """The jobs of a parallel call as they are sent (by the blocking and the asyncio calls alike)."""

    slots: list[Slot] = attrs.Factory(list)
    """A slot per job, in order."""
    outstanding: dict[str, set[int]] = attrs.Factory(dict)
    """The request ids sent to each service."""

    def add(self, service_name: str, outcome: int | PySOATransportError) -> None:
        """Note the next job: its request id, or the transport error caught in its place."""
        self.slots.append((service_name, outcome))
        if not isinstance(outcome, PySOATransportError):
            self.outstanding.setdefault(service_name, set()).add(outcome)


def caught(options: CallOptions, error: PySOATransportError) -> PySOATransportError:
    """`error`, to stand in its job's place, when the call catches transport errors; else it is raised again."""
    if not options.catch_transport_errors:
        raise error
    return error
