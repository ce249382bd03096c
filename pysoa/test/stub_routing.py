"""The machinery behind `stub_action`: routing each action of each client call to a stub or to the real service.

While at least one stub is active, `Client.send_request` and `Client.get_all_responses` are replaced by routing
versions; the originals are put back when the last stub stops. Every call path of the client goes through these two
methods, so this one seam covers blocking, future and parallel calls, and clients that servers make for their actions.

Stubs answer when the request is sent (real actions after a stubbed action that stops the job are not sent at all);
the real remainder of a job goes to the service as one request, and its response is merged with the stubbed answers
when it is collected. Stub-only jobs get negative request ids, so they never collide with a client's own.
"""

import functools
import inspect
import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import attr

from pysoa.client.client import Client
from pysoa.client.errors import ImproperlyConfigured
from pysoa.common.errors import Error
from pysoa.common.transport.errors import MessageReceiveError, MessageReceiveTimeout
from pysoa.common.types import ActionRequest, ActionResponse, Body, JobResponse

__all__ = ('ActiveStub', 'StubRouter')


class ActiveStub(Protocol):
    """What the router needs of a stub: which action it replaces, and its answer to a request body."""

    service: str
    action: str

    def respond(self, body: Body) -> tuple[ActionResponse | None, list[Error]]:
        """The action response (or `None` if the job stopped) and any job errors; may raise a transport error."""
        ...


@attr.s(slots=True)
class _StubbedJob:
    """The stubbed half of a job whose other actions went to the real service."""

    continue_on_error: bool = attr.ib()
    stubbed_positions: list[bool] = attr.ib()
    results: dict[int, ActionResponse] = attr.ib()
    job_errors: list[Error] = attr.ib()
    transport_error: Exception | None = attr.ib()

    def merge(self, real: JobResponse) -> JobResponse:
        """Interleave the real action responses with the stubbed ones, in request order, stopping where the job did."""
        if self.transport_error is not None:
            raise self.transport_error
        real_actions = iter(real.actions)
        merged: list[ActionResponse] = []
        for position, stubbed in enumerate(self.stubbed_positions):
            response = self.results.get(position) if stubbed else next(real_actions, None)
            if response is None:
                break
            merged.append(response)
            if response.errors and not self.continue_on_error:
                break
        real.actions = merged
        real.errors = [*real.errors, *self.job_errors]
        return real


@attr.s(slots=True)
class _ClientState:
    """What one client has in flight through stubs, per service."""

    merges: dict[str, dict[int, _StubbedJob]] = attr.ib(factory=dict)
    ready: dict[str, dict[int, JobResponse | Exception]] = attr.ib(factory=dict)
    real_requests_sent: set[str] = attr.ib(factory=set)


def _run_stubs(
    requests: list[ActionRequest], stubs: list[ActiveStub | None], continue_on_error: bool
) -> tuple[dict[int, ActionResponse], list[Error], Exception | None, int]:
    """Call the stubs of a job in order, as a server would run its actions.

    Returns the stubs' responses by position, the job errors, the transport error a stub raised (if any) and the
    position from which no action runs, because the job stopped before it.
    """
    results: dict[int, ActionResponse] = {}
    job_errors: list[Error] = []
    for position, (request, stub) in enumerate(zip(requests, stubs, strict=True)):
        if stub is None:
            continue
        try:
            response, errors = stub.respond(request.body or {})
        except (MessageReceiveError, MessageReceiveTimeout) as error:
            return results, job_errors, error, position
        job_errors.extend(errors)
        if response is not None:
            results[position] = response
        if errors or response is None:
            return results, job_errors, None, position if response is None else position + 1
        if response.errors and not continue_on_error:
            return results, job_errors, None, position + 1
    return results, job_errors, None, len(requests)


