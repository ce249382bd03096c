"""Status actions: versions, health checks, `verbose`, the factory and the default status action."""

import platform
import sys
import types
from typing import Any

import pytest

import pysoa.version
from pysoa.client import Client
from pysoa.common.errors import Error
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.schema import SCHEMA_VERSION
from pysoa.server import Server
from pysoa.server.action.status import (
    BaseStatusAction,
    CheckMethodReturn,
    CheckMethodStatus,
    StatusActionFactory,
    make_default_status_action_class,
)
from pysoa.server.errors import ActionError
from pysoa.server.types import EnrichedActionRequest


def _expected_conformity_version() -> str:
    # Conformity's own version where it is installed (what 1.x reported), else the pysoa.schema stand-in.
    try:
        import conformity
    except ImportError:
        return SCHEMA_VERSION
    return str(conformity.__version__)


VERSIONS = {
    'conformity': _expected_conformity_version(),
    'pysoa': pysoa.version.__version__,
    'python': platform.python_version(),
}


class ComplexStatus(BaseStatusAction):
    _version = '7.8.9'
    _build = 'complex-28381'

    def check_good(self, request: EnrichedActionRequest) -> CheckMethodReturn:
        self.diagnostics['check_good_called'] = True
        return None

    @staticmethod
    def check_warnings(request: EnrichedActionRequest) -> CheckMethodReturn:
        return ((False, 'FIRST_CODE', 'First warning'), CheckMethodStatus(False, 'SECOND_CODE', 'Second warning'))

    @staticmethod
    def check_errors(request: EnrichedActionRequest) -> Any:
        return [[True, 'ANOTHER_CODE', 'This is an error']]


def _status(body: dict[str, Any] | None = None, client: Any = None) -> EnrichedActionRequest:
    return EnrichedActionRequest(action='status', body=body if body is not None else {}, client=client)


def test_base_status_action_is_abstract() -> None:
    with pytest.raises(TypeError):
        BaseStatusAction()  # type: ignore[abstract]


def test_factory_status() -> None:
    action_class = StatusActionFactory('1.2.3', 'example-72')
    assert action_class.__name__ == 'StatusAction'
    assert issubclass(action_class, BaseStatusAction)
    response = action_class()(_status())
    assert isinstance(response, ActionResponse)
    assert response.body == {
        **VERSIONS,
        'build': 'example-72',
        'version': '1.2.3',
        'healthcheck': {'diagnostics': {}, 'errors': [], 'warnings': []},
    }


def test_factory_without_build_omits_it() -> None:
    body = StatusActionFactory('1.2.3')()(_status({'verbose': False})).body
    assert body == {**VERSIONS, 'version': '1.2.3'}


def test_factory_with_custom_base_class() -> None:
    action_class = StatusActionFactory('2.0', base_class=ComplexStatus)
    assert issubclass(action_class, ComplexStatus)
    body = action_class()(_status()).body
    assert body['version'] == '2.0'
    assert 'build' not in body
    assert body['healthcheck']['errors'] == [('ANOTHER_CODE', 'This is an error')]


@pytest.mark.parametrize('body', [{}, {'verbose': True}])
def test_health_checks_run_unless_verbose_false(body: dict[str, Any]) -> None:
    response = ComplexStatus()(_status(body))
    assert response.body == {
        **VERSIONS,
        'build': 'complex-28381',
        'version': '7.8.9',
        'healthcheck': {
            'diagnostics': {'check_good_called': True},
            'errors': [('ANOTHER_CODE', 'This is an error')],
            'warnings': [('FIRST_CODE', 'First warning'), ('SECOND_CODE', 'Second warning')],
        },
    }


def test_verbose_false_skips_checks() -> None:
    class Exploding(BaseStatusAction):
        _version = '1'

        def check_boom(self, request: EnrichedActionRequest) -> CheckMethodReturn:
            raise AssertionError('must not run')

    assert Exploding()(_status({'verbose': False})).body == {**VERSIONS, 'version': '1'}


def test_verbose_must_be_boolean() -> None:
    with pytest.raises(ActionError) as info:
        StatusActionFactory('1')()(_status({'verbose': 'no'}))
    assert [(e.code, e.field, e.is_caller_error) for e in info.value.errors] == [('INVALID', 'verbose', True)]


def test_check_with_wrong_signature() -> None:
    class WrongSignature(BaseStatusAction):
        _version = '1'

        def check_nothing(self) -> CheckMethodReturn:
            return None

    with pytest.raises(RuntimeError, match='one argument'):
        WrongSignature()(_status())


def test_check_with_wrong_return() -> None:
    class WrongReturn(BaseStatusAction):
        _version = '1'

        def check_nothing(self, request: EnrichedActionRequest) -> Any:
            return [(True, 'ONLY_CODE')]

    with pytest.raises(RuntimeError, match='iterable'):
        WrongReturn()(_status())


