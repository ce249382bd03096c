"""A `use_django` server resets Django's query log before each job and closes its caches for shutdown at the end."""

import threading
from collections import deque
from typing import Any

import pytest
from conformity import fields

from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.common.transport.errors import MessageReceiveTimeout
from pysoa.common.types import ActionResponse
from pysoa.server.django import integration
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest

EVENTS: list[str] = []


@fields.ClassConfigurationSchema.provider(fields.Dictionary({}))
class TwoJobsTransport(ServerTransport):
    """Serves two jobs, then asks the server to stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        job = {
            'control': {'continue_on_error': False},
            'context': {'switches': [], 'correlation_id': 'c'},
            'actions': [{'action': 'work', 'body': {}}],
        }
        self.incoming = deque(ReceivedMessage(n, {'client_version': [2, 0, 0]}, job) for n in (1, 2))
        self.server: Server | None = None

    def receive_request_message(self) -> ReceivedMessage:
        if self.incoming:
            return self.incoming.popleft()
        assert self.server is not None
        self.server.request_shutdown()
        raise MessageReceiveTimeout('no more jobs')

    def send_response_message(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        EVENTS.append(f'response {request_id}')


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
    server = DjangoServer(ServerSettings({'transport': {'path': f'{__name__}:TwoJobsTransport'}}))
    transport = server.transport
    assert isinstance(transport, TwoJobsTransport)
    transport.server = server

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
