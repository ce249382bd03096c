"""Test cases that call a service in process: the request runs through the real client and server stacks
(middleware, request and response validation) over the local transport, without serialization or Redis.

- `ServerTestCase` (also named `PyTestServerTestCase`): a plain pytest class; `setup_method` makes `self.client`.
- `UnitTestServerTestCase`: a `unittest.TestCase`; `setUp` makes `self.client`.

Set `server_class` (and usually `server_settings`) on your subclass. Without `server_settings`, the settings come
from Django's `SOA_SERVER_SETTINGS` (for a `use_django` server) or from `SOA_SERVER_SETTINGS` in the module named by
the `PYSOA_SETTINGS_MODULE` environment variable.

Test classes written for PySOA 1.x (`setUp`, `addCleanup`, `assertEquals`, ...) still run, with deprecation warnings
whose messages start with `pysoa.test.legacy_assertions.DEPRECATION_PREFIX`; a suite that turns warnings into errors
can let them through with `filterwarnings = always:Deprecated PySOA test API:DeprecationWarning`.
"""

import importlib
import os
import traceback
import unittest
from collections.abc import Callable, Mapping
from typing import Literal, Unpack, overload

from pysoa.client.client import Client
from pysoa.client.options import CallActionKeywords
from pysoa.client.results import ActionResult
from pysoa.common.errors import Error
from pysoa.common.settings import SettingsData
from pysoa.common.types import ActionResponse, Body
from pysoa.server.server import Server
from pysoa.test.assertions import Codes, raises_call_action_error, raises_error_codes, raises_field_errors
from pysoa.test.legacy_assertions import UnitTestStyleAssertions, warn_deprecated

__all__ = (
    'BaseServerTestCase',
    'PyTestServerTestCase',
    'ServerTestCase',
    'UnitTestServerTestCase',
    'load_server_settings',
    'local_client_config',
    'make_service_client_class',
    'prepare_local_client',
)

LOCAL_CLIENT_TRANSPORT_PATH = 'pysoa.common.transport.local:LocalClientTransport'


def load_server_settings(server_class: type[Server]) -> Mapping[str, object]:
    """The settings of `server_class` from Django or from `PYSOA_SETTINGS_MODULE`; `AssertionError` if unavailable."""
    if server_class.use_django:
        from django.conf import settings as source
    else:
        module_name = os.environ.get('PYSOA_SETTINGS_MODULE')
        if not module_name:
            raise AssertionError('Set the PYSOA_SETTINGS_MODULE environment variable, or set `server_settings`.')
        try:
            source = importlib.import_module(module_name)
        except ImportError as error:
            raise AssertionError(f'Could not import PYSOA_SETTINGS_MODULE {module_name!r}: {error}')

    for name in ('SOA_SERVER_SETTINGS', 'settings'):
        try:
            found: Mapping[str, object] = getattr(source, name)
        except AttributeError:
            continue
        return found
    raise AssertionError(f'{source!r} defines neither SOA_SERVER_SETTINGS nor settings.')


def local_client_config(server_class: type[Server], server_settings: Mapping[str, object]) -> dict[str, SettingsData]:
    """Client configuration that reaches `server_class` over the local transport."""
    assert server_class.service_name, 'The server class has no service_name'
    return {
        server_class.service_name: {
            'transport': {
                'path': LOCAL_CLIENT_TRANSPORT_PATH,
                'kwargs': {'server_class': server_class, 'server_settings': dict(server_settings)},
            },
        },
    }


def prepare_local_client(client: Client, server_class: type[Server]) -> None:
    """Build the local server now and keep it from closing Django's connections after each request.

    Test frameworks wrap each Django test in a transaction on one connection; closing it would break the test.
    """
    assert server_class.service_name, 'The server class has no service_name'
    transport = client._get_handler(server_class.service_name).transport
    server = getattr(transport, 'server', None)
    if isinstance(server, Server):
        server._skip_django_database_cleanup = True


