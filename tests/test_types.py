"""The wire types: construction from dicts, defaults, and in-place edits that 1.x middleware relies on."""

import attr

from pysoa.common.errors import Error
from pysoa.common.types import ActionRequest, ActionResponse, JobRequest, JobResponse


def test_job_request_converts_action_dicts() -> None:
    job = JobRequest(control={'continue_on_error': False}, actions=[{'action': 'get', 'body': {'id': 1}}])
    assert job.actions == [ActionRequest(action='get', body={'id': 1})]
    assert job.context == {}


def test_job_response_converts_nested_dicts() -> None:
    response = JobResponse(
        errors=[{'code': 'SERVER_ERROR', 'message': 'boom'}],
        actions=[{'action': 'get', 'errors': [{'code': 'INVALID', 'message': 'bad', 'field': 'id'}], 'body': {}}],
    )
    assert response.errors == [Error(code='SERVER_ERROR', message='boom')]
    assert response.actions[0].errors[0].field == 'id'
    assert response.actions[0].errors[0].is_caller_error is False


def test_defaults_are_not_shared_between_instances() -> None:
    first, second = ActionResponse(action='a'), ActionResponse(action='a')
    first.body['x'] = 1
    first.errors.append(Error(code='X', message='y'))
    assert second.body == {} and second.errors == []


def test_error_is_frozen_and_field_order_is_the_wire_order() -> None:
    error = Error(code='INVALID', message='m', field='f')
    assert [a.name for a in attr.fields(Error)] == [
        'code',
        'message',
        'field',
        'traceback',
        'variables',
        'denied_permissions',
        'is_caller_error',
    ]
    try:
        error.code = 'OTHER'  # type: ignore[misc]
    except attr.exceptions.FrozenInstanceError:
        pass
    else:
        raise AssertionError('Error must be immutable')


def test_asdict_gives_wire_dicts() -> None:
    response = JobResponse(context={'correlation_id': 'c'}, actions=[ActionResponse(action='a', body={'v': 1})])
    assert attr.asdict(response) == {
        'errors': [],
        'context': {'correlation_id': 'c'},
        'actions': [{'action': 'a', 'errors': [], 'body': {'v': 1}}],
    }
