"""IntrospectionAction: service and action documentation, schemas, switched actions, `action_name`."""

from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.constants import ERROR_CODE_INVALID
from pysoa.schema import fields
from pysoa.server.action.base import Action
from pysoa.server.action.introspection import IntrospectionAction
from pysoa.server.action.status import BaseStatusAction, StatusActionFactory
from pysoa.server.action.switched import SwitchedAction
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest


class DocumentedAction:
    """Docstring that loses to the description."""

    description = 'The real documentation'


class SchemaAction:
    """Docstring documentation"""

    request_schema = fields.UnicodeString(description='Be weird.')
    response_schema = fields.Dictionary(
        {
            'okay': fields.Boolean(description='Whether it is okay'),
            'reason': fields.Nullable(fields.UnicodeString(description='Why it is not okay')),
        }
    )


class UndocumentedAction(Action):
    def run(self, request: EnrichedActionRequest) -> None:
        return None


def function_action(settings: Any) -> Any:
    """A function used as an action."""
    return lambda request: None


class LastIsDefault(SwitchedAction):
    switch_to_action_map = (
        (5, SchemaAction),
        (3, DocumentedAction),
    )


class ExplicitDefault(SwitchedAction):
    switch_to_action_map = (
        (4, DocumentedAction),
        (SwitchedAction.DEFAULT_ACTION, SchemaAction),
    )


class DefaultInTheMiddle(SwitchedAction):
    switch_to_action_map = (
        (0, DocumentedAction),
        (SwitchedAction.DEFAULT_ACTION, SchemaAction),
        (0, UndocumentedAction),
        (9, UndocumentedAction),
    )


class _FakeServer(Server):
    settings = {}  # type: ignore[assignment]

    def __init__(self) -> None:  # the action needs only the class attributes, not a configured server
        pass


class DocstringServer(_FakeServer):
    """This is the documentation we should get"""

    action_class_map = {'status': StatusActionFactory('1.2.3'), 'one': DocumentedAction}


class DescribedServer(_FakeServer):
    """This is NOT the documentation we should get"""

    description = 'Instead, we should get this documentation'
    action_class_map = {'introspect': IntrospectionAction, 'one': DocumentedAction, 'two': SchemaAction}


class SwitchedServer(_FakeServer):
    action_class_map = {
        'my_switched_action': LastIsDefault,
        'your_switched_action': ExplicitDefault,
        'middle': DefaultInTheMiddle,
        'plain': UndocumentedAction,
        'function': function_action,
    }


ONE = {'documentation': 'The real documentation', 'request_schema': None, 'response_schema': None}
TWO = {
    'documentation': 'Docstring documentation',
    'request_schema': SchemaAction.request_schema.introspect(),
    'response_schema': SchemaAction.response_schema.introspect(),
}
UNDOCUMENTED = {'documentation': None, 'request_schema': None, 'response_schema': None}
INTROSPECT = {
    'documentation': IntrospectionAction.description,
    'request_schema': IntrospectionAction.request_schema.introspect(),
    'response_schema': IntrospectionAction.response_schema.introspect(),
}
STATUS = {
    'documentation': BaseStatusAction.description,
    'request_schema': BaseStatusAction.request_schema.introspect(),
    'response_schema': BaseStatusAction.response_schema.introspect(),
}


