"""EnrichedActionRequest.call_local_action and the switch sets."""

import enum
from typing import Any
from unittest import mock

import attr
import pytest

from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse
from pysoa.server.errors import ActionError
from pysoa.server.types import (
    EnrichedActionRequest,
    EnrichedJobRequest,
    RequestSwitchSet,
    SwitchSet,
    get_switch,
    is_switch,
)


@attr.s
class RicherRequest(EnrichedActionRequest):
    metrics: Any = attr.ib(default=None)


class Color(enum.Enum):
    RED = 5


def test_call_local_action_without_server_is_a_server_error() -> None:
    request = EnrichedActionRequest(action='foo', body={})

    with pytest.raises(ActionError) as raised:
        request.call_local_action('bar', {})
    response = request.call_local_action('bar', {}, raise_action_errors=False)

    assert raised.value.errors[0].code == 'SERVER_ERROR'
    assert raised.value.errors[0].is_caller_error is False
    assert (response.action, response.errors[0].code) == ('bar', 'SERVER_ERROR')


def test_call_local_action_of_an_unknown_action() -> None:
    request = EnrichedActionRequest(action='foo', body={})
    request._server = mock.MagicMock(action_class_map={})

    response = request.call_local_action('bar', {}, raise_action_errors=False)

    assert (response.errors[0].code, response.errors[0].field) == ('UNKNOWN', 'action')


def test_call_local_action_copies_the_request_and_merges_context() -> None:
    action_class = mock.MagicMock()
    action_class.return_value.return_value = ActionResponse(action='bar', body={'ok': True})
    server = mock.MagicMock(action_class_map={'bar': action_class}, settings={'s': 1})
    request = RicherRequest(
        action='foo',
        body={'a': 1},
        context={'k': 'v'},
        control={'c': 2},
        switches=[1],
        metrics='recorder',
    )
    request._server = server

    response = request.call_local_action('bar', {'b': 2}, context={'extra': 'yes'})

    assert response.body == {'ok': True}
    action_class.assert_called_once_with(server.settings)
    [called_with] = action_class.return_value.call_args[0]
    assert isinstance(called_with, RicherRequest)
    assert (called_with.action, called_with.body) == ('bar', {'b': 2})
    assert called_with.context == {'k': 'v', 'extra': 'yes'}
    assert request.context == {'k': 'v'}
    assert called_with.control == {'c': 2}
    assert called_with.switches == {1}
    assert called_with.metrics == 'recorder'
    assert called_with._server is server


def test_returned_errors_are_raised_with_the_requested_caller_flag() -> None:
    action_class = mock.MagicMock()
    action_class.return_value.return_value = ActionResponse(action='bar', errors=[Error(code='E', message='e')])
    request = EnrichedActionRequest(action='foo', body={})
    request._server = mock.MagicMock(action_class_map={'bar': action_class})

    with pytest.raises(ActionError) as raised:
        request.call_local_action('bar', {}, is_caller_error=True)
    response = request.call_local_action('bar', {}, raise_action_errors=False)

    assert raised.value.errors[0].is_caller_error is True
    assert response.errors[0].code == 'E'


def test_raised_action_errors_are_returned_when_not_raising() -> None:
    action_class = mock.MagicMock()
    action_class.return_value.side_effect = ActionError([Error(code='FOO', message='f')])
    request = EnrichedActionRequest(action='foo', body={})
    request._server = mock.MagicMock(action_class_map={'bar': action_class})

    response = request.call_local_action('bar', {}, raise_action_errors=False)

    assert response.errors[0].code == 'FOO'


def test_switch_sets_accept_ints_int_likes_and_enum_values() -> None:
    switches = RequestSwitchSet([1, Color.RED])

    assert switches == frozenset({1, 5})
    assert switches.is_active(5) and Color.RED in switches and 1 in switches
    assert 2 not in switches and 'text' not in switches
    assert isinstance(switches, SwitchSet)
    assert get_switch(Color.RED) == 5 and is_switch(3) and not is_switch('x')
    with pytest.raises(TypeError):
        get_switch(object())


def test_enriched_request_converts_switches_and_keeps_defaults_separate() -> None:
    first = EnrichedActionRequest(action='a', switches=[1, 2])
    second = EnrichedActionRequest(action='a')

    assert isinstance(first.switches, RequestSwitchSet)
    second.context['x'] = 1
    assert EnrichedActionRequest(action='a').context == {}


def test_enriched_job_request_converts_actions() -> None:
    job = EnrichedJobRequest(control={}, context={}, actions=[{'action': 'a', 'body': {'x': 1}}])

    assert job.actions[0].action == 'a'
    assert job.client is None and job.run_coroutine is None


def test_middleware_may_attach_attributes_to_requests() -> None:
    action_request = EnrichedActionRequest(action='a')
    job_request = EnrichedJobRequest()

    action_request.user = 'someone'  # type: ignore[attr-defined]
    job_request.started_at = 1.5  # type: ignore[attr-defined]

    assert action_request.user == 'someone'  # type: ignore[attr-defined]
    assert job_request.started_at == 1.5  # type: ignore[attr-defined]
