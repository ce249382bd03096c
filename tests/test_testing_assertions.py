"""pysoa.test.assertions: which CallActionErrors each context manager accepts and which fail the test."""

import pytest

from pysoa.client.errors import CallActionError
from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse
from pysoa.test.assertions import (
    raises_call_action_error,
    raises_error_codes,
    raises_field_errors,
    raises_only_error_codes,
    raises_only_field_errors,
)

Failed = pytest.fail.Exception

AUTH_MISSING = Error(code='AUTH_MISSING', message='no auth')
TEST_ERROR = Error(code='TEST', message='test fail')
INVALID_EVENT = Error(code='INVALID', field='event_id', message='bad event_id')
UNKNOWN_EVENT = Error(code='UNKNOWN', field='event_id', message='bad event_id')
INVALID_ORG = Error(code='INVALID', field='organization_id', message='bad organization_id')


def _error(*errors: Error) -> CallActionError:
    return CallActionError(actions=[ActionResponse(action='do', errors=list(errors))])


def test_raises_call_action_error_gives_first_action_errors() -> None:
    error = CallActionError(
        actions=[ActionResponse(action='a', errors=[TEST_ERROR]), ActionResponse(action='b', errors=[AUTH_MISSING])],
    )
    with raises_call_action_error() as exc_info:
        raise error
    assert exc_info.soa_errors == [TEST_ERROR]
    assert exc_info.value is error


def test_raises_call_action_error_fails_when_nothing_raised() -> None:
    with pytest.raises(Failed):
        with raises_call_action_error():
            pass


@pytest.mark.parametrize('exception_class', [RuntimeError, ZeroDivisionError, KeyError])
def test_raises_call_action_error_lets_other_exceptions_through(exception_class: type[Exception]) -> None:
    with pytest.raises(exception_class):
        with raises_call_action_error():
            raise exception_class()


def test_raises_call_action_error_passes_match_to_pytest() -> None:
    with raises_call_action_error(match='calling action'):
        raise _error(TEST_ERROR)
    with pytest.raises(AssertionError):
        with raises_call_action_error(match='no such text'):
            raise _error(TEST_ERROR)


@pytest.mark.parametrize('codes', ['TEST', ['TEST'], {'TEST'}, ('TEST',)])
def test_raises_error_codes_accepts_a_code_or_a_collection(codes: object) -> None:
    with raises_error_codes(codes) as exc_info:  # type: ignore[arg-type]
        raise _error(TEST_ERROR)
    assert exc_info.soa_errors == [TEST_ERROR]


def test_raises_error_codes_ignores_extra_errors_unless_only() -> None:
    with raises_error_codes(['AUTH_MISSING']):
        raise _error(TEST_ERROR, AUTH_MISSING)
    with pytest.raises(Failed, match='Unexpected errors.*TEST'):
        with raises_error_codes(['AUTH_MISSING'], only=True):
            raise _error(TEST_ERROR, AUTH_MISSING)


def test_raises_error_codes_fails_on_a_missing_code() -> None:
    with pytest.raises(Failed, match='Expected errors not found.*AUTH_MISSING'):
        with raises_error_codes(['AUTH_MISSING', 'TEST']):
            raise _error(TEST_ERROR)


def test_raises_error_codes_does_not_modify_the_callers_set() -> None:
    codes = {'TEST'}
    with raises_error_codes(codes):
        raise _error(TEST_ERROR)
    assert codes == {'TEST'}


def test_raises_only_error_codes_counts_field_errors_as_unexpected() -> None:
    with raises_only_error_codes(['AUTH_MISSING', 'TEST']) as exc_info:
        raise _error(TEST_ERROR, AUTH_MISSING)
    assert exc_info.soa_errors == [TEST_ERROR, AUTH_MISSING]
    with pytest.raises(Failed):
        with raises_only_error_codes('AUTH_MISSING'):
            raise _error(INVALID_EVENT, AUTH_MISSING)
    with pytest.raises(Failed):
        with raises_only_error_codes('INVALID'):
            raise _error(INVALID_EVENT)


def test_raises_error_codes_fails_when_nothing_raised() -> None:
    with pytest.raises(Failed):
        with raises_error_codes('TEST'):
            pass


def test_raises_field_errors_matches_codes_per_field() -> None:
    with raises_field_errors({'event_id': 'UNKNOWN', 'organization_id': ['INVALID']}) as exc_info:
        raise _error(UNKNOWN_EVENT, INVALID_EVENT, INVALID_ORG)
    assert exc_info.soa_errors == [UNKNOWN_EVENT, INVALID_EVENT, INVALID_ORG]


@pytest.mark.parametrize('raised', [INVALID_ORG, INVALID_EVENT, TEST_ERROR])
def test_raises_field_errors_fails_when_the_field_error_is_missing(raised: Error) -> None:
    with pytest.raises(Failed, match='event_id: UNKNOWN'):
        with raises_field_errors({'event_id': 'UNKNOWN'}):
            raise _error(raised)


def test_raises_field_errors_with_only_fails_on_other_errors() -> None:
    with raises_field_errors({'event_id': ['UNKNOWN']}):
        raise _error(INVALID_EVENT, UNKNOWN_EVENT)
    with pytest.raises(Failed):
        with raises_field_errors({'event_id': ['UNKNOWN']}, only=True):
            raise _error(INVALID_EVENT, UNKNOWN_EVENT)


def test_raises_only_field_errors() -> None:
    with raises_only_field_errors({'event_id': ['UNKNOWN', 'INVALID']}):
        raise _error(INVALID_EVENT, UNKNOWN_EVENT)
    for raised in ([UNKNOWN_EVENT, INVALID_ORG], [AUTH_MISSING, INVALID_ORG]):
        with pytest.raises(Failed):
            with raises_only_field_errors({'organization_id': 'INVALID'}):
                raise _error(*raised)
    with pytest.raises(Failed):
        with raises_only_field_errors({'event_id': 'MISSING'}):
            raise _error(UNKNOWN_EVENT)


def test_raises_field_errors_fails_when_nothing_raised() -> None:
    with pytest.raises(Failed):
        with raises_field_errors({'organization_id': 'UNKNOWN'}):
            pass
