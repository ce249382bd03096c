"""Per-action metrics of a real `Server` through the statsd recorder, read from a real UDP socket on 127.0.0.1."""

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.common.transport.base import ReceivedMessage
from pysoa.schema import fields
from pysoa.server.action.base import Action
from pysoa.server.action_metrics import metric_part
from pysoa.server.errors import ActionError, JobError
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from tests.statsd_listener import assert_received

NEW_CLIENT = {'client_version': [2, 0, 0], 'reply_to': 'service.x.abc!000000000001'}


class Strict(Action):
    request_schema = fields.Dictionary({'n': fields.Integer()})
    response_schema = fields.Dictionary({'double': fields.Integer()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        if request.body['n'] < 0:
            return {'double': 'not a number'}  # breaks the response schema: the service's bug
        if request.body['n'] == 0:
            raise ActionError([{'code': 'ZERO', 'message': 'no zeros'}, {'code': 'ALSO_BAD', 'message': 'x'}])
        return {'double': request.body['n'] * 2}


class Halt(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise JobError([{'code': 'HALTED', 'message': 'the whole job stops'}])


class MetricsServer(Server):
    service_name = 'metrics_service'
    action_class_map = {'strict': Strict, 'halt': Halt, 'odd.name:x|y': Strict}


@pytest.fixture
def server(udp_socket: socket.socket) -> Iterator[MetricsServer]:
    port = udp_socket.getsockname()[1]
    server = MetricsServer(
        ServerSettings(
            {
                'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'},
                'metrics': {
                    'path': 'pysoa.common.statsd_recorder:StatsdMetricsRecorder',
                    'kwargs': {'port': port, 'prefix': 'svc'},
                },
            }
        )
    )
    yield server
    server.metrics.close()  # type: ignore[attr-defined]  # the statsd recorder's own method


def serve(server: MetricsServer, *actions: tuple[str, dict[str, Any]]) -> None:
    message = {
        'control': {'continue_on_error': True},
        'context': {'switches': [], 'correlation_id': 'c'},
        'actions': [{'action': name, 'body': body} for name, body in actions],
    }
    server.transport.incoming.append(ReceivedMessage(1, dict(NEW_CLIENT), message))  # type: ignore[attr-defined]
    server.handle_next_request()
    server.metrics.publish_all()  # what the worker loop does after each request


def test_calls_duration_and_errors_by_code_per_action(server: MetricsServer, udp_socket: socket.socket) -> None:
    serve(server, ('strict', {'n': 2}), ('strict', {'n': 0}), ('nope', {}), ('nope2', {}))

    expected = {
        'svc.server.action.strict.calls',
        'svc.server.action.strict.duration',
        'svc.server.action.strict.error.ZERO',
        'svc.server.action.strict.error.ALSO_BAD',
        'svc.server.action._unknown.calls',
        'svc.server.action._unknown.error.UNKNOWN',
        'svc.server.worker.busy',
    }
    by_name = assert_received(udp_socket, expected, seconds=5)
    assert by_name['svc.server.action.strict.calls'] == ['1|c', '1|c']
    assert len(by_name['svc.server.action.strict.duration']) == 2
    assert all(value.endswith('|ms') for value in by_name['svc.server.action.strict.duration'])
    assert by_name['svc.server.action.strict.error.ZERO'] == ['1|c']
    # Names that callers choose do not become metric names: both unknown actions count as `_unknown`.
    assert by_name['svc.server.action._unknown.calls'] == ['1|c', '1|c']
    assert not [name for name in by_name if 'nope' in name]


def test_invalid_bodies_are_counted_on_both_sides(server: MetricsServer, udp_socket: socket.socket) -> None:
    serve(server, ('strict', {'n': 'two'}), ('strict', {'n': -1}))

    expected = {
        'svc.server.action.strict.request_invalid',
        'svc.server.action.strict.response_invalid',
        'svc.server.action.strict.error.SERVER_ERROR',
        'svc.server.action.strict.error.INVALID',
    }
    assert_received(udp_socket, expected, seconds=5)


def test_an_invalid_job_and_a_job_error_are_counted(server: MetricsServer, udp_socket: socket.socket) -> None:
    server.transport.incoming.append(ReceivedMessage(2, dict(NEW_CLIENT), {'actions': 'not a list'}))  # type: ignore[attr-defined]
    server.handle_next_request()
    serve(server, ('halt', {}))

    expected = {'svc.server.job.request_invalid', 'svc.server.action.halt.error.HALTED', 'svc.server.error.job_error'}
    assert_received(udp_socket, expected, seconds=5)


def test_action_names_are_made_safe_for_metric_names(server: MetricsServer, udp_socket: socket.socket) -> None:
    serve(server, ('odd.name:x|y', {'n': 1}))

    expected = {'svc.server.action.odd_name_x_y.calls'}
    assert_received(udp_socket, expected, seconds=5)
    assert metric_part('') == '_'
