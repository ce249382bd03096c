"""The echo service with `get_books` and `get_authors` (objects to expand), `context` and `job_error`."""

from typing import Any

from examples.echo_service.server import EchoServer
from pysoa.common.errors import Error
from pysoa.server.action import Action
from pysoa.server.errors import JobError
from pysoa.server.types import EnrichedActionRequest

__all__ = ('AUTHORS', 'LibraryEchoServer')

AUTHORS = {
    'a1': {'_type': 'author', 'id': 'a1', 'name': 'Ann'},
    'a2': {'_type': 'author', 'id': 'a2', 'name': 'Bob'},
}


class GetBooksAction(Action):
    """Two books by known authors and one without an author."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {
            'books': [
                {'_type': 'book', 'id': 1, 'author_id': 'a1'},
                {'_type': 'book', 'id': 2, 'author_id': 'a2'},
                {'_type': 'book', 'id': 3, 'author_id': None},
            ]
        }


class GetAuthorsAction(Action):
    """The authors named in `ids`, by id."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'authors': {i: AUTHORS[i] for i in request.body['ids'] if i in AUTHORS}}


class ContextAction(Action):
    """The request's correlation id and switches, and the body it was sent."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        context = request.context
        return {
            'correlation_id': context['correlation_id'],
            'switches': sorted(context['switches']),
            'body': request.body,
        }


class JobErrorAction(Action):
    """Fail the whole job."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise JobError(errors=[Error(code='DOWN', message='The library is closed')])


class LibraryEchoServer(EchoServer):
    """The echo service with the actions above."""

    action_class_map = {
        **EchoServer.action_class_map,
        'get_books': GetBooksAction,
        'get_authors': GetAuthorsAction,
        'context': ContextAction,
        'job_error': JobErrorAction,
    }
