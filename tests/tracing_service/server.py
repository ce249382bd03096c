"""Relay services: `relay` calls the next service on its body's `path` (through `request.client`) and says which
services the call went through; `relay_in_coroutine` calls `relay` on another service from a coroutine;
`fail` raises; `refuse` answers with a caller's error.

`relay_server(name)` makes the service `name`; a worker process takes the name from `TRACING_SERVICE` and, when
`TRACING_SPANS_FILE` is set, writes the spans it ends to that file (`tests.tracing_service.span_file`).
"""

import os
from typing import Any

from pysoa.common.errors import Error
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest

__all__ = ('relay_server', 'server_from_environment')


class RelayAction(Action):
    """Call `relay` on `path[0]` with the rest of the path; answer the services the call went through."""

    request_schema = fields.Dictionary(
        {'path': fields.List(fields.UnicodeString()), 'fail_at_end': fields.Boolean()},
        optional_keys=('fail_at_end',),
    )

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        me = self._service_name(request)
        path = request.body['path']
        if not path:
            if request.body.get('fail_at_end'):
                raise ValueError(f'{me} was told to fail')
            return {'visited': [me]}
        assert request.client is not None
        body: dict[str, Any] = {'path': path[1:]}
        if 'fail_at_end' in request.body:
            body['fail_at_end'] = request.body['fail_at_end']
        response = request.client.call_action(path[0], 'relay', body)
        return {'visited': [me, *response.body['visited']]}

    @staticmethod
    def _service_name(request: EnrichedActionRequest) -> str:
        assert request.client is not None
        return str(request.client.context['calling_service'])


class CoroutineRelayAction(Action):
    """`relay`, with the call made from a coroutine run by `request.run_coroutine` (on the server's loop thread)."""

    request_schema = fields.Dictionary({'to': fields.UnicodeString()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        client, run_coroutine = request.client, request.run_coroutine
        assert client is not None and run_coroutine is not None

        async def call() -> dict[str, Any]:
            return client.call_action(request.body['to'], 'relay', {'path': []}).body

        return dict(run_coroutine(call()).result(timeout=20))


class FailAction(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ZeroDivisionError('the divisor was zero')


class RefuseAction(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ActionError(errors=[Error(code='NOT_FOUND', message='no such thing', is_caller_error=True)])


class RelayServer(Server):
    """The relay actions; `relay_server(name)` names the service. A worker sets its tracer provider up in `setup()`,
    as docs/tracing.rst advises: the tracing middleware, built before, finds it all the same."""

    action_class_map = {
        'relay': RelayAction,
        'relay_in_coroutine': CoroutineRelayAction,
        'fail': FailAction,
        'refuse': RefuseAction,
    }

    def setup(self) -> None:
        super().setup()
        spans_file = os.environ.get('TRACING_SPANS_FILE')
        if spans_file:
            from tests.tracing_service.span_file import install_span_file

            install_span_file(spans_file)


def relay_server(name: str) -> type[RelayServer]:
    """A `RelayServer` subclass serving as service `name`."""
    return type(f'RelayServer_{name}', (RelayServer,), {'service_name': name})


def server_from_environment() -> type[RelayServer]:
    """The service named by `TRACING_SERVICE`; its workers write their spans to `TRACING_SPANS_FILE` if that is set."""
    return relay_server(os.environ['TRACING_SERVICE'])
