"""ActionError, JobError and ResponseValidationError."""

from pysoa.common.errors import Error, PySOAError
from pysoa.server.errors import ActionError, HarakiriInterrupt, JobError, PySOAServerError, ResponseValidationError


def test_action_errors_become_caller_errors_by_default() -> None:
    error = ActionError([Error(code='X', message='x')])

    assert error.errors == [Error(code='X', message='x', is_caller_error=True)]
    assert isinstance(error, PySOAServerError) and isinstance(error, PySOAError)


def test_job_errors_become_server_errors_by_default() -> None:
    error = JobError([Error(code='X', message='x', is_caller_error=True)])

    assert error.errors == [Error(code='X', message='x', is_caller_error=False)]


def test_none_keeps_the_errors_as_given() -> None:
    given = [Error(code='A', message='a', is_caller_error=True), Error(code='B', message='b')]

    assert ActionError(given, set_is_caller_error_to=None).errors == given
    assert JobError(given, set_is_caller_error_to=None).errors == given


def test_errors_may_be_given_as_dicts_and_str_summarises_them() -> None:
    error = ActionError([{'code': 'INVALID', 'message': 'Bad', 'field': 'name'}])

    assert error.errors[0].field == 'name'
    assert str(error) == 'INVALID (name): Bad'


def test_response_validation_error_describes_each_problem() -> None:
    class Problem:
        pointer = 'a.b'
        code = 'INVALID'
        message = 'Not an integer'

    text = str(ResponseValidationError('my_action', [Problem()]))

    assert text == 'my_action had an invalid response:\n\ta.b INVALID: Not an integer'


def test_harakiri_interrupt_escapes_except_exception() -> None:
    assert not issubclass(HarakiriInterrupt, Exception)
    assert issubclass(HarakiriInterrupt, BaseException)