def make_service_client_class(server_class: type[Server]) -> type[Client]:
    """A `Client` subclass whose `call_action(action, body=None, service_name=None, ...)` defaults the service."""
    assert server_class.service_name, 'The server class has no service_name'
    default_service: str = server_class.service_name

    class ServiceClient(Client):
        """A client of the service under test."""

        @overload  # type: ignore[override]  # the service name moves to an optional keyword
        def call_action(
            self,
            action: str,
            body: Body | None = None,
            service_name: str | None = None,
            *,
            raise_job_errors: Literal[True] = True,
            **kwargs: Unpack[CallActionKeywords],
        ) -> ActionResponse: ...
        @overload
        def call_action(
            self,
            action: str,
            body: Body | None = None,
            service_name: str | None = None,
            *,
            raise_job_errors: bool,
            **kwargs: Unpack[CallActionKeywords],
        ) -> ActionResult: ...
        def call_action(
            self,
            action: str,
            body: Body | None = None,
            service_name: str | None = None,
            *,
            raise_job_errors: bool = True,
            **kwargs: Unpack[CallActionKeywords],
        ) -> ActionResult:
            """Call `action` on the service under test (or on `service_name`)."""
            return super().call_action(
                service_name or default_service, action, body=body, raise_job_errors=raise_job_errors, **kwargs
            )

    return ServiceClient


class BaseServerTestCase:
    """The service helpers shared by the test case classes: `setup_pysoa()` makes `self.client`."""

    server_class: type[Server] | None = None
    """Your `Server` subclass (required)."""

    server_settings: Mapping[str, object] | None = None
    """The settings for `server_class`; when `None`, they are loaded from Django or `PYSOA_SETTINGS_MODULE`."""

    client: Client
    service_name: str

    def setup_pysoa(self) -> None:
        """Make `self.client`, which calls `server_class` in process, and set `self.service_name`."""
        server_class = self.server_class
        if server_class is None:
            raise TypeError('Set `server_class` on your ServerTestCase subclass')
        if not isinstance(server_class, type) or not issubclass(server_class, Server):
            raise TypeError(f'`server_class` must be a Server subclass, not {server_class!r}')
        if not server_class.service_name:
            raise TypeError(f'{server_class.__name__}.service_name must be set')

        self.service_name = server_class.service_name
        settings = self.server_settings if self.server_settings is not None else load_server_settings(server_class)
        self.client = Client(local_client_config(server_class, settings))
        prepare_local_client(self.client, server_class)

    @overload
    def call_action(
        self,
        action: str,
        body: Body | None = None,
        service_name: str | None = None,
        *,
        raise_job_errors: Literal[True] = True,
        **kwargs: Unpack[CallActionKeywords],
    ) -> ActionResponse: ...
    @overload
    def call_action(
        self,
        action: str,
        body: Body | None = None,
        service_name: str | None = None,
        *,
        raise_job_errors: bool,
        **kwargs: Unpack[CallActionKeywords],
    ) -> ActionResult: ...
    def call_action(
        self,
        action: str,
        body: Body | None = None,
        service_name: str | None = None,
        *,
        raise_job_errors: bool = True,
        **kwargs: Unpack[CallActionKeywords],
    ) -> ActionResult:
        """Call `action` on the service under test (or on `service_name`); keyword arguments go to the client."""
        return self.client.call_action(
            service_name or self.service_name, action, body=body, raise_job_errors=raise_job_errors, **kwargs
        )

    def assertActionRunsWithAndReturnErrors(
        self, action: str, body: Body | None, **kwargs: Unpack[CallActionKeywords]
    ) -> list[Error]:
        """Call the action, assert it fails with errors, and return those errors."""
        with raises_call_action_error() as exc_info:
            self.call_action(action, body, **kwargs)
        return exc_info.soa_errors

    def assertActionRunsWithFieldErrors(
        self,
        action: str,
        body: Body | None,
        field_errors: Mapping[str, Codes],
        only: bool = False,
        **kwargs: Unpack[CallActionKeywords],
    ) -> None:
        """Call the action and assert it fails with these error codes on these fields (and only them, if `only`)."""
        with raises_field_errors(field_errors, only=only):
            self.call_action(action, body, **kwargs)

    def assertActionRunsWithOnlyFieldErrors(
        self,
        action: str,
        body: Body | None,
        field_errors: Mapping[str, Codes],
        **kwargs: Unpack[CallActionKeywords],
    ) -> None:
        """Call the action and assert it fails with these field errors and no other error."""
        self.assertActionRunsWithFieldErrors(action, body, field_errors, only=True, **kwargs)

    def assertActionRunsWithErrorCodes(
        self,
        action: str,
        body: Body | None,
        error_codes: Codes,
        only: bool = False,
        **kwargs: Unpack[CallActionKeywords],
    ) -> None:
        """Call the action and assert it fails with these (field-less) error codes (and only them, if `only`)."""
        with raises_error_codes(error_codes, only=only):
            self.call_action(action, body, **kwargs)

    def assertActionRunsWithOnlyErrorCodes(
        self,
        action: str,
        body: Body | None,
        error_codes: Codes,
        **kwargs: Unpack[CallActionKeywords],
    ) -> None:
        """Call the action and assert it fails with these error codes and no other error."""
        self.assertActionRunsWithErrorCodes(action, body, error_codes, only=True, **kwargs)


