"""`Client`: calls actions on services by name, one at a time, several per job, or in parallel.

Every call goes out through `send_request` and comes back through `get_all_responses` (test
helpers such as `stub_action` wrap exactly those two methods). Responses are matched to requests
by request id: a response that arrives for another outstanding request of the same thread is kept
until its own caller asks for it, so futures can be resolved in any order.
"""

import os
from collections.abc import Collection, Generator, Iterable, Iterator, Mapping
from typing import Any

from pysoa.client.arguments import (
    action_requests_error,
    check_client_config,
    check_mapping,
    check_timeout,
    job_error,
    switches_error,
)
from pysoa.client.async_calls import async_twin, jobs_services, single_service
from pysoa.client.errors import (
    CallActionError,
    CallJobError,
    ImproperlyConfigured,
    InvalidExpansionKey,
)
from pysoa.client.expander import ExpansionConverter, Expansions, ExpansionSettings
from pysoa.client.expansion_runner import expand_responses, find_candidates
from pysoa.client.future import FutureSOAResponse
from pysoa.client.handler import ServiceHandler
from pysoa.client.matching import ResponseMatcher, Responses, no_response
from pysoa.client.settings import ClientSettings
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.types import ActionRequest, ActionResponse, Body, Context, Control, JobRequest, JobResponse

__all__ = (
    'ActionRequestArgument',
    'Client',
    'FutureSOAResponse',
    'JobRequestArgument',
    'ServiceHandler',
    'new_correlation_id',
)

ActionRequestArgument = ActionRequest | dict[str, Any]
"""An action to call: an `ActionRequest` or a dict with `action` and optionally `body`."""

JobRequestArgument = dict[str, Any]
"""A job to call in parallel: `{'service_name': str, 'actions': [ActionRequestArgument, ...]}`."""

Switches = Collection[int]

# Bits that make 128 random bits a version 4 (random) UUID: variant 10x, version 0100.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def new_correlation_id() -> str:
    """A new correlation id: a random (version 4) UUID as 32 hex digits, like `uuid.uuid4().hex` but cheaper."""
    return f'{(int.from_bytes(os.urandom(16)) & _UUID4_CLEAR) | _UUID4_SET:032x}'


