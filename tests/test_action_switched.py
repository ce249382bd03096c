"""SwitchedAction: dispatch on the request's switches, and validation of the switch map."""

import enum
from collections.abc import Callable
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse
from pysoa.schema import fields
from pysoa.server import Server
from pysoa.server.action.base import Action
from pysoa.server.action.switched import SwitchedAction
from pysoa.server.errors import ActionError
from pysoa.server.types import EnrichedActionRequest


class SwitchTwelve:
    def __int__(self) -> int:
        return 12


class ValueSwitch:
    def __init__(self, value: Any) -> None:
        self.value = value


class Feature(enum.Enum):
    NEW_PLANETS = 21


class PlanetAction(Action):
    request_schema = fields.Dictionary({'planet': fields.UnicodeString()})
    response_schema = fields.Dictionary({'planet_response': fields.UnicodeString(), 'settings': fields.Anything()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'planet_response': request.body['planet'], 'settings': self.settings}


def animal_action(settings: Any) -> Callable[[EnrichedActionRequest], ActionResponse]:
    def run(request: EnrichedActionRequest) -> ActionResponse:
        return ActionResponse(action=request.action, body={'animal': request.body['animal'], 'settings': settings})

    return run


def building_action(settings: Any) -> Callable[[EnrichedActionRequest], ActionResponse]:
    def run(request: EnrichedActionRequest) -> ActionResponse:
        return ActionResponse(action=request.action, body={'building': request.body['building']})

    return run


class LastIsDefault(SwitchedAction):
    switch_to_action_map = (
        (SwitchTwelve(), PlanetAction),
        (5, animal_action),
    )


class ExplicitDefaultFirst(SwitchedAction):
    switch_to_action_map = (
        (SwitchedAction.DEFAULT_ACTION, building_action),
        (ValueSwitch(7), animal_action),
        (ValueSwitch(SwitchTwelve()), PlanetAction),
    )


class WithZeroAndEnum(SwitchedAction):
    switch_to_action_map = [
        [0, PlanetAction],
        [Feature.NEW_PLANETS, animal_action],
        [SwitchedAction.DEFAULT_ACTION, building_action],
    ]


def _call(action_class: type[SwitchedAction], body: dict[str, Any], switches: list[Any]) -> ActionResponse:
    settings = {'name': 'settings'}
    return action_class(settings)(EnrichedActionRequest(action='thing', body=body, switches=switches))  # type: ignore[arg-type]


def test_first_active_switch_wins() -> None:
    assert _call(LastIsDefault, {'planet': 'Mars'}, [12]).body == {
        'planet_response': 'Mars',
        'settings': {'name': 'settings'},
    }
    assert _call(LastIsDefault, {'planet': 'Jupiter'}, [5, 12]).body['planet_response'] == 'Jupiter'


def test_second_switch_and_the_last_entry_as_default() -> None:
    expected = {'animal': 'cat', 'settings': {'name': 'settings'}}
    assert _call(LastIsDefault, {'animal': 'cat'}, [5]).body == expected
    assert _call(LastIsDefault, {'animal': 'cat'}, []).body == expected
    assert _call(LastIsDefault, {'animal': 'cat'}, [99]).body == expected


def test_errors_from_the_selected_action_propagate() -> None:
    with pytest.raises(ActionError) as info:
        _call(LastIsDefault, {'animal': 'cat'}, [12])
    assert len(info.value.errors) == 2
    assert Error('MISSING', 'Missing key: planet', field='planet', is_caller_error=True) in info.value.errors
    assert Error('UNKNOWN', 'Extra keys present: animal', is_caller_error=True) in info.value.errors


def test_explicit_default_anywhere_in_the_map() -> None:
    assert _call(ExplicitDefaultFirst, {'animal': 'dog'}, [7]).body['animal'] == 'dog'
    assert _call(ExplicitDefaultFirst, {'planet': 'Pluto'}, [12]).body['planet_response'] == 'Pluto'
    assert _call(ExplicitDefaultFirst, {'building': 'Shard'}, []).body == {'building': 'Shard'}


def test_switch_zero_and_enum_switches() -> None:
    assert _call(WithZeroAndEnum, {'planet': 'Venus'}, [0]).body['planet_response'] == 'Venus'
    assert _call(WithZeroAndEnum, {'animal': 'owl'}, [21]).body['animal'] == 'owl'
    assert _call(WithZeroAndEnum, {'building': 'Tower'}, [3]).body == {'building': 'Tower'}


def test_get_uninitialized_action() -> None:
    action = ExplicitDefaultFirst()
    assert action.get_uninitialized_action(EnrichedActionRequest(action='x', switches=[12])) is PlanetAction
    assert action.get_uninitialized_action(EnrichedActionRequest(action='x')) is building_action


def test_cannot_instantiate_the_base_class() -> None:
    with pytest.raises(TypeError, match='instantiate'):
        SwitchedAction({})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    'switch_map',
    [
        None,
        7,
        (x for x in range(10)),
        (),
        ((5, PlanetAction),),
        ((5, PlanetAction), (object, animal_action)),
        ((5, PlanetAction), ('five', animal_action)),
        ((5, PlanetAction), (0, 7)),
        ((5, PlanetAction), (6, animal_action, 'extra')),
        ((5, PlanetAction), 6),
        'ab',
    ],
)
def test_invalid_maps_are_refused_at_class_definition(switch_map: Any) -> None:
    with pytest.raises(ValueError, match='switch_to_action_map'):
        type('Bad', (SwitchedAction,), {'switch_to_action_map': switch_map})


def test_default_action_cannot_be_overridden() -> None:
    with pytest.raises(TypeError, match='DEFAULT_ACTION'):
        type(
            'Bad',
            (SwitchedAction,),
            {'DEFAULT_ACTION': object(), 'switch_to_action_map': ((1, PlanetAction), (2, animal_action))},
        )


class SwitchedServer(Server):
    service_name = 'switched_service'
    action_class_map = {'thing': ExplicitDefaultFirst}


def test_through_a_server_the_context_switches_choose() -> None:
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': SwitchedServer, 'server_settings': {}},
    }
    client = Client({'switched_service': {'transport': transport}})
    assert client.call_action('switched_service', 'thing', {'building': 'Gherkin'}).body == {'building': 'Gherkin'}
    response = client.call_action('switched_service', 'thing', {'planet': 'Mars'}, switches=[12])
    assert response.body['planet_response'] == 'Mars'
    assert response.body['settings'] is not None  # the sub-action got the server's settings
