"""Test doubles for code that calls services: `stub_action` (and, for `StubClient`, `pysoa.test.stub_client`).

`stub_action(service, action)` replaces one action of one service, in every `Client`, for the duration of a `with`
block, a decorated test, or `start()`/`stop()`. The stub is a `MagicMock` called with each request body; what it
returns (or raises) becomes the action's response:

- a dict is the response body; an `ActionResponse` is used as it is; a `JobResponse` contributes its errors to the
  job and its first action response, if any; anything else is an empty response;
- `ActionError` gives the action those errors; `JobError` gives the job those errors and stops it;
  `MessageReceiveError`/`MessageReceiveTimeout` are raised when the response is collected; other exceptions
  propagate out of the call.

Stubbed and real actions may be mixed in one job: the real ones go to the service in one request, and the
responses are merged back in order. As on a server, the job stops at the first action with errors unless
`continue_on_error` is set; real actions after a stubbed action that stops the job are not sent. Stubs answer
when the request is sent, so a stub placed after a real action that fails is still called. (How the calls are
routed: `pysoa.test.stub_routing`.)
"""

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypedDict, TypeVar, cast

from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse, Body, JobResponse
from pysoa.server.errors import ActionError, JobError
from pysoa.test.compatibility import mock
from pysoa.test.stub_client import (
    Errors,
    StubClient,
    StubClientSettings,
    StubClientTransport,
    StubClientTransportSchema,
    StubServer,
)
from pysoa.test.stub_routing import StubRouter

__all__ = (
    'Errors',
    'StubActionMock',
    'StubClient',
    'StubClientSettings',
    'StubClientTransport',
    'StubClientTransportSchema',
    'StubServer',
    'StubbedBody',
    'get_stubbed_requests',
    'get_stubbed_responses',
    'stub_action',
)


_Decorated = TypeVar('_Decorated', bound=Callable[..., object])
_Class = TypeVar('_Class', bound=type)


class StubActionMock(mock.MagicMock):
    """The mock behind a stubbed action; it is called with each request body."""

    @property
    def call_body(self) -> Body | None:
        """The body of the latest call, or `None` if there was none."""
        return self.call_args[0][0] if self.called else None

    @property
    def call_bodies(self) -> tuple[Body, ...]:
        """The bodies of all calls, in order."""
        return tuple(call[0][0] for call in self.call_args_list)


class StubbedBody(TypedDict):
    """A request or response body that went through a stub, with the service and action it was for."""

    service: str
    action: str
    body: Body


_stubbed_requests: list[StubbedBody] = []
_stubbed_responses: list[StubbedBody] = []


def get_stubbed_requests() -> list[StubbedBody]:
    """Every `{'service', 'action', 'body'}` request body that a stub received (when it registers contracts)."""
    return _stubbed_requests


def get_stubbed_responses() -> list[StubbedBody]:
    """Every `{'service', 'action', 'body'}` response body that a stub gave (when it registers contracts)."""
    return _stubbed_responses


_router = StubRouter()