class UnitTestServerTestCase(unittest.TestCase, BaseServerTestCase):
    """A `unittest.TestCase` whose `setUp` makes `self.client` (call `super().setUp()` if you override it)."""

    def setUp(self) -> None:
        """Make `self.client`."""
        super().setUp()
        self.setup_pysoa()


def _overrides(cls: type, name: str) -> bool:
    """Whether `cls` replaces `PyTestServerTestCase`'s no-op `name` hook."""

    def function(owner: type) -> object:
        found = getattr(owner, name)
        return getattr(found, '__func__', found)  # classmethods bind anew on each access

    return function(cls) is not function(PyTestServerTestCase)


class PyTestServerTestCase(UnitTestStyleAssertions, BaseServerTestCase):
    """A pytest-style test class whose `setup_method` makes `self.client` (call `super().setup_method()`).

    Test classes written for PySOA 1.x keep working: their `setUpClass`, `setUp`, `tearDown` and `tearDownClass`
    are run (with a deprecation warning) from the pytest hooks, `addCleanup` works, and the `unittest`-style
    `self.assert*` methods are available.
    """

    _cleanups: list[tuple[Callable[..., object], tuple[object, ...], dict[str, object]]]

    @classmethod
    def setUpClass(cls) -> None:
        """Deprecated: override `setup_class` instead (and call `super().setup_class()`)."""

    @classmethod
    def tearDownClass(cls) -> None:
        """Deprecated: override `teardown_class` instead (and call `super().teardown_class()`)."""

    def setUp(self) -> None:
        """Deprecated: override `setup_method` instead (and call `super().setup_method()`)."""

    def tearDown(self) -> None:
        """Deprecated: override `teardown_method` instead (and call `super().teardown_method()`)."""

    @classmethod
    def setup_class(cls) -> None:
        """Run before the class's tests (runs a legacy `setUpClass` override)."""
        if _overrides(cls, 'setUpClass'):
            warn_deprecated('rename `ServerTestCase.setUpClass` to `setup_class` (it is no longer a unittest case).')
            cls.setUpClass()

    @classmethod
    def teardown_class(cls) -> None:
        """Run after the class's tests (runs a legacy `tearDownClass` override)."""
        if _overrides(cls, 'tearDownClass'):
            warn_deprecated(
                'rename `ServerTestCase.tearDownClass` to `teardown_class` (it is no longer a unittest case).'
            )
            cls.tearDownClass()

    def setup_method(self, method: object = None) -> None:
        """Make `self.client` before each test (then run a legacy `setUp` override)."""
        self._cleanups = []
        self.setup_pysoa()
        if _overrides(type(self), 'setUp'):
            warn_deprecated('rename `ServerTestCase.setUp` to `setup_method` (it is no longer a unittest case).')
            self.setUp()

    def teardown_method(self, method: object = None) -> None:
        """Run a legacy `tearDown` override, then the cleanups, after each test."""
        if _overrides(type(self), 'tearDown'):
            warn_deprecated('rename `ServerTestCase.tearDown` to `teardown_method` (it is no longer a unittest case).')
            self.tearDown()
        self.doCleanups()

    def addCleanup(self, function: Callable[..., object], *args: object, **kwargs: object) -> None:
        """Deprecated: register `function(*args, **kwargs)` to run after the test; clean up in `teardown_method`."""
        warn_deprecated('`ServerTestCase.addCleanup` will be removed; clean up in `teardown_method`.')
        self._cleanups.append((function, args, kwargs))

    def doCleanups(self) -> bool:
        """Run the registered cleanups, last first; re-raise the last one's failure, report earlier ones."""
        ok = True
        while self._cleanups:
            function, args, kwargs = self._cleanups.pop()
            try:
                function(*args, **kwargs)
            except Exception:
                if not self._cleanups:
                    raise
                ok = False
                traceback.print_exc()
        return ok


ServerTestCase = PyTestServerTestCase
"""The pytest-style test case (the same class as `PyTestServerTestCase`)."""
