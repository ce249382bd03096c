"""Expansion trees and their conversion to and from the request form."""

import pytest

from pysoa.client.expander import ExpansionConverter, ExpansionNode, ExpansionSettings, TypeNode


def node(name: str, node_type: str | None = None) -> ExpansionNode:
    return ExpansionNode(
        node_type=node_type or name,
        name=name,
        source_field=f'{name}_id',
        destination_field=name,
        service=f'{name}_service',
        action=f'get_{name}s',
        request_field='ids',
        response_field=f'{name}s',
    )


@pytest.fixture
def converter() -> ExpansionConverter:
    return ExpansionConverter(
        type_routes={
            route: {
                'service': f'{route}_service',
                'action': f'get_{route}s',
                'request_field': 'ids',
                'response_field': f'{route}s',
            }
            for route in ('author', 'publisher', 'address')
        },
        type_expansions={
            'book': {
                'author': {'type': None, 'route': 'author', 'source_field': 'author_id', 'destination_field': 'author'},
                'publisher': {
                    'type': 'publisher',
                    'route': 'publisher',
                    'source_field': 'publisher_id',
                    'destination_field': 'publisher',
                    'raise_action_errors': True,
                },
            },
            'publisher': {
                'address': {
                    'type': None,
                    'route': 'address',
                    'source_field': 'address_id',
                    'destination_field': 'address',
                },
            },
        },
    )


def test_add_and_get_expansion() -> None:
    root = TypeNode('book')
    author = node('author')

    root.add_expansion(author)
    root.add_expansion(author)

    assert root.expansions == [author]
    assert root.get_expansion('author') is author
    assert root.get_expansion('nothing') is None


def test_adding_a_same_named_expansion_merges_its_children_into_the_first() -> None:
    root = TypeNode('book')
    first = node('publisher')
    second = node('publisher')
    address = node('address')
    second.add_expansion(address)

    root.add_expansion(first)
    root.add_expansion(second)

    assert root.expansions == [first]
    assert first.expansions == [address]
    assert first != second


def test_find_objects_searches_dicts_and_lists_in_order_but_not_inside_matches() -> None:
    inner = {'_type': 'book', 'id': 'inner'}
    first = {'_type': 'book', 'id': 1, 'related': [inner]}
    second = {'_type': 'book', 'id': 2}
    body = {'shelf': {'_type': 'shelf', 'books': [first, {'nested': {'deeper': second}}]}, 'n': 3}

    assert TypeNode('book').find_objects(body) == [first, second]
    assert TypeNode('book').find_objects([second, 'text', 5]) == [second]
    assert TypeNode('book').find_objects(first) == [first]
    assert TypeNode('book').find_objects('book') == []


def test_to_dict_and_to_strings_list_leaf_paths() -> None:
    root = TypeNode('book')
    publisher = node('publisher')
    publisher.add_expansion(node('address'))
    publisher.add_expansion(node('owner'))
    root.add_expansion(publisher)
    root.add_expansion(node('author'))

    assert publisher.to_strings() == ['publisher.address', 'publisher.owner']
    assert node('author').to_strings() == ['author']
    assert root.to_dict() == {'book': ['publisher.address', 'publisher.owner', 'author']}


def test_dict_to_trees_builds_nodes_from_routes_and_expansions(converter: ExpansionConverter) -> None:
    (tree,) = converter.dict_to_trees({'book': ['author', 'publisher', 'publisher.address']})

    assert tree.type == 'book'
    author, publisher = tree.expansions
    assert (author.name, author.type, author.source_field, author.destination_field) == (
        'author',
        None,
        'author_id',
        'author',
    )
    assert (author.service, author.action, author.request_field, author.response_field) == (
        'author_service',
        'get_authors',
        'ids',
        'authors',
    )
    assert author.raise_action_errors is False
    assert publisher.raise_action_errors is True
    assert [n.name for n in publisher.expansions] == ['address']
    assert publisher.expansions[0].expansions == []


def test_trees_to_dict_round_trips(converter: ExpansionConverter) -> None:
    request = {'book': ['author', 'publisher.address'], 'publisher': ['address']}

    assert converter.trees_to_dict(converter.dict_to_trees(request)) == request


@pytest.mark.parametrize(
    ('request_form', 'missing'),
    [
        ({'book': ['editor']}, 'editor'),
        ({'magazine': ['author']}, 'magazine'),
        ({'book': ['author.address']}, None),
    ],
)
def test_unknown_keys_raise_key_error_naming_them(
    converter: ExpansionConverter,
    request_form: dict[str, list[str]],
    missing: str | None,
) -> None:
    with pytest.raises(KeyError) as error_info:
        converter.dict_to_trees(request_form)
    assert error_info.value.args[0] == missing


def test_destination_field_may_not_be_the_source_field() -> None:
    converter = ExpansionConverter(
        type_routes={'r': {'service': 's', 'action': 'a', 'request_field': 'ids', 'response_field': 'objs'}},
        type_expansions={'t': {'e': {'type': None, 'route': 'r', 'source_field': 'x', 'destination_field': 'x'}}},
    )

    with pytest.raises(ValueError, match='destination_field'):
        converter.dict_to_trees({'t': ['e']})


def test_expansion_settings_refuse_unknown_keys() -> None:
    with pytest.raises(ExpansionSettings.ImproperlyConfigured, match='type_route'):
        ExpansionSettings({'type_route': {}, 'type_expansions': {}})
    with pytest.raises(ExpansionSettings.ImproperlyConfigured, match='sorce_field'):
        ExpansionSettings(
            {
                'type_routes': {},
                'type_expansions': {
                    't': {
                        'e': {
                            'type': None,
                            'route': 'r',
                            'sorce_field': 'x',
                            'destination_field': 'y',
                        }
                    }
                },
            }
        )