def _introspect(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    response = IntrospectionAction(server)(EnrichedActionRequest(action='introspect', body=body))
    assert response.errors == []
    return response.body


def test_requires_a_server() -> None:
    with pytest.raises(TypeError, match='Server'):
        IntrospectionAction({})  # type: ignore[arg-type]


@pytest.mark.parametrize('name', [None, '', 'not_a_defined_action', 'one[switch:3]x'])
def test_bad_action_name(name: Any) -> None:
    with pytest.raises(ActionError) as info:
        IntrospectionAction(DocstringServer())(EnrichedActionRequest(action='introspect', body={'action_name': name}))
    [error] = info.value.errors
    assert (error.code, error.field, error.is_caller_error) == (ERROR_CODE_INVALID, 'action_name', True)


def test_single_actions() -> None:
    assert _introspect(DocstringServer(), {'action_name': 'one'}) == {'action_names': ['one'], 'actions': {'one': ONE}}
    assert _introspect(DescribedServer(), {'action_name': 'two'}) == {'action_names': ['two'], 'actions': {'two': TWO}}
    assert _introspect(DocstringServer(), {'action_name': 'introspect'}) == {
        'action_names': ['introspect'],
        'actions': {'introspect': INTROSPECT},
    }
    assert _introspect(DescribedServer(), {'action_name': 'status'}) == {
        'action_names': ['status'],
        'actions': {'status': STATUS},
    }


def test_whole_servers() -> None:
    assert _introspect(DocstringServer(), {}) == {
        'documentation': 'This is the documentation we should get',
        'action_names': ['introspect', 'one', 'status'],
        'actions': {'introspect': INTROSPECT, 'one': ONE, 'status': STATUS},
    }
    assert _introspect(DescribedServer(), {}) == {
        'documentation': 'Instead, we should get this documentation',
        'action_names': ['introspect', 'one', 'status', 'two'],
        'actions': {'introspect': INTROSPECT, 'one': ONE, 'status': STATUS, 'two': TWO},
    }


def test_whole_server_with_switched_actions() -> None:
    function_doc = {'documentation': 'A function used as an action.', 'request_schema': None, 'response_schema': None}
    assert _introspect(SwitchedServer(), {}) == {
        'documentation': None,
        'action_names': [
            'function',
            'introspect',
            'middle[DEFAULT]',
            'middle[switch:0]',
            'middle[switch:9]',
            'my_switched_action[DEFAULT]',
            'my_switched_action[switch:5]',
            'plain',
            'status',
            'your_switched_action[DEFAULT]',
            'your_switched_action[switch:4]',
        ],
        'actions': {
            'function': function_doc,
            'introspect': INTROSPECT,
            'middle[DEFAULT]': TWO,
            'middle[switch:0]': ONE,
            'middle[switch:9]': UNDOCUMENTED,
            'my_switched_action[DEFAULT]': ONE,
            'my_switched_action[switch:5]': TWO,
            'plain': UNDOCUMENTED,
            'status': STATUS,
            'your_switched_action[DEFAULT]': TWO,
            'your_switched_action[switch:4]': ONE,
        },
    }


@pytest.mark.parametrize(
    ('name', 'expected'),
    [
        ('my_switched_action[DEFAULT]', ONE),
        ('my_switched_action[switch:3]', ONE),  # the last entry is the default but also has its own switch
        ('my_switched_action[switch:5]', TWO),
        ('my_switched_action[switch:8]', ONE),  # no entry: what runs is the default
        ('your_switched_action[switch:4]', ONE),
        ('your_switched_action[DEFAULT]', TWO),
        ('middle[switch:0]', ONE),
        ('middle[DEFAULT]', TWO),
    ],
)
def test_single_switched_entry(name: str, expected: dict[str, Any]) -> None:
    assert _introspect(SwitchedServer(), {'action_name': name}) == {'action_names': [name], 'actions': {name: expected}}


def test_whole_switched_action() -> None:
    assert _introspect(SwitchedServer(), {'action_name': 'your_switched_action'}) == {
        'action_names': ['your_switched_action[DEFAULT]', 'your_switched_action[switch:4]'],
        'actions': {'your_switched_action[switch:4]': ONE, 'your_switched_action[DEFAULT]': TWO},
    }


def test_switch_suffix_on_a_plain_action_describes_it() -> None:
    assert _introspect(SwitchedServer(), {'action_name': 'plain[switch:2]'}) == {
        'action_names': ['plain[switch:2]'],
        'actions': {'plain[switch:2]': UNDOCUMENTED},
    }


class RealServer(Server):
    """A service introspected through a client."""

    service_name = 'real_service'
    action_class_map = {'your_switched_action': ExplicitDefault, 'plain': UndocumentedAction}


def test_through_a_server() -> None:
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': RealServer, 'server_settings': {}},
    }
    client = Client({'real_service': {'transport': transport}})
    body = client.call_action('real_service', 'introspect').body
    assert body['documentation'] == 'A service introspected through a client.'
    assert body['action_names'] == [
        'introspect',
        'plain',
        'status',
        'your_switched_action[DEFAULT]',
        'your_switched_action[switch:4]',
    ]
    body = client.call_action('real_service', 'introspect', {'action_name': 'your_switched_action[switch:4]'}).body
    name = 'your_switched_action[switch:4]'
    assert body == {'action_names': [name], 'actions': {name: ONE}}
