"""A `use_django` server resets Django's query log before each job and closes its caches for shutdown at the end."""

import threading
from typing import Any

import pytest

from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.types import ActionResponse
from pysoa.server.django import integration
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.mock_transport import MockServerTransport

EVENTS: list[str] = []


def work(settings: Any) -> Any:
    def run(request: EnrichedActionRequest) -> ActionResponse:
        EVENTS.append('job')
        return ActionResponse(action=request.action)

    return run


class DjangoServer(Server):
    service_name = 'django_hooks'
    action_class_map = {'work': work}
    use_django = True


@pytest.fixture
def recorded_integration(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    EVENTS.clear()
    monkeypatch.setattr(integration, 'reset_queries', lambda: EVENTS.append('reset_queries'))
    monkeypatch.setattr(integration, 'close_old_connections', lambda: None)
    monkeypatch.setattr(
        integration, 'close_caches', lambda shutdown=False: EVENTS.append(f'close_caches(shutdown={shutdown})')
    )
    return EVENTS


def test_queries_are_reset_before_each_job_and_caches_closed_for_shutdown(recorded_integration: list[str]) -> None:
    server = DjangoServer(ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}}))
    transport = server.transport
    assert isinstance(transport, MockServerTransport)
    # Two jobs, then the server is asked to stop.
    job = {
        'control': {'continue_on_error': False},
        'context': {'switches': [], 'correlation_id': 'c'},
        'actions': [{'action': 'work', 'body': {}}],
    }
    transport.incoming.extend(ReceivedMessage(n, {'client_version': [2, 0, 0]}, job) for n in (1, 2))

    def no_more_jobs() -> ReceivedMessage:
        server.request_shutdown()
        raise MessageReceiveTimeout('no more jobs')

    transport.when_idle = no_more_jobs
    transport.on_response = lambda response: EVENTS.append(f'response {response.request_id}')

    worker = threading.Thread(target=server.run, daemon=True)
    worker.start()
    worker.join(timeout=30)

    assert not worker.is_alive()
    per_job = ['reset_queries', 'job', 'response {n}', 'close_caches(shutdown=False)']
    assert recorded_integration == [
        *(event.format(n=1) for event in per_job),
        *(event.format(n=2) for event in per_job),
        'close_caches(shutdown=True)',
    ]
