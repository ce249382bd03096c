"""The `status` action: versions of the service and its stack, plus optional health checks.

A service gets a status action by mapping `status` to `StatusActionFactory(version, build)`, by
subclassing `BaseStatusAction`, or, when it maps no `status` action at all, from the server, which
uses `make_default_status_action_class` (the version comes from the server class or its top-level package).

Health checks are methods named `check_<anything>`: each takes the request and returns `None` or an
iterable of `(is_error, code, description)`; errors and warnings are collected in `healthcheck`.
They run unless the request says `verbose: False`.
"""

import abc
import platform
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import pysoa.version
from pysoa.common.types import Body
from pysoa.schema import SCHEMA_VERSION, fields
from pysoa.server.action.base import Action
from pysoa.server.types import EnrichedActionRequest

if TYPE_CHECKING:
    from pysoa.server.server import Server
    from pysoa.server.settings import ServerSettings

__all__ = (
    'BaseStatusAction',
    'conformity_version',
    'CheckMethodReturn',
    'CheckMethodStatus',
    'StatusActionFactory',
    'make_default_status_action_class',
)


def conformity_version() -> str:
    """What `status` reports under `conformity`: Conformity's version if installed, else `pysoa.schema`'s.

    1.x clients read this key, so it stays; pysoa itself validates with `pysoa.schema` either way.
    """
    try:
        import conformity
    except ImportError:
        return SCHEMA_VERSION
    return str(conformity.__version__)


_CONFORMITY_VERSION = conformity_version()


class CheckMethodStatus(NamedTuple):
    """One problem found by a health check: an error (`is_error`) or else a warning."""

    is_error: bool
    code: str
    description: str


CheckMethodReturn = Iterable[CheckMethodStatus | tuple[bool, str, str]] | None
"""What a `check_` method returns: `None` (or anything empty) when all is well."""

_PROBLEM = fields.Tuple(
    fields.UnicodeString(description='A code that identifies the problem and never changes'),
    fields.UnicodeString(description='A human-readable explanation of the problem'),
)