class StubRouter:
    """Replaces `Client.send_request`/`get_all_responses` while any stub is active, and routes each action."""

    _patched_names = ('send_request', 'get_all_responses')

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._active: list[ActiveStub] = []
        self._saved: dict[str, object] = {}
        self._states: weakref.WeakKeyDictionary[Client, _ClientState] = weakref.WeakKeyDictionary()
        # Negative, so stubbed request ids never collide with a client's (positive) ones.
        self._request_ids = itertools.count(-1, -1)
        self._send_signature: inspect.Signature | None = None

    def activate(self, stub: ActiveStub) -> None:
        """Start routing `stub`'s action to it (installing the routing methods if it is the first stub)."""
        with self._lock:
            if not self._active:
                self._install()
            self._active.append(stub)

    def deactivate(self, stub: ActiveStub) -> None:
        """Stop routing to `stub` (restoring the client's own methods if it was the last stub)."""
        with self._lock:
            self._active.remove(stub)
            if not self._active:
                self._uninstall()

    def _install(self) -> None:
        self._saved = {name: Client.__dict__.get(name) for name in self._patched_names}
        original_send = Client.send_request
        original_get_all = Client.get_all_responses
        self._send_signature = inspect.signature(original_send)
        router = self

        @functools.wraps(original_send)
        def send_request(client: Client, *args: object, **kwargs: object) -> int:
            return router.send_request(original_send, client, *args, **kwargs)

        @functools.wraps(original_get_all)
        def get_all_responses(
            client: Client, service_name: str, *args: object, **kwargs: object
        ) -> Iterator[tuple[int, JobResponse]]:
            return router.get_all_responses(original_get_all, client, service_name, *args, **kwargs)

        # Patched on the class, so that every client (as in 1.x) routes through the stubs.
        Client.send_request = send_request  # type: ignore[method-assign,assignment]  # a deliberate class patch
        Client.get_all_responses = get_all_responses  # type: ignore[method-assign,assignment]  # a deliberate class patch

    def _uninstall(self) -> None:
        for name, original in self._saved.items():
            if original is None:
                delattr(Client, name)
            else:
                setattr(Client, name, original)
        self._saved = {}
        self._states = weakref.WeakKeyDictionary()

    def _find_stub(self, service_name: str, action: str) -> ActiveStub | None:
        for stub in reversed(self._active):
            if stub.service == service_name and stub.action == action:
                return stub
        return None

    def _state(self, client: Client) -> _ClientState:
        with self._lock:
            state = self._states.get(client)
            if state is None:
                state = self._states[client] = _ClientState()
            return state

    def send_request(self, original: Callable[..., int], client: Client, *args: object, **kwargs: object) -> int:
        """`Client.send_request` with stubs: stubbed actions answer now, the rest go to `original` as one job."""
        assert self._send_signature is not None
        call = self._send_signature.bind(client, *args, **kwargs)
        call.apply_defaults()
        service_name: str = call.arguments['service_name']
        if not isinstance(service_name, str):
            raise ValueError(f'The service name must be a str, not {service_name!r}')
        given_actions = list(call.arguments['actions'])
        requests = [a if isinstance(a, ActionRequest) else ActionRequest(**a) for a in given_actions]
        stubs = [self._find_stub(service_name, r.action) for r in requests]
        if not any(stubs):
            return original(*call.args, **call.kwargs)

        continue_on_error = bool(call.arguments.get('continue_on_error'))
        results, job_errors, transport_error, end = _run_stubs(requests, stubs, continue_on_error)

        state = self._state(client)
        real_actions = [a for position, a in enumerate(given_actions[:end]) if stubs[position] is None]
        suppressed = bool(call.arguments.get('suppress_response'))
        if real_actions:
            call.arguments['actions'] = real_actions
            request_id = original(*call.args, **call.kwargs)
            state.real_requests_sent.add(service_name)
            if not suppressed:
                state.merges.setdefault(service_name, {})[request_id] = _StubbedJob(
                    continue_on_error=continue_on_error,
                    stubbed_positions=[stub is not None for stub in stubs[:end]],
                    results=results,
                    job_errors=job_errors,
                    transport_error=transport_error,
                )
            return request_id

        request_id = next(self._request_ids)
        if not suppressed:
            ready: JobResponse | Exception
            if transport_error is not None:
                ready = transport_error
            else:
                ready = JobResponse(errors=job_errors, actions=[results[p] for p in sorted(results)])
            state.ready.setdefault(service_name, {})[request_id] = ready
        return request_id

    def get_all_responses(
        self,
        original: Callable[..., Iterable[tuple[int, JobResponse]]],
        client: Client,
        service_name: str,
        *args: object,
        **kwargs: object,
    ) -> Iterator[tuple[int, JobResponse]]:
        """`Client.get_all_responses` with stubs: real responses merged with their stubbed parts, then the rest."""
        state = self._state(client)
        merges = state.merges.get(service_name, {})
        try:
            for request_id, response in original(client, service_name, *args, **kwargs):
                job = merges.pop(request_id, None)
                yield request_id, (job.merge(response) if job is not None else response)
        except ImproperlyConfigured:
            # A service that only stubs have answered need not be configured on the client.
            if service_name in state.real_requests_sent:
                raise
        ready = state.ready.pop(service_name, {})
        for request_id, response_or_error in ready.items():
            if isinstance(response_or_error, Exception):
                raise response_or_error
            yield request_id, response_or_error