class Client:
    """Calls actions on the services named in its configuration.

    `config` maps each service name to its `ClientSettings` dict (validated here, once).
    `expansion_config` (see `pysoa.client.expander`) enables expansions. `context` is the base
    context of every request this client sends; a server passes its incoming request's context
    here so that correlation id and switches flow down. The client a server gives its actions also
    keeps within the incoming request's expiry: its requests expire by then, its waits end by then,
    and after it a call fails at once (`MessageSendTimeout`, `MessageReceiveTimeout`).
    """

    settings_class: type[ClientSettings] = ClientSettings
    handler_class: type[ServiceHandler] = ServiceHandler

    FutureResponse = FutureSOAResponse

    # Unix seconds after which no call of this client may wait: set by the server on the clients it makes while
    # it handles a request, from that request's `__expiry__`. None (the default) means no deadline.
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
        self.settings: dict[str, ClientSettings] = {}
        self._shared_settings: set[str] = set()
        for service_name, service_config in self.config.items():
            if isinstance(service_config, self.settings_class):
                self.settings[service_name] = service_config
                self._shared_settings.add(service_name)
            else:
                self.settings[service_name] = self.settings_class(service_config)
        self.expansion_converter: ExpansionConverter | None = None
        if expansion_config:
            expansion_settings = ExpansionSettings(expansion_config)
            self.expansion_converter = ExpansionConverter(
                type_routes=expansion_settings['type_routes'],
                type_expansions=expansion_settings['type_expansions'],
            )
        self._matcher = ResponseMatcher()

    # Blocking calls: send, then wait for the response.

    def call_action(
        self,
        service_name: str,
        action: str,
        body: Body | None = None,
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> ActionResponse:
        """Call one action and return its response.

        Raises `CallJobError` for job errors (unless `raise_job_errors` is false: then the list of job
        errors is returned instead) and `CallActionError` for action errors (unless
        `raise_action_errors` is false). `timeout` (seconds) bounds both the request's life and the
        wait for the response. Transport errors propagate.
        """
        request_id = self._send_single_action(
            service_name, action, body, timeout, switches, correlation_id, context, control_extra
        )
        response = self._receive_job_response(service_name, request_id, timeout)
        return self._single_action_result(
            response,
            expansions,
            raise_job_errors,
            raise_action_errors,
            timeout,
            switches,
            correlation_id,
            context,
            control_extra,
        )

    def call_actions(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> JobResponse:
        """Call several actions in one job (run in order by the service) and return the job response.

        The service stops at the first action with errors unless `continue_on_error` is true. Errors
        are raised as for `call_action`.
        """
        request_id = self._send_job(
            service_name, actions, timeout, switches, correlation_id, continue_on_error, context, control_extra
        )
        response = self._receive_job_response(service_name, request_id, timeout)
        return self._job_result(
            response,
            expansions,
            raise_job_errors,
            raise_action_errors,
            timeout,
            switches,
            correlation_id,
            context,
            control_extra,
        )

    def call_actions_parallel(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> Generator[ActionResponse, None, None]:
        """Call each action as its own job, all sent before any is awaited; yield the responses in order.

        Errors are raised (before this returns) as for `call_action`. With `raise_job_errors` false an
        item may be a list of job errors; with `catch_transport_errors` true an item may be the
        transport exception that prevented its call.
        """
        return self.call_actions_parallel_future(
            service_name=service_name,
            actions=actions,
            expansions=expansions,
            raise_job_errors=raise_job_errors,
            raise_action_errors=raise_action_errors,
            catch_transport_errors=catch_transport_errors,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            context=context,
            control_extra=control_extra,
        ).result()

    def call_jobs_parallel(
        self,
        jobs: Iterable[JobRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> list[JobResponse]:
        """Send several jobs (`{'service_name': ..., 'actions': [...]}`), possibly to several services, all
        before any is awaited; return their job responses in order.

        Errors are raised as for `call_action`. With `catch_transport_errors` true an item may be the
        transport exception that prevented its job.
        """
        return self.call_jobs_parallel_future(
            jobs=jobs,
            expansions=expansions,
            raise_job_errors=raise_job_errors,
            raise_action_errors=raise_action_errors,
            catch_transport_errors=catch_transport_errors,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            continue_on_error=continue_on_error,
            context=context,
            control_extra=control_extra,
        ).result()

    # The sending half shared by each blocking call and its future twin.

    def _send_single_action(
        self,
        service_name: str,
        action: str,
        body: Body | None,
        timeout: int | None,
        switches: Switches | None,
        correlation_id: str | None,
        context: Context | None,
        control_extra: Control | None,
    ) -> int:
        if body is not None and not isinstance(body, dict):
            check_timeout(timeout)  # a bad timeout is reported first, as for every call
            raise TypeError(f'body must be a dict or None, not {type(body).__name__} {body!r}')
        return self._send_job(
            service_name,
            [ActionRequest(action=action, body=body or {})],
            timeout,
            switches,
            correlation_id,
            False,
            context,
            control_extra,
        )

    def _send_job(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        timeout: int | None,
        switches: Switches | None,
        correlation_id: str | None,
        continue_on_error: bool,
        context: Context | None,
        control_extra: Control | None,
    ) -> int:
        check_timeout(timeout)
        return self.send_request(
            service_name=service_name,
            actions=actions,
            switches=switches,
            correlation_id=correlation_id,
            continue_on_error=continue_on_error,
            context=context,
            control_extra=control_extra,
            message_expiry_in_seconds=timeout or None,
        )

    # Awaitable twins of the blocking calls (see pysoa.client.async_calls).

    call_action_async = async_twin(call_action, single_service)
    call_actions_async = async_twin(call_actions, single_service)
    call_actions_parallel_async = async_twin(call_actions_parallel, single_service)
    call_jobs_parallel_async = async_twin(call_jobs_parallel, jobs_services)

    # Non-blocking calls: send now, return a future that receives the response when asked.

    def call_action_future(
        self,
        service_name: str,
        action: str,
        body: Body | None = None,
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[ActionResponse]:
        """Like `call_action`, but return once the request is sent; the future's `result()` gives the response."""
        request_id = self._send_single_action(
            service_name, action, body, timeout, switches, correlation_id, context, control_extra
        )

        def get_response(result_timeout: int | None) -> ActionResponse:
            response = self._receive_job_response(service_name, request_id, result_timeout or timeout)
            return self._single_action_result(
                response,
                expansions,
                raise_job_errors,
                raise_action_errors,
                timeout,
                switches,
                correlation_id,
                context,
                control_extra,
            )

        return FutureSOAResponse(get_response)

    def call_actions_future(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[JobResponse]:
        """Like `call_actions`, but return once the request is sent; the future's `result()` gives the response."""
        request_id = self._send_job(
            service_name, actions, timeout, switches, correlation_id, continue_on_error, context, control_extra
        )

        def get_response(result_timeout: int | None) -> JobResponse:
            response = self._receive_job_response(service_name, request_id, result_timeout or timeout)
            return self._job_result(
                response,
                expansions,
                raise_job_errors,
                raise_action_errors,
                timeout,
                switches,
                correlation_id,
                context,
                control_extra,
            )

        return FutureSOAResponse(get_response)

    def call_actions_parallel_future(
        self,
        service_name: str,
        actions: Iterable[ActionRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[Generator[ActionResponse, None, None]]:
        """Like `call_actions_parallel`, but return once the requests are sent.

        The future's `result()` receives every response (raising errors then) and returns a generator
        of the action responses.
        """
        jobs_future = self.call_jobs_parallel_future(
            jobs=({'service_name': service_name, 'actions': [action]} for action in actions),
            expansions=expansions,
            raise_job_errors=raise_job_errors,
            raise_action_errors=raise_action_errors,
            catch_transport_errors=catch_transport_errors,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            context=context,
            control_extra=control_extra,
        )

        def get_response(result_timeout: int | None) -> Generator[ActionResponse, None, None]:
            # Receive (and raise) now, not when the caller starts iterating.
            return _first_actions(jobs_future.result(result_timeout))

        return FutureSOAResponse(get_response)

    def call_jobs_parallel_future(
        self,
        jobs: Iterable[JobRequestArgument],
        expansions: Expansions | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: int | None = None,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Context | None = None,
        control_extra: Control | None = None,
    ) -> FutureSOAResponse[list[JobResponse]]:
        """Like `call_jobs_parallel`, but return once the requests are sent; `result()` gives the list."""
        # One slot per job, in order: (service name, request id), or (service name, send error).
        check_timeout(timeout)
        slots: list[tuple[str, int | Exception]] = []
        outstanding: dict[str, set[int]] = {}
        for index, job in enumerate(jobs):
            try:
                service_name = job['service_name']
                job_actions = job['actions']
            except (KeyError, TypeError, IndexError):
                job_error(index, job)
            try:
                request_id = self.send_request(
                    service_name=service_name,
                    actions=job_actions,
                    switches=switches,
                    correlation_id=correlation_id,
                    continue_on_error=continue_on_error,
                    context=context,
                    control_extra=control_extra,
                    message_expiry_in_seconds=timeout or None,
                )
            except PySOATransportError as e:
                if not catch_transport_errors:
                    raise
                slots.append((service_name, e))
                continue
            slots.append((service_name, request_id))
            outstanding.setdefault(service_name, set()).add(request_id)

        # Kept across calls of get_response, so that a retry after a receive timeout loses nothing.
        received: dict[str, Responses] = {name: {} for name in outstanding}

        def get_response(result_timeout: int | None) -> list[JobResponse]:
            receive_errors: dict[str, Exception] = {}
            for name, request_ids in outstanding.items():
                try:
                    self._receive_job_responses(name, request_ids, result_timeout or timeout, received[name])
                except PySOATransportError as e:
                    if not catch_transport_errors:
                        raise
                    receive_errors[name] = e
            return self._parallel_results(
                slots,
                received,
                receive_errors,
                expansions,
                raise_job_errors,
                raise_action_errors,
                timeout,
                switches,
                correlation_id,
                context,
                control_extra,
            )

        return FutureSOAResponse(get_response)

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
        message_expiry_in_seconds: int | None = None,
        suppress_response: bool = False,
    ) -> int:
        """Build and send one job request; return its request id (for matching with `get_all_responses`).

        `context` and `control_extra` add to the context and control headers. With
        `suppress_response` the service runs the job but sends no response.
        """
        handler = self.handlers.get(service_name) or self._get_handler(service_name)
        check_timeout(message_expiry_in_seconds, 'message_expiry_in_seconds')
        check_mapping(control_extra, 'control_extra')
        if message_expiry_in_seconds and not (control_extra and 'timeout' in control_extra):
            control_extra = dict(control_extra or (), timeout=message_expiry_in_seconds)
        control = self._make_control_header(continue_on_error, control_extra, suppress_response)
        context_header = self._make_context_header(switches, correlation_id, context)
        try:
            # The attrs converter accepts dicts too.
            job_request = JobRequest(control=control, context=context_header, actions=actions)
        except (TypeError, AttributeError, ValueError):
            raise action_requests_error(actions) from None
        deadline = self._deadline
        if deadline is not None:
            return handler.send_request(job_request, message_expiry_in_seconds, deadline=deadline)
        return handler.send_request(job_request, message_expiry_in_seconds)

    def get_all_responses(
        self,
        service_name: str,
        receive_timeout_in_seconds: int | None = None,
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
        if earlier:
            return _chain(earlier, live)
        return live

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
            handler = _shared_handler(self.handler_class, service_name, settings)
        else:
            handler = self.handler_class(service_name, settings)
        self.handlers[service_name] = handler
        return handler

    @staticmethod
    def _make_control_header(
        continue_on_error: bool = False,
        control_extra: Control | None = None,
        suppress_response: bool = False,
    ) -> Control:
        control: Control = {'continue_on_error': continue_on_error, 'suppress_response': suppress_response}
        if control_extra:
            control.update(control_extra)
        return control

    def _make_context_header(
        self,
        switches: Switches | None = None,
        correlation_id: str | None = None,
        context_extra: Context | None = None,
    ) -> Context:
        check_mapping(context_extra, 'context')
        context: Context = dict(self.context) if self.context else {}
        if correlation_id is not None:
            context['correlation_id'] = correlation_id
        elif 'correlation_id' not in context:
            context['correlation_id'] = new_correlation_id()
        # Switches come from the client's context, the call and the call's context: their union goes out.
        base_switches = context.get('switches')
        extra_switches = context_extra.get('switches') if context_extra else None
        if base_switches or switches or extra_switches:
            if isinstance(switches, str | bytes | Mapping):
                raise switches_error(switches)
            merged = set(base_switches or ())
            try:
                merged.update(switches or ())
            except TypeError:
                raise switches_error(switches) from None
            try:
                merged.update(extra_switches or ())
            except TypeError:
                raise switches_error(extra_switches, "context['switches']") from None
            context['switches'] = list(merged)
        else:
            context['switches'] = []
        if context_extra:
            # The caller's dict is read, never modified.
            context.update((k, v) for k, v in context_extra.items() if k != 'switches')
        return context

    def _receive_job_response(self, service_name: str, request_id: int, timeout: int | None) -> JobResponse:
        return self._matcher.receive_one(self.get_all_responses, service_name, request_id, timeout)

    def _receive_job_responses(
        self,
        service_name: str,
        request_ids: Collection[int],
        timeout: int | None,
        into: Responses | None = None,
    ) -> Responses:
        return self._matcher.receive_many(
            self.get_all_responses,
            service_name,
            request_ids,
            timeout,
            {} if into is None else into,
        )

    def _single_action_result(
        self,
        response: JobResponse,
        expansions: Expansions | None,
        raise_job_errors: bool,
        raise_action_errors: bool,
        timeout: int | None,
        switches: Switches | None,
        correlation_id: str | None,
        context: Context | None,
        control_extra: Control | None,
    ) -> ActionResponse:
        job = self._job_result(
            response,
            expansions,
            raise_job_errors,
            raise_action_errors,
            timeout,
            switches,
            correlation_id,
            context,
            control_extra,
        )
        if job.errors:
            # Only when the caller asked not to raise job errors: 1.x returned the error list here.
            return job.errors  # type: ignore[return-value]
        return job.actions[0]

    def _job_result(
        self,
        response: JobResponse,
        expansions: Expansions | None,
        raise_job_errors: bool,
        raise_action_errors: bool,
        timeout: int | None,
        switches: Switches | None,
        correlation_id: str | None,
        context: Context | None,
        control_extra: Control | None,
    ) -> JobResponse:
        if response.errors and raise_job_errors:
            raise self.JobError(response.errors)
        if raise_action_errors:
            failed = [a for a in response.actions if a.errors]
            if failed:
                raise self.CallActionError(failed)
        if expansions:
            self._perform_expansion(
                response.actions,
                expansions,
                switches=switches,
                # Expansion calls belong to the same logical request: reuse its correlation id.
                correlation_id=correlation_id or response.context.get('correlation_id'),
                context=context,
                control_extra=control_extra,
                message_expiry_in_seconds=timeout or None,
            )
        return response

    def _parallel_results(
        self,
        slots: list[tuple[str, int | Exception]],
        received: dict[str, Responses],
        receive_errors: dict[str, Exception],
        expansions: Expansions | None,
        raise_job_errors: bool,
        raise_action_errors: bool,
        timeout: int | None,
        switches: Switches | None,
        correlation_id: str | None,
        context: Context | None,
        control_extra: Control | None,
    ) -> list[JobResponse]:
        results: list[Any] = []
        to_expand: list[ActionResponse] = []
        for service_name, request_id_or_error in slots:
            if isinstance(request_id_or_error, Exception):
                results.append(request_id_or_error)
                continue
            response = received[service_name].get(request_id_or_error)
            if response is None:
                if service_name in receive_errors:
                    results.append(receive_errors[service_name])
                    continue
                raise no_response(service_name, [request_id_or_error])
            if raise_job_errors and response.errors:
                raise self.JobError(response.errors)
            if raise_action_errors:
                failed = [a for a in response.actions if a.errors]
                if failed:
                    raise self.CallActionError(failed)
            if expansions:
                to_expand.extend(response.actions)
            results.append(response)
        if expansions:
            self._perform_expansion(
                to_expand,
                expansions,
                switches=switches,
                correlation_id=correlation_id,
                context=context,
                control_extra=control_extra,
                message_expiry_in_seconds=timeout or None,
            )
        return results

    def _perform_expansion(self, actions: Iterable[ActionResponse], expansions: Expansions, **kwargs: Any) -> None:
        """Expand objects in `actions`' bodies in place; `kwargs` are passed to `send_request` for each call."""
        if not expansions or self.expansion_converter is None:
            return
        try:
            trees = self.expansion_converter.dict_to_trees(expansions)
            candidates = find_candidates(trees, [a.body for a in actions])
        except KeyError as e:
            raise self.InvalidExpansionKey(f'Invalid key in expansion request: {e.args[0]}')
        expand_responses(self, trees, candidates, kwargs)


def _shared_handler(handler_class: type[ServiceHandler], service_name: str, settings: ClientSettings) -> ServiceHandler:
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


def _first_actions(job_responses: list[Any]) -> Generator[Any, None, None]:
    # Items are job responses, or caught transport errors (with catch_transport_errors); a job's errors
    # replace its action (with raise_job_errors=False), as in 1.x.
    for job in job_responses:
        if isinstance(job, Exception):
            yield job
        elif job.errors:
            yield job.errors
        else:
            yield job.actions[0]


def _chain(
    earlier: list[tuple[int, JobResponse]],
    live: Iterator[tuple[int, JobResponse]],
) -> Generator[tuple[int, JobResponse], None, None]:
    yield from earlier
    yield from live
