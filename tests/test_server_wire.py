"""pysoa.server.wire: job request validation fast path and response conversion."""

from typing import Any

import attr
import pytest

from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.server.schemas import JobRequestSchema
from pysoa.server.wire import client_version_of, job_request_errors, job_response_to_dict, to_plain

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
