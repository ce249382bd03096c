"""An echo service for interop tests; start it with `python -m peer.echo_service -s peer.settings`.

The service name comes from `PYSOA_INTEROP_SERVICE` so that an upstream server and ours can share one Redis.
"""

import os
from typing import Any

try:
    from pysoa.schema import fields  # this project (Conformity not needed)
except ImportError:  # PySOA 1.4.9, in its own venv, runs this same file
    from conformity import fields

import pysoa
from pysoa.common.errors import Error
from pysoa.server.action.base import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.standalone import simple_main

from .values import describe, large_payload, sample_values


class EchoAction(Action):
    """Returns the body as received, with a description of the decoded types and of the request context."""

    def run(self, request: Any) -> dict[str, Any]:
        return {
            'implementation': pysoa.__version__,
            'echo': request.body,
            'seen': describe(request.body),
            'context': {
                'correlation_id': request.context.get('correlation_id'),
                'switches': sorted(request.context.get('switches', [])),
                'caller': request.context.get('caller'),
                'extra': request.context.get('interop_extra'),
            },
        }


class SamplesAction(Action):
    """Returns every extension-type sample, encoded by this server's serializer."""

    def run(self, request: Any) -> dict[str, Any]:
        return {'samples': sample_values()}


class FailAction(Action):
    """Raises an ActionError with two errors, one of them on a field, with variables."""

    def run(self, request: Any) -> dict[str, Any]:
        raise ActionError(
            errors=[
                Error(code='DELIBERATE', message='This action always fails', field='thing', variables={'a': '1'}),
                Error(code='OTHER', message='A second error', denied_permissions=['perm.x']),
            ]
        )


class ValidatedAction(Action):
    """Has request and response schemas, so a bad body gives field errors."""

    request_schema = fields.Dictionary(
        {'name': fields.UnicodeString(), 'count': fields.Integer()},
        optional_keys=('count',),
    )
    response_schema = fields.Dictionary({'greeting': fields.UnicodeString()})

    def run(self, request: Any) -> dict[str, Any]:
        return {'greeting': 'Hello, {}!'.format(request.body['name'])}


class BoomAction(Action):
    """Raises an unexpected exception, which the server turns into SERVER_ERROR."""

    def run(self, request: Any) -> dict[str, Any]:
        raise ValueError('kaboom')


class LargeAction(Action):
    """Returns a deterministic string of `size` characters."""

    def run(self, request: Any) -> dict[str, Any]:
        size = int(request.body['size'])
        return {'data': large_payload(size), 'size': size}


class EchoServer(Server):
    """The interop echo service."""

    service_name = os.environ.get('PYSOA_INTEROP_SERVICE', 'interop_echo')
    action_class_map = {
        'echo': EchoAction,
        'samples': SamplesAction,
        'fail': FailAction,
        'validated': ValidatedAction,
        'boom': BoomAction,
        'large': LargeAction,
    }


if __name__ == '__main__':
    simple_main(lambda: EchoServer)