def test_make_default_status_action_class(monkeypatch: pytest.MonkeyPatch) -> None:
    class ServerOne:
        pass

    class ServerTwo:
        pass

    neat = types.ModuleType('neat_service')
    neat.__version__ = '1.6.3'  # type: ignore[attr-defined]
    cool = types.ModuleType('cooler_service')
    cool.__version__ = '3.15.5'  # type: ignore[attr-defined]
    cool.__build__ = 'cooler-3.15.5-af7ed3c'  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'neat_service', neat)
    monkeypatch.setitem(sys.modules, 'cooler_service', cool)
    ServerOne.__module__ = 'neat_service.server'
    ServerTwo.__module__ = 'cooler_service.further.lower.server'

    one = make_default_status_action_class(ServerOne)()  # type: ignore[arg-type]
    assert isinstance(one, BaseStatusAction)
    assert (one._version, one._build) == ('1.6.3', None)
    two = make_default_status_action_class(ServerTwo)()  # type: ignore[arg-type]
    assert (two._version, two._build) == ('3.15.5', 'cooler-3.15.5-af7ed3c')

    ServerOne.__module__ = 'no_such_module_anywhere'
    assert make_default_status_action_class(ServerOne)()._version == 'unknown'  # type: ignore[arg-type]


class FakeClient:
    """Stands in for `Client` in `_check_client_settings`: answers `call_jobs_parallel` from a table."""

    def __init__(self, settings: dict[str, Any], responses: list[Any] | Exception) -> None:
        self.settings = settings
        self.responses = responses
        self.jobs: list[Any] = []

    def call_jobs_parallel(self, jobs: list[Any], **kwargs: Any) -> list[Any]:
        self.jobs.append((jobs, kwargs))
        if isinstance(self.responses, Exception):
            raise self.responses
        return self.responses


class CheckOtherServices(BaseStatusAction):
    _version = '8.71.2'

    check_client_settings = BaseStatusAction._check_client_settings


def test_client_settings_check_is_off_by_default() -> None:
    client = FakeClient({'foo': {}}, AssertionError('must not be called'))
    body = StatusActionFactory('1')()(_status(client=client)).body
    assert body['healthcheck'] == {'diagnostics': {}, 'errors': [], 'warnings': []}


def test_client_settings_check_without_services() -> None:
    for client in (None, FakeClient({}, AssertionError('must not be called'))):
        body = CheckOtherServices()(_status(client=client)).body
        assert body == {
            **VERSIONS,
            'version': '8.71.2',
            'healthcheck': {'diagnostics': {}, 'errors': [], 'warnings': []},
        }


def test_client_settings_check_reports_each_service() -> None:
    baz_body = {'conformity': '1.2.3', 'pysoa': '1.0.2', 'python': '3.7.4', 'version': '9.7.8'}
    client = FakeClient(
        {'foo': {}, 'bar': {}, 'baz': {}, 'qux': {}},
        [
            JobResponse(errors=[Error('FOO_ERROR', 'Foo error')]),
            JobResponse(actions=[ActionResponse(action='status', errors=[Error('BAR_ERROR', 'Bar error')])]),
            JobResponse(actions=[ActionResponse(action='status', body=baz_body)]),
            MessageReceiveTimeout('Timeout calling qux'),
        ],
    )
    body = CheckOtherServices()(_status(client=client)).body

    jobs, kwargs = client.jobs[0]
    assert jobs == [
        {'service_name': name, 'actions': [{'action': 'status', 'body': {'verbose': False}}]}
        for name in ('foo', 'bar', 'baz', 'qux')
    ]
    assert kwargs == {
        'timeout': 2,
        'catch_transport_errors': True,
        'raise_action_errors': False,
        'raise_job_errors': False,
    }
    assert body['healthcheck']['warnings'] == []
    assert sorted(body['healthcheck']['errors']) == sorted(
        [
            ('FOO_CALL_ERROR', str([Error('FOO_ERROR', 'Foo error')])),
            ('BAR_STATUS_ERROR', str([Error('BAR_ERROR', 'Bar error')])),
            ('QUX_TRANSPORT_ERROR', 'Timeout calling qux'),
        ]
    )
    assert body['healthcheck']['diagnostics'] == {'services': {'baz': baz_body}}


def test_client_settings_check_when_the_client_fails() -> None:
    client = FakeClient({'foo': {}}, RuntimeError('no way'))
    body = CheckOtherServices()(_status(client=client)).body
    assert body['healthcheck']['errors'] == [('CHECK_SERVICES_UNKNOWN_ERROR', 'no way')]


class VersionedServer(Server):
    service_name = 'versioned_service'
    action_class_map = {'status': StatusActionFactory('4.5.6', 'build-9', base_class=ComplexStatus)}


class UnversionedServer(Server):
    service_name = 'unversioned_service'
    action_class_map = {}  # type: ignore[var-annotated]


def _client(server_class: type[Server]) -> Client:
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': server_class, 'server_settings': {}},
    }
    return Client({server_class.service_name: {'transport': transport}})


def test_status_through_a_server() -> None:
    body = _client(VersionedServer).call_action('versioned_service', 'status').body
    assert body['version'] == '4.5.6'
    assert body['build'] == 'build-9'
    # Tuples become lists only once serialized; the local transport hands the body over as it is.
    assert [tuple(e) for e in body['healthcheck']['errors']] == [('ANOTHER_CODE', 'This is an error')]


def test_default_status_action_of_a_server_without_one() -> None:
    client = _client(UnversionedServer)
    body = client.call_action('unversioned_service', 'status', {'verbose': False}).body
    assert body == {**VERSIONS, 'version': 'unknown'}
    response = client.call_actions(
        'unversioned_service', [{'action': 'status', 'body': {'verbose': 1}}], raise_action_errors=False
    )
    assert [(e.code, e.field) for e in response.actions[0].errors] == [('INVALID', 'verbose')]
