r"""Stub services for code that calls services: `StubClient`, whose services are in-process `StubServer`\ s whose
actions answer with canned bodies or errors.

The calls run through the real client and server code, so the code under test sees genuine responses and errors.
To replace one action of a real service in every client instead, use `pysoa.test.stub_service.stub_action`.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pysoa.client.client import Client
from pysoa.client.settings import ClientSettings
from pysoa.common.errors import Error
from pysoa.common.metrics import MetricsRecorder, noop_metrics
from pysoa.common.transport.local import LocalClientTransport
from pysoa.common.types import Body
from pysoa.schema import fields
from pysoa.server.action.base import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest

__all__ = (
    'Errors',
    'StubClient',
    'StubClientSettings',
    'StubClientTransport',
    'StubClientTransportSchema',
    'StubServer',
)

Errors = Iterable[Mapping[str, Any]] | Iterable[Error]
"""Errors given to a stub: `Error` objects or dicts of `Error`'s fields."""


def _camel_case(name: str) -> str:
    return ''.join(part.capitalize() for part in re.split(r'[^a-zA-Z0-9]+', name))


class _CannedAction(Action):
    """An action that answers every request with `canned_body`, or raises `canned_errors` if there are any."""

    canned_body: Body = {}
    canned_errors: list[Error] = []

    def run(self, request: EnrichedActionRequest) -> Body:
        if self.canned_errors:
            raise ActionError(errors=self.canned_errors)
        return dict(self.canned_body)


def _make_canned_action(action: str, body: Body | None = None, errors: Errors | None = None) -> type[Action]:
    canned_errors = [e if isinstance(e, Error) else Error(**e) for e in errors or ()]
    return type(_camel_case(action), (_CannedAction,), {'canned_body': body or {}, 'canned_errors': canned_errors})


class StubServer(Server):
    """A `Server` whose actions can be defined at run time with canned responses."""

    def stub_action(self, action: str, body: Body | None = None, errors: Errors | None = None) -> None:
        """Make `action` answer with `body`, or with `errors` if any are given."""
        # The server looks actions up at request time, so replacing the map takes effect at once. Each
        # `StubClientTransport` makes its own subclass, so this reaches no other transport's server.
        cls = type(self)
        cls.action_class_map = {**cls.action_class_map, action: _make_canned_action(action, body, errors)}


class StubClientTransportSchema(fields.Dictionary):
    """The keyword arguments of `StubClientTransport`."""

    contents = {
        'action_map': fields.SchemalessDictionary(
            key_type=fields.UnicodeString(description='The name of the action to stub'),
            value_type=fields.Dictionary(
                {
                    'body': fields.SchemalessDictionary(description='The body the action answers with'),
                    'errors': fields.List(
                        fields.Any(
                            fields.ObjectInstance(Error),
                            fields.Dictionary(
                                {
                                    'code': fields.UnicodeString(),
                                    'message': fields.UnicodeString(),
                                    'field': fields.Nullable(fields.UnicodeString()),
                                    'traceback': fields.Nullable(fields.UnicodeString()),
                                    'variables': fields.Nullable(fields.SchemalessDictionary()),
                                    'denied_permissions': fields.Nullable(fields.List(fields.UnicodeString())),
                                    'is_caller_error': fields.Boolean(),
                                },
                                optional_keys=(
                                    'field',
                                    'traceback',
                                    'variables',
                                    'denied_permissions',
                                    'is_caller_error',
                                ),
                            ),
                        ),
                        description='The errors the action answers with (they take precedence over the body)',
                    ),
                },
                optional_keys=('body', 'errors'),
                description='How the stubbed action answers',
            ),
        ),
    }
    optional_keys = ('action_map',)
    description = 'The settings of the stub client transport'


@fields.ClassConfigurationSchema.provider(StubClientTransportSchema())
class StubClientTransport(LocalClientTransport):
    """A local transport to a `StubServer` built from an action map: `{action: {'body': ..., 'errors': [...]}}`."""

    def __init__(
        self,
        service_name: str = 'test',
        metrics: MetricsRecorder | None = None,
        action_map: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        action_class_map = {
            name: _make_canned_action(name, spec.get('body'), spec.get('errors'))
            for name, spec in (action_map or {}).items()
        }
        server_class = type(
            f'{_camel_case(service_name)}Server',
            (StubServer,),
            {'service_name': service_name, 'action_class_map': action_class_map},
        )
        super().__init__(service_name, metrics or noop_metrics, server_class, {})

    def stub_action(self, action: str, body: Body | None = None, errors: Errors | None = None) -> None:
        """Make the stub server's `action` answer with `body`, or with `errors` if any are given."""
        cast(StubServer, self.server).stub_action(action, body=body, errors=errors)


class StubClientSettings(ClientSettings):
    """Client settings whose transport defaults to `StubClientTransport`."""

    defaults: dict[str, Any] = {
        'transport': {'path': 'pysoa.test.stub_service:StubClientTransport'},
    }


class StubClient(Client):
    """A client whose services are stub servers: `StubClient({service: {action: {'body': ..., 'errors': ...}}})`.

    The calls run through the real client and server code, so the code under test sees genuine responses and errors.
    """

    settings_class = StubClientSettings

    def __init__(
        self,
        service_action_map: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        **_: object,
    ) -> None:
        super().__init__(
            {
                service: {'transport': {'kwargs': {'action_map': dict(action_map)}}}
                for service, action_map in (service_action_map or {}).items()
            },
        )

    def stub_action(
        self,
        service_name: str,
        action: str,
        body: Body | None = None,
        errors: Errors | None = None,
    ) -> None:
        """Make `service_name`'s `action` answer with `body` (or `errors`), adding the service if it is new."""
        if service_name not in self.settings:
            self.settings[service_name] = self.settings_class({})
        transport = self._get_handler(service_name).transport
        cast(StubClientTransport, transport).stub_action(action, body=body, errors=errors)
