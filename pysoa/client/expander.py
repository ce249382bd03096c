"""Expansion configuration and expansion trees.

An expansion replaces an identifier in a response object with the object it identifies, fetched
from another service. Objects declare their type in a `_type` key. The configuration has two parts:

- `type_routes`: route name -> `{service, action, request_field, response_field}`: how to fetch
  objects (the action takes a list of ids in `request_field` and answers a dict id -> object in
  `response_field`);
- `type_expansions`: type -> expansion name -> `{type, route, source_field, destination_field,
  raise_action_errors}`: which id field of an object of that type can be expanded, by which route,
  into which field, and the type of the fetched object (for nested expansions).

A caller asks for expansions as `{type: ['name', 'name.nested_name', ...]}`; `ExpansionConverter`
turns that into trees of `TypeNode` (the root, one per type) and `ExpansionNode` (one per
expansion). Running the calls is `pysoa.client.expansion_runner`'s job.
"""

from typing import Any

from pysoa.schema import fields
from pysoa.schema.settings import Settings

__all__ = (
    'ExpansionConverter',
    'ExpansionNode',
    'ExpansionSettings',
    'Expansions',
    'TypeExpansions',
    'TypeNode',
    'TypeRoutes',
)

TypeRoutes = dict[str, dict[str, str]]
"""Route name -> `{'service', 'action', 'request_field', 'response_field'}`."""

TypeExpansions = dict[str, dict[str, dict[str, Any]]]
"""Type -> expansion name -> `{'type', 'route', 'source_field', 'destination_field', 'raise_action_errors'}`."""

Expansions = dict[str, list[str]]
"""What a caller asks for: type -> dotted expansion paths."""


class ExpansionSettings(Settings):
    """The schema of a client's `expansion_config`."""

    schema: dict[str, fields.Base] = {
        'type_routes': fields.SchemalessDictionary(
            key_type=fields.UnicodeString(description='The route name, referenced by `type_expansions` entries'),
            value_type=fields.Dictionary(
                {
                    'service': fields.UnicodeString(description='The service to call'),
                    'action': fields.UnicodeString(
                        description='The action to call: it takes a list of ids and returns a dict of id to object',
                    ),
                    'request_field': fields.UnicodeString(description='The request body field holding the id list'),
                    'response_field': fields.UnicodeString(
                        description='The response body field holding the dict of id to object',
                    ),
                },
                description='How to fetch the objects of one route',
            ),
            description='The routes by which expanded objects are fetched',
        ),
        'type_expansions': fields.SchemalessDictionary(
            key_type=fields.UnicodeString(
                description='An object type, matched against the `_type` key of response objects',
            ),
            value_type=fields.SchemalessDictionary(
                key_type=fields.UnicodeString(description='The expansion name, as callers request it'),
                value_type=fields.Dictionary(
                    {
                        'type': fields.Nullable(
                            fields.UnicodeString(
                                description='The type of the fetched object (for nested expansions), or null',
                            )
                        ),
                        'route': fields.UnicodeString(description='The `type_routes` key used to fetch the object'),
                        'source_field': fields.UnicodeString(description='The field holding the id to expand'),
                        'destination_field': fields.UnicodeString(
                            description='The field that receives the fetched object',
                        ),
                        'raise_action_errors': fields.Boolean(
                            description='Raise errors from the fetching call (default: ignore them)',
                        ),
                    },
                    optional_keys=('raise_action_errors',),
                    description='One expansion of objects of this type',
                ),
                description='The expansions available on objects of this type',
            ),
            description='The expansions available, by object type',
        ),
    }


