"""The testing guide's pytest and assertion examples (docs/testing.rst) work as written."""

from typing import Any

import pytest

from pysoa.client import Client
from pysoa.test.assertions import raises_error_codes
from tests.test_docs import DOCS, block_with

pytest_plugins = ('pytester',)

GUIDE = DOCS / 'testing.rst'
INNER_RUN_ARGS = ('-p', 'no:cacheprovider', '-p', 'no:asyncio')  # as in tests/test_testing_fixtures.py


def _echo_client() -> Client:
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': 'examples.echo_service.server:EchoServer', 'server_settings': {}},
    }
    return Client({'echo': {'transport': transport}})


def test_the_conftest_and_tests_of_the_fixtures_section_pass(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(block_with(GUIDE, '# conftest.py'))
    pytester.makepyfile(test_echo=block_with(GUIDE, '# test_echo.py'))
    result = pytester.runpytest_inprocess(*INNER_RUN_ARGS)
    result.assert_outcomes(passed=2)


def test_function_scoped_overrides_fail_with_scope_mismatch_as_the_guide_says(pytester: pytest.Pytester) -> None:
    conftest = block_with(GUIDE, '# conftest.py').replace("@pytest.fixture(scope='module')", '@pytest.fixture')
    assert "scope='module'" not in conftest
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_echo=block_with(GUIDE, '# test_echo.py'))
    result = pytester.runpytest_inprocess(*INNER_RUN_ARGS)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(['*ScopeMismatch*'])
    assert 'ScopeMismatch' in GUIDE.read_text()


def test_the_assertions_example_passes() -> None:
    namespace: dict[str, Any] = {'client': _echo_client()}
    exec(block_with(GUIDE, 'raises_field_errors({'), namespace)


def test_raises_error_codes_ignores_an_error_with_a_field_as_the_guide_says() -> None:
    assert "raises_error_codes('MISSING')`` fails on a ``MISSING`` error of field ``message``" in ' '.join(
        GUIDE.read_text().split()
    )
    with pytest.raises(pytest.fail.Exception, match='Expected errors not found in the response: MISSING'):
        with raises_error_codes('MISSING'):
            _echo_client().call_action('echo', 'echo', {})
