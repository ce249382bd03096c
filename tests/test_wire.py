"""pysoa.common.wire and the job request check in pysoa.server.schemas: validation fast path, conversions."""

from typing import Any

import attr
import pytest

from pysoa.common.errors import Error
from pysoa.common.types import ActionRequest, ActionResponse, JobRequest, JobResponse
from pysoa.common.wire import (
    client_version_of,
    expiry_of,
    job_request_to_dict,
    job_response_from_dict,
    job_response_to_dict,
    knows_caller_errors,
    to_plain,
)
from pysoa.server.schemas import JobRequestSchema, job_request_errors

VALID: dict[str, Any] = {
    'control': {'continue_on_error': True, 'suppress_response': False, 'timeout': 5},
    'context': {'switches': [1], 'correlation_id': 'c', 'caller': 'me', 'anything': {'x': 1}},
    'actions': [{'action': 'a'}, {'action': 'b', 'body': {'k': 'v'}}],
}


def test_valid_job_has_no_errors() -> None:
    assert job_request_errors(VALID) == []
    assert JobRequestSchema.errors(VALID) == []


@pytest.mark.parametrize(
    'job',
    [
        {**VALID, 'control': {'continue_on_error': 1}},
        {**VALID, 'control': {'continue_on_error': True, 'suppress_response': 'yes'}},
        {**VALID, 'context': {'switches': [True], 'correlation_id': 'c'}},
        {**VALID, 'context': {'switches': [], 'correlation_id': 5}},
        {**VALID, 'context': {'switches': [], 'correlation_id': 'c', 'calling_service': 3}},
        {**VALID, 'actions': [{'action': 'a', 'body': {1: 'int key'}}]},
        {**VALID, 'actions': [{'action': 'a', 'extra': 1}]},
        {**VALID, 'actions': [{'body': {}}]},
        {**VALID, 'actions': ['a']},
        {'control': VALID['control'], 'context': VALID['context']},
    ],
)
def test_fast_path_agrees_with_the_schema_on_invalid_jobs(job: dict[str, Any]) -> None:
    errors = job_request_errors(job)

    assert errors
    assert [(e.code, e.field) for e in errors] == [(p.code, p.pointer) for p in JobRequestSchema.errors(job)]


@attr.s
class Point:
    x: int = attr.ib()
    y: tuple[int, ...] = attr.ib()


def test_to_plain_converts_only_what_needs_converting() -> None:
    plain = {'a': [1, 'two', None, 3.0, b'four'], 'b': {'c': True}}
    mixed = {'keep': {'same': 1}, 'tuple': (1, (2,)), 'point': Point(1, (2, 3)), 'set': frozenset({4})}

    assert to_plain(plain) is plain
    converted = to_plain(mixed)
    assert converted == {'keep': {'same': 1}, 'tuple': [1, [2]], 'point': {'x': 1, 'y': [2, 3]}, 'set': [4]}
    assert converted['keep'] is mixed['keep']
    assert mixed['tuple'] == (1, (2,))


def test_job_response_to_dict_follows_the_wire_field_order() -> None:
    response = JobResponse(
        errors=[Error(code='E', message='m', variables={'v': (1,)})],
        context={'correlation_id': 'c'},
        actions=[ActionResponse(action='a', body={'b': 1})],
    )

    message = job_response_to_dict(response, (2, 0, 0))

    assert list(message) == ['errors', 'context', 'actions']
    assert message['errors'][0]['variables'] == {'v': [1]}
    assert list(message['actions'][0]) == ['action', 'errors', 'body']
    assert 'is_caller_error' not in job_response_to_dict(response, (0, 69, 9))['errors'][0]


@pytest.mark.parametrize(
    ('meta', 'version'),
    [
        ({'client_version': [1, 4, 9]}, (1, 4, 9)),
        ({'client_version': (0, 70, 0)}, (0, 70, 0)),
        ({}, (0, 40, 0)),
        ({'client_version': 'garbage'}, (0, 40, 0)),
        ({'client_version': ['x']}, (0, 40, 0)),
    ],
)
def test_client_version_of(meta: dict[str, Any], version: tuple[int, ...]) -> None:
    assert client_version_of(meta) == version


@pytest.mark.parametrize(
    ('version', 'knows'),
    [
        ([0, 70, 0], True),
        ((1, 4, 9), True),
        ([0, 70], True),
        ([0, 69, 9], False),
        ([0, 60, 0], False),
        (['x', 'y', 'z'], False),
        ('0.70.0', False),
        (None, False),
    ],
)
def test_knows_caller_errors(version: object, knows: bool) -> None:
    assert knows_caller_errors(version) is knows


@pytest.mark.parametrize(
    ('meta', 'expiry'),
    [
        ({'__expiry__': 1790000000.25}, 1790000000.25),
        ({'__expiry__': 1790000000}, 1790000000.0),
        ({'__expiry__': -5}, -5.0),
        ({}, None),
        ({'__expiry__': None}, None),
        ({'__expiry__': 0}, None),
        ({'__expiry__': float('inf')}, None),
        ({'__expiry__': float('nan')}, None),
    ],
)
def test_expiry_of(meta: dict[str, Any], expiry: float | None) -> None:
    assert expiry_of(meta) == expiry


@pytest.mark.parametrize('bad', ['soon', True, [1.0], {'at': 1}])
def test_expiry_of_refuses_what_is_not_a_number(bad: object) -> None:
    with pytest.raises(ValueError, match='__expiry__'):
        expiry_of({'__expiry__': bad})


def test_job_request_to_dict_shares_or_copies() -> None:
    body = {'items': [1, {'k': 'v'}]}
    request = JobRequest(
        control={'continue_on_error': False},
        context={'switches': [3], 'correlation_id': 'c'},
        actions=[ActionRequest(action='a', body=body)],
    )

    shared = job_request_to_dict(request)
    copied = job_request_to_dict(request, copy=True)

    assert (
        shared
        == copied
        == {
            'control': {'continue_on_error': False},
            'context': {'switches': [3], 'correlation_id': 'c'},
            'actions': [{'action': 'a', 'body': {'items': [1, {'k': 'v'}]}}],
        }
    )
    assert shared['actions'][0]['body'] is body
    assert copied['actions'][0]['body'] is not body
    assert copied['actions'][0]['body']['items'][1] is not body['items'][1]


def test_job_response_from_dict_builds_objects_and_ignores_unknown_keys() -> None:
    response = job_response_from_dict(
        {
            'errors': [{'code': 'E', 'message': 'm', 'is_caller_error': True}],
            'context': {'correlation_id': 'c'},
            'actions': [{'action': 'a', 'errors': [], 'body': {'x': 1}}],
            'from_a_newer_peer': 1,
        },
    )

    assert response == JobResponse(
        errors=[Error(code='E', message='m', is_caller_error=True)],
        context={'correlation_id': 'c'},
        actions=[ActionResponse(action='a', body={'x': 1})],
    )
    assert job_response_from_dict({}) == JobResponse()


def test_an_error_added_as_a_dict_by_old_middleware_goes_out_as_it_is() -> None:
    response = JobResponse()
    response.errors.append({'code': 'E', 'message': 'from 1.x middleware'})  # type: ignore[arg-type]  # as 1.x code does

    assert job_response_to_dict(response, (2, 0, 0))['errors'] == [{'code': 'E', 'message': 'from 1.x middleware'}]