class TypeNode:
    """The root of an expansion tree: objects of `type` and the expansions requested on them.

    Nodes compare by identity: two nodes built from the same configuration are still distinct.
    """

    def __init__(self, node_type: str | None) -> None:
        self.type = node_type
        self._expansions: dict[str, ExpansionNode] = {}

    def add_expansion(self, expansion_node: 'ExpansionNode') -> None:
        """Add a child expansion; if one of the same name exists, merge the new node's children into it."""
        existing = self._expansions.get(expansion_node.name)
        if existing is None:
            self._expansions[expansion_node.name] = expansion_node
        elif existing is not expansion_node:
            for child in expansion_node.expansions:
                existing.add_expansion(child)

    def get_expansion(self, expansion_name: str) -> 'ExpansionNode | None':
        """The child expansion named `expansion_name`, or `None`."""
        return self._expansions.get(expansion_name)

    @property
    def expansions(self) -> list['ExpansionNode']:
        """The child expansions, in the order they were added."""
        return list(self._expansions.values())

    def find_objects(self, obj: object) -> list[dict[str, object]]:
        """Every dict in `obj` (searched recursively through dicts and lists) whose `_type` is this node's type.

        A matching dict is not searched further: its own sub-objects are reached by nested expansions.
        """
        found: list[dict[str, object]] = []
        stack = [obj]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if item.get('_type') == self.type:
                    found.append(item)
                else:
                    stack.extend(reversed(item.values()))
            elif isinstance(item, list):
                stack.extend(reversed(item))
        return found

    def to_dict(self) -> dict[str | None, list[str]]:
        """The request form of this tree: `{type: ['expansion', 'expansion.nested', ...]}` (leaves only)."""
        return {self.type: [path for child in self.expansions for path in child.to_strings()]}


class ExpansionNode(TypeNode):
    """One requested expansion: how to fetch it, where to put it, and the expansions requested on the result."""

    def __init__(
        self,
        node_type: str | None,
        name: str,
        source_field: str,
        destination_field: str,
        service: str,
        action: str,
        request_field: str,
        response_field: str,
        raise_action_errors: bool = True,
    ) -> None:
        super().__init__(node_type)
        self.name = name
        self.source_field = source_field
        self.destination_field = destination_field
        self.service = service
        self.action = action
        self.request_field = request_field
        self.response_field = response_field
        self.raise_action_errors = raise_action_errors

    def to_strings(self) -> list[str]:
        """The dotted paths from this node to each leaf below it (just the name if it has no children)."""
        children = self.expansions
        if not children:
            return [self.name]
        return [f'{self.name}.{path}' for child in children for path in child.to_strings()]

    def __repr__(self) -> str:
        return f'<ExpansionNode {self.name!r} type={self.type!r} via {self.service}.{self.action}>'


class ExpansionConverter:
    """Converts between the request form of expansions (`{type: ['a.b', ...]}`) and expansion trees."""

    def __init__(self, type_routes: TypeRoutes, type_expansions: TypeExpansions) -> None:
        self.type_routes = type_routes
        self.type_expansions = type_expansions

    @classmethod
    def from_config(cls, expansion_config: dict[str, Any]) -> 'ExpansionConverter':
        """The converter for a client's `expansion_config`, validated as `ExpansionSettings`."""
        settings = ExpansionSettings(expansion_config)
        return cls(type_routes=settings['type_routes'], type_expansions=settings['type_expansions'])

    def dict_to_trees(self, expansion_dict: Expansions) -> list[TypeNode]:
        """One tree per requested type. Raises `KeyError` (naming the key) for an unknown type, expansion or route."""
        trees: list[TypeNode] = []
        for node_type, paths in expansion_dict.items():
            root = TypeNode(node_type)
            for path in paths:
                node: TypeNode = root
                for name in path.split('.'):
                    child = node.get_expansion(name)
                    if child is None:
                        child = self._make_node(node.type, name)
                        node.add_expansion(child)
                    node = child
            trees.append(root)
        return trees

    def _make_node(self, parent_type: str | None, name: str) -> ExpansionNode:
        # Plain indexing on purpose: the KeyError names the unknown type or expansion for the caller's error message.
        definition = self.type_expansions[parent_type][name]  # type: ignore[index]  # a None type is a KeyError too
        route = self.type_routes[definition['route']]
        if definition['destination_field'] == definition['source_field']:
            raise ValueError(
                'Expansion configuration destination_field error: destination_field can not have the same name as '
                f'the source_field: {definition["source_field"]}',
            )
        return ExpansionNode(
            node_type=definition['type'],
            name=name,
            source_field=definition['source_field'],
            destination_field=definition['destination_field'],
            service=route['service'],
            action=route['action'],
            request_field=route['request_field'],
            response_field=route['response_field'],
            raise_action_errors=bool(definition.get('raise_action_errors', False)),
        )

    @staticmethod
    def trees_to_dict(trees_list: list[TypeNode]) -> dict[str | None, list[str]]:
        """The request form of a list of trees."""
        result: dict[str | None, list[str]] = {}
        for tree in trees_list:
            result.update(tree.to_dict())
        return result
