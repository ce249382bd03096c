"""pysoa.test.server: the test case classes that call a service in process."""

import logging
import re
import sys
import types
import unittest
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse
from pysoa.schema import fields
from pysoa.server.action.base import Action
from pysoa.server.errors import ActionError
from pysoa.server.middleware import ServerMiddleware, ServerMiddlewareActionTask
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.compatibility import mock
from pysoa.test.legacy_assertions import DEPRECATION_PREFIX
from pysoa.test.server import BaseServerTestCase, PyTestServerTestCase, ServerTestCase, UnitTestServerTestCase

Failed = pytest.fail.Exception


class HelloAction(Action):
    request_schema = fields.Dictionary(
        {'name': fields.UnicodeString(), 'errors': fields.Integer()},
        optional_keys=('errors',),
    )

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        if request.body.get('errors') == 1:
            raise ActionError([Error('FOO', 'Foo error')])
        if request.body.get('errors') == 2:
            raise ActionError([Error('BAZ', 'Baz error'), Error('QUX', 'Qux error')])
        return {'salutation': f'Hello, {request.body["name"]}'}


class HelloServer(Server):
    service_name = 'hello'
    action_class_map = {'hello': HelloAction}


class DjangoHelloServer(HelloServer):
    use_django = True


class TaggingMiddleware(ServerMiddleware):
    """Marks each action response, so a test can see that the configured middleware ran."""

    def action(self, process_action: ServerMiddlewareActionTask) -> ServerMiddlewareActionTask:
        def wrapped(request: EnrichedActionRequest) -> ActionResponse:
            response = process_action(request)
            response.body['tagged'] = True
            return response

        return wrapped


TAGGING_SETTINGS = {'middleware': [{'path': f'{__name__}:TaggingMiddleware'}]}


@pytest.fixture
def case() -> BaseServerTestCase:
    return BaseServerTestCase()


@pytest.fixture
def settings_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType('h5_fake_settings')
    with mock.patch.dict(sys.modules, {module.__name__: module}):
        yield module


# --- BaseServerTestCase.setup_pysoa ---


@pytest.mark.parametrize('server_class', [None, object, 'hello', Server])
def test_setup_refuses_a_missing_or_incomplete_server_class(case: BaseServerTestCase, server_class: Any) -> None:
    case.server_class = server_class
    case.server_settings = {}
    with pytest.raises(TypeError):
        case.setup_pysoa()


def test_setup_with_explicit_settings_runs_the_server_stack(case: BaseServerTestCase) -> None:
    case.server_class = HelloServer
    case.server_settings = TAGGING_SETTINGS
    case.setup_pysoa()

    assert case.service_name == 'hello'
    response = case.call_action('hello', {'name': 'Nick'})
    assert response.body == {'salutation': 'Hello, Nick', 'tagged': True}
    assert TAGGING_SETTINGS == {'middleware': [{'path': f'{__name__}:TaggingMiddleware'}]}


def test_setup_takes_django_settings_for_a_django_server(case: BaseServerTestCase) -> None:
    django, django_conf = mock.MagicMock(), mock.MagicMock()
    django_conf.settings.SOA_SERVER_SETTINGS = TAGGING_SETTINGS
    case.server_class = DjangoHelloServer
    with mock.patch.dict(sys.modules, {'django': django, 'django.conf': django_conf}):
        case.setup_pysoa()
    assert case.call_action('hello', {'name': 'Dj'}).body['tagged'] is True
    server = case.client._get_handler('hello').transport.server  # type: ignore[attr-defined]
    assert server._skip_django_database_cleanup is True


