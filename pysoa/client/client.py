"""`Client`: calls actions on services by name, one at a time, several per job, or in parallel.

Every call goes out through `send_request` and comes back through `get_all_responses` (which `stub_action`
wraps). Responses are matched to requests by id: one that arrives for another outstanding request of the
thread is kept until its caller asks for it, so futures can be resolved in any order.

A public call gathers its options into one `CallOptions`; `calls` sends its jobs and makes the future,
`headers` makes the request headers, `results` turns responses into results or errors. A blocking call
is its future's `result()`, an awaitable one runs the blocking one (`async_calls`)."""

import itertools
from collections.abc import Collection, Generator, Iterable, Iterator, Mapping
from typing import Any, Literal, overload

from pysoa.client.arguments import (
    ActionRequestArgument,
    JobRequestArgument,
    check_client_config,
    one_action,
    one_action_jobs,
)
from pysoa.client.async_calls import async_twin, jobs_services, single_service
from pysoa.client.calls import job_future, job_request, jobs_future
from pysoa.client.errors import CallActionError, CallJobError, ImproperlyConfigured, InvalidExpansionKey
from pysoa.client.expander import ExpansionConverter, Expansions
from pysoa.client.future import FutureSOAResponse, blocking_twin
from pysoa.client.handler import ServiceHandler, shared_handler
from pysoa.client.headers import make_context_header, make_control_header, new_correlation_id
from pysoa.client.matching import ResponseMatcher, Responses
from pysoa.client.options import CallOptions, Switches
from pysoa.client.results import ActionResult, JobResult, ParallelActionResult, action_result, first_actions, job_result
from pysoa.client.settings import ClientSettings
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.types import ActionResponse, Body, Context, Control, JobResponse

__all__ = (
    'ActionRequestArgument',
    'Client',
    'FutureSOAResponse',
    'JobRequestArgument',
    'ServiceHandler',
    'new_correlation_id',
)


