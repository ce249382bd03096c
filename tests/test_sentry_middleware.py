"""SentryMiddleware: unexpected exceptions reach Sentry (captured by an in-memory transport), expected errors don't."""

from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from pysoa.client.client import Client
from pysoa.client.errors import CallActionError
from pysoa.common.errors import Error
from pysoa.server.action.base import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest


class Explode(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ZeroDivisionError('the divisor was zero')


class Refuse(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ActionError(errors=[Error(code='NOT_FOUND', message='no such thing')])


class Fine(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'ok': True}


class ReportingServer(Server):
    service_name = 'reporting'
    action_class_map = {'explode': Explode, 'refuse': Refuse, 'fine': Fine}


class CapturingTransport(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Any) -> None:
        for item in envelope.items:
            if item.type == 'event':
                self.events.append(item.payload.json)


@pytest.fixture
def captured() -> Any:
    transport = CapturingTransport()
    sentry_sdk.init(dsn='http://key@127.0.0.1:9/1', transport=transport, default_integrations=False)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()


def _client() -> Client:
    return Client(
        {
            'reporting': {
                'transport': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {
                        'server_class': ReportingServer,
                        'server_settings': {'middleware': [{'path': 'pysoa.server.sentry:SentryMiddleware'}]},
                    },
                },
            },
        }
    )


def test_unexpected_exception_is_reported_and_still_answered(captured: CapturingTransport) -> None:
    client = _client()
    with pytest.raises(CallActionError) as info:
        client.call_action('reporting', 'explode', correlation_id='corr-1')
    assert info.value.actions[0].errors[0].code == 'SERVER_ERROR'
    sentry_sdk.flush()
    assert len(captured.events) == 1
    event = captured.events[0]
    assert event['exception']['values'][-1]['type'] == 'ZeroDivisionError'
    assert event['tags'] == {'service': 'reporting', 'action': 'explode', 'correlation_id': 'corr-1'}


def test_action_errors_and_successes_are_not_reported(captured: CapturingTransport) -> None:
    client = _client()
    with pytest.raises(CallActionError):
        client.call_action('reporting', 'refuse')
    assert client.call_action('reporting', 'fine').body == {'ok': True}
    sentry_sdk.flush()
    assert captured.events == []