def test_setup_takes_settings_from_pysoa_settings_module(
    case: BaseServerTestCase,
    settings_module: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings_module.SOA_SERVER_SETTINGS = TAGGING_SETTINGS  # type: ignore[attr-defined]
    monkeypatch.setenv('PYSOA_SETTINGS_MODULE', settings_module.__name__)
    case.server_class = HelloServer
    case.setup_pysoa()
    assert case.call_action('hello', {'name': 'Env'}).body['tagged'] is True


def test_setup_fails_without_a_settings_module(case: BaseServerTestCase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('PYSOA_SETTINGS_MODULE', raising=False)
    case.server_class = HelloServer
    with pytest.raises(AssertionError, match='PYSOA_SETTINGS_MODULE'):
        case.setup_pysoa()


def test_setup_fails_on_an_unimportable_settings_module(
    case: BaseServerTestCase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv('PYSOA_SETTINGS_MODULE', 'h5_no_such_module.settings')
    case.server_class = HelloServer
    with pytest.raises(AssertionError, match='h5_no_such_module'):
        case.setup_pysoa()


def test_setup_fails_when_the_settings_module_has_no_settings(
    case: BaseServerTestCase,
    settings_module: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv('PYSOA_SETTINGS_MODULE', settings_module.__name__)
    case.server_class = HelloServer
    with pytest.raises(AssertionError, match='SOA_SERVER_SETTINGS'):
        case.setup_pysoa()


# --- the assertion helpers ---


@pytest.fixture
def ready_case(case: BaseServerTestCase) -> BaseServerTestCase:
    case.server_class = HelloServer
    case.server_settings = {}
    case.setup_pysoa()
    return case


def test_call_action_can_name_another_service(ready_case: BaseServerTestCase) -> None:
    with pytest.raises(ready_case.client.ImproperlyConfigured):
        ready_case.call_action('hello', {'name': 'x'}, service_name='elsewhere')


def test_assert_runs_with_and_return_errors(ready_case: BaseServerTestCase) -> None:
    errors = ready_case.assertActionRunsWithAndReturnErrors('nope', {})
    assert [(e.code, e.field) for e in errors] == [('UNKNOWN', 'action')]
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithAndReturnErrors('hello', {'name': 'Bear'})


def test_assert_runs_with_field_errors(ready_case: BaseServerTestCase) -> None:
    ready_case.assertActionRunsWithFieldErrors('hello', {}, {'name': 'MISSING'})
    ready_case.assertActionRunsWithOnlyFieldErrors('hello', {}, {'name': ['MISSING']})
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithFieldErrors('hello', {'name': 'Bear'}, {'name': ['MISSING']})
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithFieldErrors('hello', {}, {'name': ['MISSING', 'NOPE']})
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithOnlyFieldErrors('hello', {'errors': 'x'}, {'name': ['MISSING']})


def test_assert_runs_with_error_codes(ready_case: BaseServerTestCase) -> None:
    ready_case.assertActionRunsWithErrorCodes('hello', {'name': 'Bear', 'errors': 2}, ['BAZ'])
    ready_case.assertActionRunsWithErrorCodes('hello', {'name': 'Bear', 'errors': 2}, 'QUX')
    ready_case.assertActionRunsWithOnlyErrorCodes('hello', {'name': 'Bear', 'errors': 2}, ['BAZ', 'QUX'])
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithErrorCodes('hello', {'name': 'Bear'}, ['FOO'])
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithErrorCodes('hello', {'name': 'Bear', 'errors': 1}, ['BAZ'])
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithOnlyErrorCodes('hello', {'name': 'Bear', 'errors': 2}, ['BAZ'])
    with pytest.raises(Failed):
        ready_case.assertActionRunsWithOnlyErrorCodes('hello', {'name': 'Bear', 'errors': 1}, ['FOO', 'QUX'])


# --- the two concrete test case classes, used as users use them ---


class TestUnitTestServerTestCase(UnitTestServerTestCase):
    server_class = HelloServer
    server_settings = TAGGING_SETTINGS

    def test_client_calls_the_service(self) -> None:
        self.assertEqual('hello', self.service_name)
        response = self.call_action('hello', {'name': 'Unit'})
        self.assertEqual({'salutation': 'Hello, Unit', 'tagged': True}, response.body)


def test_unittest_case_without_server_class_errors_in_set_up() -> None:
    class Incomplete(UnitTestServerTestCase):
        def test_nothing(self) -> None:
            pass

    result = unittest.TestResult()
    Incomplete('test_nothing').run(result)
    assert len(result.errors) == 1
    assert 'server_class' in result.errors[0][1]


class TestPyTestServerTestCase(PyTestServerTestCase):
    server_class = HelloServer
    server_settings = {}

    def test_client_calls_the_service(self) -> None:
        assert self.call_action('hello', {'name': 'Py'}).body == {'salutation': 'Hello, Py'}

    def test_server_test_case_is_the_pytest_class(self) -> None:
        assert ServerTestCase is PyTestServerTestCase


def _deprecations(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, DeprecationWarning)]


def test_legacy_unittest_hooks_run_with_deprecation_warnings() -> None:
    calls = []

    class Legacy(PyTestServerTestCase):
        server_class = HelloServer
        server_settings = {}

        @classmethod
        def setUpClass(cls) -> None:
            calls.append('setUpClass')

        @classmethod
        def tearDownClass(cls) -> None:
            calls.append('tearDownClass')

        def setUp(self) -> None:
            calls.append(f'setUp with client: {hasattr(self, "client")}')

        def tearDown(self) -> None:
            calls.append('tearDown')

    case = Legacy()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        Legacy.setup_class()
        case.setup_method()
        case.teardown_method()
        Legacy.teardown_class()

    assert calls == ['setUpClass', 'setUp with client: True', 'tearDown', 'tearDownClass']
    messages = _deprecations(record)
    assert len(messages) == 4
    assert all(m.startswith(DEPRECATION_PREFIX) for m in messages)


def test_modern_hooks_issue_no_warnings() -> None:
    class Modern(PyTestServerTestCase):
        server_class = HelloServer
        server_settings = {}

    case = Modern()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        Modern.setup_class()
        case.setup_method()
        case.teardown_method()
        Modern.teardown_class()
    assert record == []


def test_add_cleanup_runs_cleanups_last_first_at_teardown() -> None:
    ran = []

    class WithCleanups(PyTestServerTestCase):
        server_class = HelloServer
        server_settings = {}

    case = WithCleanups()
    case.setup_method()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        case.addCleanup(ran.append, 'first')
        case.addCleanup(ran.append, 'second')
    assert len(_deprecations(record)) == 2
    assert ran == []
    case.teardown_method()
    assert ran == ['second', 'first']


def test_do_cleanups_raises_the_last_cleanups_error_after_running_all() -> None:
    ran = []

    def boom(name: str) -> None:
        ran.append(name)
        raise ValueError(name)

    case = PyTestServerTestCase()
    case._cleanups = [(boom, ('a',), {}), (ran.append, ('b',), {})]
    with pytest.raises(ValueError, match='a'):
        case.doCleanups()
    assert ran == ['b', 'a']


# --- the unittest-style assertion methods of PyTestServerTestCase ---


@pytest.fixture
def asserts() -> PyTestServerTestCase:
    return PyTestServerTestCase()


def test_simple_assertions_pass_and_fail(asserts: PyTestServerTestCase) -> None:
    passing_and_failing = [
        (asserts.assertEqual, (1, 1), (1, 2)),
        (asserts.assertNotEqual, (1, 2), (1, 1)),
        (asserts.assertTrue, (1,), (0,)),
        (asserts.assertFalse, ('',), ('x',)),
        (asserts.assertIs, (None, None), (1, None)),
        (asserts.assertIsNot, (1, None), (None, None)),
        (asserts.assertIsNone, (None,), ('',)),
        (asserts.assertIsNotNone, ('',), (None,)),
        (asserts.assertIn, ('a', 'abc'), ('z', 'abc')),
        (asserts.assertNotIn, ('z', 'abc'), ('a', 'abc')),
        (asserts.assertIsInstance, (1, int), ('1', int)),
        (asserts.assertNotIsInstance, ('1', int), (1, int)),
        (asserts.assertGreater, (2, 1), (1, 1)),
        (asserts.assertGreaterEqual, (1, 1), (0, 1)),
        (asserts.assertLess, (1, 2), (1, 1)),
        (asserts.assertLessEqual, (1, 1), (1, 0)),
        (asserts.assertMultiLineEqual, ('a\nb', 'a\nb'), (1, 1)),
        (asserts.assertListEqual, ([1], [1]), ((1,), (1,))),
        (asserts.assertTupleEqual, ((1,), (1,)), ([1], [1])),
        (asserts.assertSetEqual, (frozenset({1}), {1}), ([1], [1])),
        (asserts.assertDictEqual, ({'a': 1}, {'a': 1}), ({'a': 1}, {'a': 2})),
        (asserts.assertRegex, ('hello', '[a-z]+'), ('1234', '[a-z]+')),
        (asserts.assertNotRegex, (b'1234', re.compile(b'[a-z]+')), ('hello', '')),
        (asserts.assertAlmostEqual, (1, 1.01, 1), (1, 1.01, 3)),
        (asserts.assertNotAlmostEqual, (1, 1.2, None, None, 0.1), (1, 1.01, None, None, 0.05)),
    ]
    for method, good, bad in passing_and_failing:
        method(*good)
        with pytest.raises(AssertionError):
            method(*bad)


def test_failure_messages(asserts: PyTestServerTestCase) -> None:
    with pytest.raises(AssertionError, match='^custom$'):
        asserts.assertEqual(1, 2, 'custom')
    with pytest.raises(AssertionError, match=re.escape('1 != 2')):
        asserts.assertEqual(1, 2)
    with pytest.raises(AssertionError, match='^Foo$'):
        asserts.fail('Foo')


def test_sequence_equal_checks_the_type(asserts: PyTestServerTestCase) -> None:
    asserts.assertSequenceEqual(('a',), ('a',), seq_type=tuple)
    with pytest.raises(AssertionError):
        asserts.assertSequenceEqual(['a'], ['a'], seq_type=tuple)
    with pytest.raises(AssertionError):
        asserts.assertSequenceEqual(['a'], ('a',))


def test_assert_raises_forms(asserts: PyTestServerTestCase) -> None:
    with asserts.assertRaises(ValueError) as context:  # type: ignore[union-attr]
        raise ValueError('x')
    assert context.exception.args == ('x',)
    assert context.value.args == ('x',)
    # Nothing raised fails the test as `pytest.raises` does, as 1.x's pytest-style test case did (issue 11).
    with pytest.raises(pytest.fail.Exception, match='DID NOT RAISE .*ValueError'):
        with asserts.assertRaises(ValueError):  # type: ignore[union-attr]
            pass
    with pytest.raises(pytest.fail.Exception, match='DID NOT RAISE .*KeyError.*TypeError'):
        asserts.assertRaises((KeyError, TypeError), dict)
    with pytest.raises(pytest.fail.Exception, match='DID NOT RAISE .*ValueError'):
        asserts.assertRaisesRegex(ValueError, 'x', int, '1')
    assert asserts.assertRaises(KeyError, {}.__getitem__, 'k') is None
    with asserts.assertRaisesRegex(ValueError, '[a-z]+') as context:  # type: ignore[union-attr]
        raise ValueError('hello')
    assert context.exception.args == ('hello',)
    assert asserts.assertRaisesRegex(ValueError, 'invalid literal', int, 'abc') is None
    with pytest.raises(AssertionError):
        asserts.assertRaisesRegex(ValueError, '^[0-9]+$', int, 'abc')


def test_assert_warns_forms(asserts: PyTestServerTestCase) -> None:
    with asserts.assertWarns(FutureWarning) as context:  # type: ignore[union-attr]
        warnings.warn('soon', FutureWarning, stacklevel=1)
    assert issubclass(context.list[0].category, FutureWarning)
    with pytest.raises(Failed):
        with asserts.assertWarns(FutureWarning):  # type: ignore[union-attr]
            pass
    with pytest.raises(Failed):
        with asserts.assertWarnsRegex(DeprecationWarning, '[a-z]+'):  # type: ignore[union-attr]
            warnings.warn('1234', DeprecationWarning, stacklevel=1)
    assert asserts.assertWarnsRegex(UserWarning, 'he', warnings.warn, 'hello') is None
    with pytest.raises(ValueError):
        with asserts.assertWarns(FutureWarning):  # type: ignore[union-attr]
            raise ValueError()


def test_assert_logs(asserts: PyTestServerTestCase) -> None:
    with asserts.assertLogs('h5.logs') as watched:
        logging.getLogger('h5.logs').debug('ignored')
        logging.getLogger('h5.logs').info('Hello')
        logging.getLogger('h5.logs.child').warning('Careful')
    assert watched.output == ['INFO:h5.logs:Hello', 'WARNING:h5.logs.child:Careful']

    with asserts.assertLogs(logging.getLogger('h5.other'), 'WARN') as watched:
        logging.getLogger('h5.other').info('ignored')
        logging.getLogger('h5.other').error('Bad')
    assert watched.output == ['ERROR:h5.other:Bad']

    with pytest.raises(AssertionError, match='No logs'):
        with asserts.assertLogs('h5.logs', logging.ERROR):
            logging.getLogger('h5.logs').warning('below the level')
    with pytest.raises(KeyError):
        with asserts.assertLogs('h5.logs'):
            raise KeyError()
    assert logging.getLogger('h5.logs').propagate is True


def test_deprecated_aliases_warn_and_delegate(asserts: PyTestServerTestCase) -> None:
    aliases = [
        ('assertEquals', (1, 1), (1, 2)),
        ('failUnlessEqual', (1, 1), (1, 2)),
        ('assertNotEquals', (1, 2), (1, 1)),
        ('failIfEqual', (1, 2), (1, 1)),
        ('assertAlmostEquals', (1, 1.01, 1), (1, 2)),
        ('failUnlessAlmostEqual', (1, 1.01, 1), (1, 2)),
        ('assertNotAlmostEquals', (1, 2), (1, 1.01, 1)),
        ('failIfAlmostEqual', (1, 2), (1, 1.01, 1)),
        ('failUnless', (True,), (False,)),
        ('assert_', (True,), (False,)),
        ('failIf', (False,), (True,)),
        ('assertRegexpMatches', ('hello', '[a-z]+'), ('1234', '[a-z]+')),
        ('assertNotRegexpMatches', ('1234', '[a-z]+'), ('hello', '[a-z]+')),
    ]
    for name, good, bad in aliases:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter('always')
            getattr(asserts, name)(*good)
            with pytest.raises(AssertionError):
                getattr(asserts, name)(*bad)
        assert len(_deprecations(record)) == 2, name
        assert record[0].filename == __file__, name


def test_assert_count_equal_is_deprecated_but_works(asserts: PyTestServerTestCase) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        asserts.assertCountEqual('hello', 'olleh')
        asserts.assertCountEqual([{'a': 1}, {'b': 2}], [{'b': 2}, {'a': 1}])
        with pytest.raises(AssertionError):
            asserts.assertCountEqual(['foo', 'foo', 'bar'], ['foo', 'bar', 'bar'])
        with pytest.raises(AssertionError):
            asserts.assertCountEqual([{'a': 1}], [{'a': 1}, {'a': 1}])
    assert len(_deprecations(record)) == 4
