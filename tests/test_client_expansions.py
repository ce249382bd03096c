"""Expansions performed by the client against real in-process services."""

from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.errors import CallActionError, CallJobError, InvalidExpansionKey
from pysoa.common.errors import Error
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.errors import ActionError, JobError
from pysoa.server.server import Server

CALLS: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

AUTHORS = {
    'a1': {'_type': 'author', 'id': 'a1', 'name': 'Ann', 'mentor_id': 'a2'},
    'a2': {'_type': 'author', 'id': 'a2', 'name': 'Bob', 'mentor_id': 'a1'},
    'a3': {'_type': 'author', 'id': 'a3', 'name': 'Cy', 'mentor_id': 'a1'},
}
PUBLISHERS = {'p1': {'_type': 'publisher', 'id': 'p1', 'address_id': 'd1'}}
ADDRESSES = {'d1': {'_type': 'address', 'id': 'd1', 'city': 'Lyon'}}


class _Recorded(Action):
    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: Any) -> dict[str, Any]:
        CALLS.append((request.action, dict(request.body), dict(request.context)))
        return self.answer(request.body)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class GetBooks(_Recorded):
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            'books': [
                {'_type': 'book', 'id': 1, 'author_id': 'a1', 'publisher_id': 'p1'},
                {'_type': 'book', 'id': 2, 'author_id': 'a2', 'publisher_id': 'p1'},
                {'_type': 'book', 'id': 3, 'author_id': None},
            ]
        }


class GetAuthors(_Recorded):
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        return {'authors': {i: dict(AUTHORS[i]) for i in body['ids'] if i in AUTHORS}}


class GetPublishers(_Recorded):
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        return {'publishers': {i: dict(PUBLISHERS[i]) for i in body['ids']}}


class GetAddresses(_Recorded):
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        return {'addresses': {i: dict(ADDRESSES[i]) for i in body['ids']}}


class FailingLookup(_Recorded):
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        raise ActionError(errors=[Error(code='GONE', message='Lookup failed', field='ids')])


class JobFailingLookup(_Recorded):
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        raise JobError(errors=[Error(code='DOWN', message='Service down')])


class LibraryServer(Server):
    service_name = 'library'
    action_class_map = {'get_books': GetBooks}


class PeopleServer(Server):
    service_name = 'people'
    action_class_map = {'get_authors': GetAuthors, 'broken': FailingLookup, 'down': JobFailingLookup}


class PublishingServer(Server):
    service_name = 'publishing'
    action_class_map = {'get_publishers': GetPublishers, 'get_addresses': GetAddresses}


def _route(service: str, action: str, response_field: str) -> dict[str, str]:
    return {'service': service, 'action': action, 'request_field': 'ids', 'response_field': response_field}


def _expansion(route: str, source: str, destination: str, of_type: str | None, **extra: Any) -> dict[str, Any]:
    return {'type': of_type, 'route': route, 'source_field': source, 'destination_field': destination, **extra}


EXPANSION_CONFIG = {
    'type_routes': {
        'authors': _route('people', 'get_authors', 'authors'),
        'broken_authors': _route('people', 'broken', 'authors'),
        'down_authors': _route('people', 'down', 'authors'),
        'publishers': _route('publishing', 'get_publishers', 'publishers'),
        'addresses': _route('publishing', 'get_addresses', 'addresses'),
    },
    'type_expansions': {
        'book': {
            'author': _expansion('authors', 'author_id', 'author', 'author'),
            'publisher': _expansion('publishers', 'publisher_id', 'publisher', 'publisher'),
            'author_or_nothing': _expansion('broken_authors', 'author_id', 'author', None),
            'author_or_error': _expansion('broken_authors', 'author_id', 'author', None, raise_action_errors=True),
            'author_or_job_error': _expansion('down_authors', 'author_id', 'author', None, raise_action_errors=True),
        },
        'author': {
            'mentor': _expansion('authors', 'mentor_id', 'mentor', 'author'),
        },
        'publisher': {
            'address': _expansion('addresses', 'address_id', 'address', None),
        },
    },
}


def local(server_class: type[Server]) -> dict[str, Any]:
    return {
        'transport': {
            'path': 'pysoa.common.transport.local:LocalClientTransport',
            'kwargs': {'server_class': server_class, 'server_settings': {}},
        }
    }


@pytest.fixture
def client() -> Client:
    CALLS.clear()
    return Client(
        {'library': local(LibraryServer), 'people': local(PeopleServer), 'publishing': local(PublishingServer)},
        expansion_config=EXPANSION_CONFIG,
    )


def calls_to(action: str) -> list[dict[str, Any]]:
    return [body for name, body, _ in CALLS if name == action]


