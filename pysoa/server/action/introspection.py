"""The `introspect` action: a service's documentation and each action's request and response schemas.

Documentation comes from a class's `description` attribute, else its docstring. A switched action is
listed once per entry of its map, as `name[switch:N]`, with its default entry as `name[DEFAULT]`;
`action_name` may name an action, a whole switched action, or one such entry.
"""

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeGuard

from pysoa.common.constants import ERROR_CODE_INVALID
from pysoa.common.errors import Error
from pysoa.common.types import Body
from pysoa.schema import fields
from pysoa.server.action.base import Action
from pysoa.server.action.status import BaseStatusAction
from pysoa.server.action.switched import SwitchedAction
from pysoa.server.errors import ActionError
from pysoa.server.types import EnrichedActionRequest, get_switch

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('IntrospectionAction',)

_SWITCHED_NAME = re.compile(r'^(?P<action>[a-zA-Z0-9_-]+)\[(?:switch:(?P<switch>\d+)|(?P<default>DEFAULT))\]$')


def _documentation(thing: object) -> str | None:
    return getattr(thing, 'description', None) or getattr(thing, '__doc__', None) or None


def _introspect_action(action_class: object) -> Body:
    request_schema = getattr(action_class, 'request_schema', None)
    response_schema = getattr(action_class, 'response_schema', None)
    return {
        'documentation': _documentation(action_class),
        'request_schema': request_schema.introspect() if request_schema is not None else None,
        'response_schema': response_schema.introspect() if response_schema is not None else None,
    }


def _is_switched(action_class: object) -> TypeGuard[type[SwitchedAction]]:
    return isinstance(action_class, type) and issubclass(action_class, SwitchedAction)


def _switched_entries(name: str, switched: type[SwitchedAction]) -> Iterator[tuple[str, object]]:
    """Name the entries of a switched action's map that can run: the default as `[DEFAULT]`, others by switch."""
    entries = switched.switch_to_action_map
    default_index = len(entries) - 1
    for i, (switch, _) in enumerate(entries):
        if switch is SwitchedAction.DEFAULT_ACTION:
            default_index = i  # the last explicit default is the one dispatch uses
    seen: set[str] = set()
    for i, (switch, action) in enumerate(entries):
        if i == default_index:
            entry_name = f'{name}[DEFAULT]'
        elif switch is SwitchedAction.DEFAULT_ACTION:
            continue  # a superseded default entry never runs
        else:
            entry_name = f'{name}[switch:{get_switch(switch)}]'
        if entry_name not in seen:  # of repeated switches only the first entry ever runs
            seen.add(entry_name)
            yield entry_name, action


class IntrospectionAction(Action):
    """Describes the service and its actions: documentation, and request and response schemas."""

    description = (
        'Describes this service and its actions: the documentation of the service and of each action, and the '
        'request and response schemas of each action. Give `action_name` to describe a single action. A switched '
        "action (one extending `SwitchedAction`, whose code depends on the request's switches) is described once "
        'per switch, as `name[switch:N]`, and once for its default code, as `name[DEFAULT]`.'
    )

    request_schema = fields.Dictionary(
        {
            'action_name': fields.UnicodeString(
                min_length=1,
                allow_blank=False,
                description='Describe only this action (the only one in `actions`); an unknown name is an error.',
            ),
        },
        optional_keys=('action_name',),
    )

    response_schema = fields.Dictionary(
        {
            'documentation': fields.Nullable(
                fields.UnicodeString(description='The documentation of the service (absent with `action_name`).'),
            ),
            'action_names': fields.List(
                fields.UnicodeString(description='An action name.'),
                description='The names of the actions described in `actions`, sorted.',
            ),
            'actions': fields.SchemalessDictionary(
                key_type=fields.UnicodeString(description='An action name.'),
                value_type=fields.Dictionary(
                    {
                        'documentation': fields.Nullable(
                            fields.UnicodeString(description='The documentation of the action.'),
                        ),
                        'request_schema': fields.Nullable(
                            fields.Anything(description='The introspected request schema of the action.'),
                        ),
                        'response_schema': fields.Nullable(
                            fields.Anything(description='The introspected response schema of the action.'),
                        ),
                    },
                    description='The description of one action.',
                ),
                description='The description of each action, by name (only the requested one with `action_name`).',
            ),
        },
        optional_keys=('documentation',),
    )

    def __init__(self, server: 'Server') -> None:
        """Take the server itself (not its settings), whose action map and documentation are described."""
        # Imported here because the server module imports this one when it adds the default action.
        from pysoa.server.server import Server

        if not isinstance(server, Server):
            raise TypeError('First argument (server) must be a Server instance')
        super().__init__(server.settings)
        self.server = server

    def run(self, request: EnrichedActionRequest) -> Body:
        """Describe the action named in `action_name`, or the whole service."""
        action_name = request.body.get('action_name')
        if action_name:
            return self._describe_one(action_name)
        return self._describe_all()

    def _describe_all(self) -> Body:
        action_map = self.server.action_class_map
        server_class = type(self.server)
        actions: dict[str, Body] = {}
        if 'introspect' not in action_map:
            actions['introspect'] = _introspect_action(type(self))
        if 'status' not in action_map:
            actions['status'] = _introspect_action(BaseStatusAction)
        for name, action_class in action_map.items():
            if _is_switched(action_class):
                for entry_name, entry_class in _switched_entries(name, action_class):
                    actions[entry_name] = _introspect_action(entry_class)
            else:
                actions[name] = _introspect_action(action_class)
        return {
            'documentation': _documentation(server_class),
            'action_names': sorted(actions),
            'actions': actions,
        }

    def _describe_one(self, requested: str) -> Body:
        action_map = self.server.action_class_map
        name, switch, want_default = requested, None, False
        match = _SWITCHED_NAME.match(requested)
        if match:
            name = match.group('action')
            want_default = match.group('default') is not None
            switch = None if want_default else int(match.group('switch'))

        if name in action_map:
            action_class = action_map[name]
        elif name == 'introspect':
            action_class = type(self)
        elif name == 'status':
            action_class = BaseStatusAction
        else:
            raise ActionError(
                errors=[
                    Error(
                        code=ERROR_CODE_INVALID,
                        message='Action not defined in service',
                        field='action_name',
                        is_caller_error=True,
                    ),
                ],
                set_is_caller_error_to=None,
            )

        if _is_switched(action_class):
            dispatch = action_class._dispatch
            if want_default:
                action_class = dispatch.default
            elif switch is not None:
                # What runs when only this switch is on: its entry, else the default.
                action_class = next((a for s, a in dispatch.switched if s == switch), dispatch.default)
            else:
                actions = {
                    entry_name: _introspect_action(entry_class)
                    for entry_name, entry_class in _switched_entries(name, action_class)
                }
                return {'action_names': sorted(actions), 'actions': actions}

        return {'action_names': [requested], 'actions': {requested: _introspect_action(action_class)}}