class Client:
    """Calls actions on the services named in its configuration.

    `config` maps each service name to its `ClientSettings` dict (validated here, once). `expansion_config`
    (see `pysoa.client.expander`) enables expansions. `context` is the base context of every request this
    client sends; a server passes its incoming request's context here so that correlation id and switches
    flow down. The client a server gives its actions also keeps within the incoming request's expiry: its
    requests expire by then, its waits end by then, and after it a call fails at once (`MessageSendTimeout`).
    """

    settings_class: type[ClientSettings] = ClientSettings
    handler_class: type[ServiceHandler] = ServiceHandler

    FutureResponse = FutureSOAResponse

    # Unix seconds after which no call of this client may wait (None: no deadline); see `Server.make_client`.
    _deadline: float | None = None

    ImproperlyConfigured = ImproperlyConfigured
    """Alias of `pysoa.client.errors.ImproperlyConfigured`."""
    InvalidExpansionKey = InvalidExpansionKey
    """Alias of `pysoa.client.errors.InvalidExpansionKey`."""
    JobError = CallJobError
    """Alias of `pysoa.client.errors.CallJobError`."""
    CallJobError = CallJobError
    """Alias of `pysoa.client.errors.CallJobError`."""
    CallActionError = CallActionError
    """Alias of `pysoa.client.errors.CallActionError`."""

    def __init__(
        self,
        config: Mapping[str, dict[str, Any] | ClientSettings],
        expansion_config: dict[str, Any] | None = None,
        settings_class: type[ClientSettings] | None = None,
        context: Context | None = None,
    ) -> None:
        self.settings_class = settings_class or type(self).settings_class
        self.context: Context = context or {}
        self.handlers: dict[str, ServiceHandler] = {}
        self.config: Mapping[str, dict[str, Any] | ClientSettings] = config or {}
        check_client_config(self.config, self.settings_class, self.settings_class.ImproperlyConfigured)
        # A value that is already a validated settings object (a server passes the same ones to every
        # per-job client) is used as it is, not validated again, and its handler is shared: see _get_handler.
        self.settings: dict[str, ClientSettings] = {
            name: c if isinstance(c, self.settings_class) else self.settings_class(c) for name, c in self.config.items()
        }
        self._shared_settings = {name for name, c in self.config.items() if c is self.settings[name]}
        self.expansion_converter = ExpansionConverter.from_config(expansion_config) if expansion_config else None
        self._matcher = ResponseMatcher()

    # Non-blocking calls: send now, return a future that receives the response when asked.

    @overload
    def call_action_future(
        self,
        service_name: str,
        action: str,
        body: Body | None = None,
        expansions: Expansions | None = None,
        raise_job_errors: Literal[True] = True,
        raise_action_errors: bool = True,
        timeout: float | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[ActionResponse]: ...
    @overload
    def call_action_future(
        self,
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
    ) -> FutureSOAResponse[ActionResult]: ...
    def call_action_future(
        self,
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
    ) -> FutureSOAResponse[ActionResult]:
        """Like `call_action`, but return once the request is sent; the future's `result()` gives the response."""
        options = CallOptions.of(locals())
        request_id = self._send(service_name, one_action(action, body), options)
        return job_future(self, service_name, request_id, options, action_result)

    def call_actions_future(
        self,
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
    ) -> FutureSOAResponse[JobResponse]:
        """Like `call_actions`, but return once the request is sent; the future's `result()` gives the response."""
        options = CallOptions.of(locals())
        request_id = self._send(service_name, actions, options)
        return job_future(self, service_name, request_id, options, job_result)

    @overload
    def call_actions_parallel_future(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: Literal[True] = True,
        raise_action_errors: bool = True,
        catch_transport_errors: Literal[False] = False,
        timeout: float | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[Generator[ActionResponse, None, None]]: ...
    @overload
    def call_actions_parallel_future(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: Literal[False] = False,
        timeout: float | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[Generator[ActionResult, None, None]]: ...
    @overload
    def call_actions_parallel_future(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: Literal[True] = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: float | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[Generator[ActionResponse | PySOATransportError, None, None]]: ...
    @overload
    def call_actions_parallel_future(
        self,
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
    ) -> FutureSOAResponse[Generator[ParallelActionResult, None, None]]: ...
    def call_actions_parallel_future(
        self,
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
    ) -> FutureSOAResponse[Generator[ParallelActionResult, None, None]]:
        """Like `call_actions_parallel`, but return once the requests are sent; `result()` receives every
        response (raising errors then) and returns a generator of the action responses."""
        options = CallOptions.of(locals())
        # Through the public method, as in 1.x: a subclass that overrides it changes parallel actions too.
        singles = one_action_jobs(service_name, actions)
        jobs: FutureSOAResponse[list[JobResult]] = self.call_jobs_parallel_future(singles, **options.as_kwargs())

        def get_response(result_timeout: float | None) -> Generator[ParallelActionResult, None, None]:
            # Receive (and raise) now, not when the caller starts iterating.
            return first_actions(jobs.result(result_timeout))

        return FutureSOAResponse(get_response)

    @overload
    def call_jobs_parallel_future(
        self,
        jobs: Iterable[JobRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: Literal[False] = False,
        timeout: float | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[list[JobResponse]]: ...
    @overload
    def call_jobs_parallel_future(
        self,
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
    ) -> FutureSOAResponse[list[JobResult]]: ...
    def call_jobs_parallel_future(
        self,
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
    ) -> FutureSOAResponse[list[JobResult]] | FutureSOAResponse[list[JobResponse]]:
        """Like `call_jobs_parallel`, but return once the requests are sent; `result()` gives the list."""
        return jobs_future(self, jobs, CallOptions.of(locals()))

    # Blocking calls: send, then wait for the response (the future twin's `result()`).

    call_action = blocking_twin(
        """Call one action and return its response.

        Raises `CallJobError` for job errors (unless `raise_job_errors` is false: then the list of job
        errors is returned instead) and `CallActionError` for action errors (unless
        `raise_action_errors` is false). `timeout` (seconds) bounds both the request's life and the
        wait for the response. Transport errors propagate.
        """,
    )(call_action_future)
    call_actions = blocking_twin(
        """Call several actions in one job (run in order by the service) and return the job response.

        The service stops at the first action with errors unless `continue_on_error` is true. Errors
        are raised as for `call_action`.
        """,
    )(call_actions_future)
    call_actions_parallel = blocking_twin(
        """Call each action as its own job, all sent before any is awaited; yield the responses in order.

        Errors are raised (before this returns) as for `call_action`. With `raise_job_errors` false an
        item may be a list of job errors; with `catch_transport_errors` true an item may be the
        transport exception that prevented its call.
        """,
    )(call_actions_parallel_future)
    call_jobs_parallel = blocking_twin(
        """Send several jobs (`{'service_name': ..., 'actions': [...]}`), possibly to several services, all
        before any is awaited; return their job responses in order.

        Errors are raised as for `call_action`. With `catch_transport_errors` true an item may be the
        transport exception that prevented its job.
        """,
    )(call_jobs_parallel_future)

    # Awaitable twins of the blocking calls (see pysoa.client.async_calls).

    call_action_async = async_twin(single_service)(call_action)
    call_actions_async = async_twin(single_service)(call_actions)
    call_actions_parallel_async = async_twin(single_service)(call_actions_parallel)
    call_jobs_parallel_async = async_twin(jobs_services)(call_jobs_parallel)

    # Low-level: send a request now, collect responses later.

    def send_request(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        switches: Switches | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Context | None = None,
        control_extra: Control | None = None,
        message_expiry_in_seconds: float | None = None,
        suppress_response: bool = False,
    ) -> int:
        """Build and send one job request; return its request id (for matching with `get_all_responses`).

        `context` and `control_extra` add to the context and control headers. With
        `suppress_response` the service runs the job but sends no response.
        """
        handler = self.handlers.get(service_name) or self._get_handler(service_name)
        headers = (switches, correlation_id, continue_on_error, context, control_extra)
        request = job_request(self, actions, *headers, message_expiry_in_seconds, suppress_response)
        deadline = self._deadline
        if deadline is not None:
            return handler.send_request(request, message_expiry_in_seconds, deadline=deadline)
        return handler.send_request(request, message_expiry_in_seconds)

    def get_all_responses(
        self,
        service_name: str,
        receive_timeout_in_seconds: float | None = None,
    ) -> Iterator[tuple[int, JobResponse]]:
        """Yield `(request_id, job_response)` for every response outstanding from the service on this thread.

        Raises `MessageReceiveTimeout` if an outstanding response does not arrive in time.
        """
        handler = self._get_handler(service_name)
        deadline = self._deadline
        if deadline is not None:
            live = handler.get_all_responses(receive_timeout_in_seconds, deadline=deadline)
        else:
            live = handler.get_all_responses(receive_timeout_in_seconds)
        earlier = self._matcher.take_kept(service_name)
        return itertools.chain(earlier, live) if earlier else live

    # Helpers (upstream names kept where subclasses and test helpers call them).

    def _get_handler(self, service_name: str) -> ServiceHandler:
        handler = self.handlers.get(service_name)
        if handler is not None:
            return handler
        if not isinstance(service_name, str):
            raise ValueError(f'Called service name "{service_name}" must be a str')
        settings = self.settings.get(service_name)
        if settings is None:
            configured = ', '.join(f'"{name}"' for name in sorted(self.settings)) or 'none'
            raise self.ImproperlyConfigured(
                f'Unrecognized service name "{service_name}" (configured services: {configured})',
            )
        if service_name in self._shared_settings:
            handler = shared_handler(self.handler_class, service_name, settings)
        else:
            handler = self.handler_class(service_name, settings)
        # Threads making their first call at once may each build one; all must share the first stored.
        return self.handlers.setdefault(service_name, handler)

    # 1.x code calls and patches these two.
    _make_control_header = staticmethod(make_control_header)

    def _make_context_header(
        self,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context_extra: Context | None = None,
    ) -> Context:
        return make_context_header(self.context, switches, correlation_id, context_extra)

    def _send(self, service_name: str, actions: Iterable[ActionRequestArgument], options: CallOptions) -> int:
        """Send one job with the call's options, through `send_request` (which test helpers wrap)."""
        return self.send_request(
            service_name=service_name,
            actions=actions,
            switches=options.switches,
            correlation_id=options.correlation_id,
            continue_on_error=options.continue_on_error,
            context=options.context,
            control_extra=options.control_extra,
            message_expiry_in_seconds=options.expiry,
        )

    def _receive_job_response(self, service_name: str, request_id: int, timeout: float | None) -> JobResponse:
        return self._matcher.receive_one(self.get_all_responses, service_name, request_id, timeout)

    def _receive_job_responses(
        self,
        service_name: str,
        request_ids: Collection[int],
        timeout: float | None,
        into: Responses | None = None,
    ) -> Responses:
        return self._matcher.receive_many(self.get_all_responses, service_name, request_ids, timeout, into)