def test_nested_expansions_fill_destination_fields(client: Client) -> None:
    response = client.call_action('library', 'get_books', expansions={'book': ['author', 'publisher.address']})

    first, second, third = response.body['books']
    assert first['author'] == AUTHORS['a1']
    assert second['author'] == AUTHORS['a2']
    assert first['publisher'] == dict(PUBLISHERS['p1'], address=ADDRESSES['d1'])
    assert second['publisher'] == first['publisher']
    assert third == {'_type': 'book', 'id': 3, 'author_id': None}


def test_each_round_sends_one_call_per_route_with_all_ids(client: Client) -> None:
    client.call_action('library', 'get_books', expansions={'book': ['author', 'publisher.address']})

    assert [sorted(body['ids']) for body in calls_to('get_authors')] == [['a1', 'a2']]
    assert calls_to('get_publishers') == [{'ids': ['p1']}]
    assert calls_to('get_addresses') == [{'ids': ['d1']}]
    # Rounds: books, then authors and publishers together, then addresses.
    assert [name for name, _, _ in CALLS] in (
        ['get_books', 'get_authors', 'get_publishers', 'get_addresses'],
        ['get_books', 'get_publishers', 'get_authors', 'get_addresses'],
    )


def test_expansion_calls_reuse_the_requests_correlation_id_and_switches(client: Client) -> None:
    client.call_action('library', 'get_books', switches=[8], expansions={'book': ['author']})

    contexts = [context for _, _, context in CALLS]
    assert len(contexts) == 2
    assert contexts[0]['correlation_id'] == contexts[1]['correlation_id']
    assert all(context['switches'] == [8] for context in contexts)


def test_type_level_expansions_apply_to_fetched_objects_and_stop_at_cycles(client: Client) -> None:
    response = client.call_action('library', 'get_books', expansions={'book': ['author'], 'author': ['mentor']})

    first, second, _ = response.body['books']
    # Round 1 fetched a1 and a2; their mentors (a2 and a1) were already requested, so no further call.
    assert [sorted(body['ids']) for body in calls_to('get_authors')] == [['a1', 'a2']]
    assert first['author']['name'] == 'Ann'
    assert 'mentor' not in first['author']
    assert second['author']['name'] == 'Bob'


def test_nested_expansions_of_the_same_type_reach_new_ids(client: Client) -> None:
    AUTHORS['a1']['mentor_id'] = 'a3'
    try:
        response = client.call_action('library', 'get_books', expansions={'book': ['author.mentor']})
    finally:
        AUTHORS['a1']['mentor_id'] = 'a2'

    first = response.body['books'][0]
    assert first['author']['mentor']['name'] == 'Cy'
    assert [sorted(body['ids']) for body in calls_to('get_authors')] == [['a1', 'a2'], ['a3']]


def test_failed_expansions_are_ignored_unless_configured_to_raise(client: Client) -> None:
    response = client.call_action('library', 'get_books', expansions={'book': ['author_or_nothing']})
    assert all('author' not in book for book in response.body['books'])

    with pytest.raises(CallActionError) as error_info:
        client.call_action('library', 'get_books', expansions={'book': ['author_or_error']})
    assert len(error_info.value.actions) == 1
    assert error_info.value.actions[0].errors[0].code == 'GONE'

    with pytest.raises(CallJobError) as job_error_info:
        client.call_action('library', 'get_books', expansions={'book': ['author_or_job_error']})
    assert [e.code for e in job_error_info.value.errors] == ['DOWN']


def test_unknown_expansion_is_invalid_expansion_key(client: Client) -> None:
    with pytest.raises(InvalidExpansionKey) as error_info:
        client.call_action('library', 'get_books', expansions={'book': ['editor']})

    assert error_info.value.args == ('Invalid key in expansion request: editor',)
    assert Client.InvalidExpansionKey is InvalidExpansionKey


def test_expansions_work_with_every_call_style(client: Client) -> None:
    expansions = {'book': ['author']}

    job = client.call_actions('library', [{'action': 'get_books'}], expansions=expansions)
    (parallel,) = client.call_actions_parallel('library', [{'action': 'get_books'}], expansions=expansions)
    (jobs,) = client.call_jobs_parallel(
        [{'service_name': 'library', 'actions': [{'action': 'get_books'}]}],
        expansions=expansions,
    )
    future = client.call_action_future('library', 'get_books', expansions=expansions).result()

    for body in (job.actions[0].body, parallel.body, jobs.actions[0].body, future.body):
        assert body['books'][0]['author']['name'] == 'Ann'


def test_expansions_are_ignored_without_expansion_config() -> None:
    CALLS.clear()
    client = Client({'library': local(LibraryServer)})

    response = client.call_action('library', 'get_books', expansions={'book': ['author']})

    assert 'author' not in response.body['books'][0]
    assert [name for name, _, _ in CALLS] == ['get_books']