class BaseStatusAction(Action):
    """Base of status actions: subclasses give `_version` (and optionally `_build`) and may add `check_` methods.

    `_check_client_settings` is a ready-made check, off by default: enable it with
    `check_client_settings = BaseStatusAction._check_client_settings` to report the status of every
    service this one is configured to call.
    """

    description = (
        'Reports the version of the service (and its build, when it has one) and the versions of Python, PySOA and '
        "Conformity that it runs on. Unless `verbose` is false, it also runs the service's health checks and reports "
        'their errors, warnings and diagnostics under `healthcheck`; with `verbose: false` no health check runs and '
        '`healthcheck` is left out, which makes it a cheap way to ask for the version.'
    )

    request_schema = fields.Dictionary(
        {
            'verbose': fields.Boolean(
                description='Set to false to skip the health checks and get only the version information (defaults '
                'to true).',
            ),
        },
        optional_keys=('verbose',),
    )

    response_schema = fields.Dictionary(
        {
            'build': fields.UnicodeString(description='The build identifier of the service, when it has one.'),
            'conformity': fields.UnicodeString(
                description='The installed Conformity version, else the `pysoa.schema` version (its stand-in).'
            ),
            'healthcheck': fields.Dictionary(
                {
                    'warnings': fields.List(
                        _PROBLEM,
                        description='The warnings reported by the health checks, as (code, description) pairs.',
                    ),
                    'errors': fields.List(
                        _PROBLEM,
                        description='The errors reported by the health checks, as (code, description) pairs.',
                    ),
                    'diagnostics': fields.SchemalessDictionary(
                        key_type=fields.UnicodeString(),
                        description='Any further information that the health checks chose to report.',
                    ),
                },
                optional_keys=('warnings', 'errors', 'diagnostics'),
                description='The outcome of the health checks (absent when `verbose` was false).',
            ),
            'pysoa': fields.UnicodeString(description='The PySOA version the service runs on.'),
            'python': fields.UnicodeString(description='The Python version the service runs on.'),
            'version': fields.UnicodeString(description='The version of the service.'),
        },
        optional_keys=('build', 'healthcheck'),
    )

    def __init__(self, settings: 'ServerSettings | None' = None) -> None:
        """Start with empty diagnostics; subclasses that override this must call `super().__init__(settings)`."""
        super().__init__(settings)
        self.diagnostics: dict[str, Any] = {}

    @property
    @abc.abstractmethod
    def _version(self) -> str:
        """The version of the service (a subclass may simply assign a string)."""

    @property
    def _build(self) -> str | None:
        """The build identifier of the service, if it has one."""
        return None

    def run(self, request: EnrichedActionRequest) -> Body:
        """Report the versions, then run the `check_` methods unless the request says `verbose: False`."""
        status: Body = {
            'conformity': _CONFORMITY_VERSION,
            'pysoa': pysoa.version.__version__,
            'python': platform.python_version(),
            'version': self._version,
        }
        build = self._build
        if build:
            status['build'] = build

        if request.body.get('verbose', True) is not False:
            status['healthcheck'] = self._run_checks(request)
        return status

    def _run_checks(self, request: EnrichedActionRequest) -> Body:
        errors: list[tuple[str, str]] = []
        warnings: list[tuple[str, str]] = []
        self.diagnostics = {}

        # dir() rather than the class __dict__, so that inherited checks run too.
        for name in dir(self):
            if not name.startswith('check_'):
                continue
            check = getattr(self, name)
            if not callable(check):
                continue
            try:
                problems = check(request)
            except TypeError as e:
                raise RuntimeError(
                    f'Status check {name} failed; check_* methods must accept one argument, the request: {e}'
                ) from e
            if not problems:
                continue
            try:
                for is_error, code, problem_description in problems:
                    (errors if is_error else warnings).append((code, problem_description))
            except (TypeError, ValueError) as e:
                raise RuntimeError(
                    f'Status check {name} returned {problems!r}; check_* methods must return None or an iterable of '
                    f'(is_error, code, description) tuples'
                ) from e

        return {'errors': errors, 'warnings': warnings, 'diagnostics': self.diagnostics}

    def _check_client_settings(self, request: EnrichedActionRequest) -> CheckMethodReturn:
        """Call `status` (not verbose) on every service in the client's settings and report those that fail."""
        client = request.client
        if client is None or not client.settings:
            return None

        services: dict[str, object] = {}
        self.diagnostics['services'] = services
        service_names = list(client.settings)
        try:
            responses = client.call_jobs_parallel(
                [
                    {'service_name': name, 'actions': [{'action': 'status', 'body': {'verbose': False}}]}
                    for name in service_names
                ],
                timeout=2,
                catch_transport_errors=True,
                raise_action_errors=False,
                raise_job_errors=False,
            )
        except Exception as e:
            return [CheckMethodStatus(True, 'CHECK_SERVICES_UNKNOWN_ERROR', str(e))]

        problems: list[CheckMethodStatus] = []
        for name, response in zip(service_names, responses, strict=True):
            prefix = name.upper()
            if isinstance(response, Exception):
                problems.append(CheckMethodStatus(True, f'{prefix}_TRANSPORT_ERROR', str(response)))
            elif response.errors:
                problems.append(CheckMethodStatus(True, f'{prefix}_CALL_ERROR', str(response.errors)))
            elif response.actions[0].errors:
                problems.append(CheckMethodStatus(True, f'{prefix}_STATUS_ERROR', str(response.actions[0].errors)))
            else:
                services[name] = response.actions[0].body
        return problems


def StatusActionFactory(
    version: str,
    build: str | None = None,
    base_class: type[BaseStatusAction] = BaseStatusAction,
) -> type[BaseStatusAction]:
    """Make a status action class, named `StatusAction`, that reports the given version and build."""
    # Plain class attributes satisfy the abstract `_version` property just as well as a property would.
    return cast(
        type[BaseStatusAction],
        type('StatusAction', (base_class,), {'_version': version, '_build': build, '__module__': __name__}),
    )


def make_default_status_action_class(server_class: 'type[Server]') -> type[BaseStatusAction]:
    """Make the status action of a server that maps none.

    The version is the server class's `service_version` attribute, else the `__version__` of its top-level
    package, else `'unknown'`; the build is that package's `__build__`, if any.
    """
    package = sys.modules.get(server_class.__module__.split('.')[0])
    version = getattr(server_class, 'service_version', None) or getattr(package, '__version__', None)
    build = getattr(package, '__build__', None)
    return StatusActionFactory(str(version) if version else 'unknown', str(build) if build else None)