class stub_action:
    """Stub `service`'s `action` in every `Client`: a context manager, a decorator, or `start()`/`stop()`.

    The stub is a `StubActionMock` called with each request body. It answers with `body` (or `errors`, which take
    precedence) unless given a `side_effect` or later a `return_value`/`side_effect` (see the module docstring for
    what these may be). As a decorator, like `mock.patch`, it passes the mock as an extra positional argument after
    the test's own (the innermost decorator's first), and on a class it decorates each `test*` method.
    """

    _MockAction = StubActionMock  # PySOA 1.x's name for the mock class

    def __init__(
        self,
        service: str,
        action: str,
        body: Body | None = None,
        errors: Errors | None = None,
        side_effect: object = None,
        register_response_schema_contract: bool = True,
        register_request_schema_contract: bool = True,
    ) -> None:
        if not isinstance(service, str):
            raise ValueError(f'The stubbed service name must be a str, not {service!r}')
        if not isinstance(action, str):
            raise ValueError(f'The stubbed action name must be a str, not {action!r}')
        self.service = service
        self.action = action
        self.body = body or {}
        self.errors: list[Any] = list(errors or ())
        self.side_effect = side_effect
        self.register_response_schema_contract = register_response_schema_contract
        self.register_request_schema_contract = register_request_schema_contract
        self.enabled = False
        self.mock: StubActionMock | None = None
        # What `mock.patch` decorators look for on their fellow patchers, and pytest to count the injected arguments.
        self.attribute_name: str | None = None
        self.new = mock.DEFAULT

    def copy(self) -> 'stub_action':
        """A new, inactive stub with the same settings."""
        return type(self)(
            self.service,
            self.action,
            self.body,
            self.errors,
            self.side_effect,
            self.register_response_schema_contract,
            self.register_request_schema_contract,
        )

    def __enter__(self) -> StubActionMock:
        if self.enabled:
            assert self.mock is not None
            return self.mock
        stub_mock = StubActionMock(name=f'{self.service}.{self.action}')
        if self.body or self.errors:
            stub_mock.return_value = ActionResponse(self.action, errors=self.errors, body=self.body)
        if isinstance(self.side_effect, Mapping):
            # A mock would iterate a dict side effect (its keys); a body given here is meant as the answer.
            stub_mock.return_value = self.side_effect
        elif self.side_effect is not None:
            stub_mock.side_effect = self.side_effect
        self.mock = stub_mock
        _router.activate(self)
        self.enabled = True
        return stub_mock

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        if self.enabled:
            _router.deactivate(self)
            self.enabled = False

    def start(self) -> StubActionMock:
        """Activate the stub and return its mock (pair with `stop()`)."""
        return self.__enter__()

    def stop(self) -> None:
        """Deactivate the stub."""
        self.__exit__()

    @property
    def is_local(self) -> bool:
        """Whether the stub is active (the name `mock.patch` uses)."""
        return self.enabled

    def respond(self, body: Body) -> tuple[ActionResponse | None, list[Error]]:
        """Call the mock with `body`; return the action response (if any) and any job errors."""
        assert self.mock is not None
        if self.register_request_schema_contract:
            _stubbed_requests.append({'service': self.service, 'action': self.action, 'body': body})
        job_errors: list[Error] = []
        try:
            answer = self.mock(body)
        except ActionError as error:
            answer = ActionResponse(self.action, errors=error.errors)
        except JobError as error:
            return None, list(error.errors)
        if isinstance(answer, JobResponse):
            job_errors = list(answer.errors)
            answer = answer.actions[0] if answer.actions else None
        elif isinstance(answer, Mapping):
            answer = ActionResponse(self.action, body=dict(answer))
        elif not isinstance(answer, ActionResponse):
            answer = ActionResponse(self.action)
        if answer is not None and self.register_response_schema_contract:
            _stubbed_responses.append({'service': self.service, 'action': self.action, 'body': answer.body})
        return answer, job_errors

    def __call__(self, target: _Decorated) -> _Decorated:
        if isinstance(target, type):
            return cast(_Decorated, self.decorate_class(target))
        return self.decorate_callable(target)

    def decorate_class(self, klass: _Class) -> _Class:
        """Decorate each `test*` method of `klass`, each with its own copy of this stub."""
        for name in dir(klass):
            if not name.startswith(mock.patch.TEST_PREFIX):
                continue
            method = getattr(klass, name)
            if callable(method):
                setattr(klass, name, self.copy()(method))
        return klass

    def decorate_callable(self, func: _Decorated) -> _Decorated:
        """Wrap `func` so that the stub is active during each call and its mock is passed as an extra argument."""
        patchings = getattr(func, 'patchings', None)
        if patchings is not None:
            # Already wrapped by a fellow patcher (this class or `mock.patch`): join its list instead of nesting.
            patchings.append(self)
            return func

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: object, **kwargs: object) -> object:
                with _entered(async_wrapper, args, kwargs) as (all_args, all_kwargs):
                    return await cast('Awaitable[object]', func(*all_args, **all_kwargs))  # a coroutine function

            # `Any`: `mock.patch`'s decorators share an untyped `patchings` attribute on the function they wrap.
            wrapper: Any = async_wrapper
        else:

            @functools.wraps(func)
            def sync_wrapper(*args: object, **kwargs: object) -> object:
                with _entered(sync_wrapper, args, kwargs) as (all_args, all_kwargs):
                    return func(*all_args, **all_kwargs)

            wrapper = sync_wrapper
        wrapper.patchings = [self]
        return cast(_Decorated, wrapper)


@contextlib.contextmanager
def _entered(
    wrapper: Any,  # see `decorate_callable`
    args: tuple[object, ...],
    kwargs: dict[str, object],
) -> Iterator[tuple[tuple[object, ...], dict[str, object]]]:
    """Enter every patcher of a wrapped function, as `mock.patch` does, and give the arguments to call it with."""
    extra: list[object] = []
    kwargs = dict(kwargs)
    with contextlib.ExitStack() as stack:
        for patching in wrapper.patchings:
            value = stack.enter_context(patching)
            if patching.attribute_name is not None:
                kwargs.update(value)
            elif patching.new is mock.DEFAULT:
                extra.append(value)
        yield (*args, *extra), kwargs
