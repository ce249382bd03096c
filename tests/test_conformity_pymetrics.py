"""PySOA 1.x's metrics library, pymetrics, still plugs in: its recorder satisfies pysoa's recorder protocol.

pymetrics requires Conformity (and `attrs<22`), so it is installed with the `testing` extra, next to Conformity,
and this file is one of the compatibility tests that the run without Conformity leaves out.
"""

from tests.ci import require_module

require_module('pymetrics')

from pymetrics.recorders.default import DefaultMetricsRecorder  # noqa: E402

from pysoa.common.metrics import MetricsRecorder  # noqa: E402


def test_pymetrics_recorder_fits_the_protocol() -> None:
    config = {'version': 2, 'publishers': [{'path': 'pymetrics.publishers.null:NullPublisher'}]}
    recorder = DefaultMetricsRecorder('test', config=config)
    assert isinstance(recorder, MetricsRecorder)
    recorder.counter('calls').increment()


def test_a_server_with_the_pymetrics_recorder_publishes_per_action_metrics_to_statsd_over_udp() -> None:
    import socket

    from pysoa.common.transport.base import ReceivedMessage
    from pysoa.server.action.base import Action
    from pysoa.server.server import Server
    from pysoa.server.settings import ServerSettings
    from pysoa.server.types import EnrichedActionRequest

    class Ping(Action):
        def run(self, request: EnrichedActionRequest) -> dict[str, str]:
            return {'pong': 'yes'}

    class PingServer(Server):
        service_name = 'ping'
        action_class_map = {'ping': Ping}

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(('127.0.0.1', 0))
        sock.settimeout(5)
        publisher = {
            'path': 'pymetrics.publishers.statsd:StatsdPublisher',
            'kwargs': {'host': '127.0.0.1', 'port': sock.getsockname()[1]},
        }
        settings = {
            'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'},
            'metrics': {
                'path': 'pymetrics.recorders.default:DefaultMetricsRecorder',
                'kwargs': {'prefix': 'ping', 'config': {'version': 2, 'publishers': [publisher]}},
            },
        }
        server = PingServer(ServerSettings(settings))
        job = {
            'control': {'continue_on_error': False},
            'context': {'switches': [], 'correlation_id': 'c'},
            'actions': [{'action': 'ping', 'body': {}}, {'action': 'nope', 'body': {}}],
        }
        meta = {'client_version': [2, 0, 0], 'reply_to': 'service.x.abc!000000000001'}
        server.transport.incoming.append(ReceivedMessage(1, meta, job))  # type: ignore[attr-defined]
        server.handle_next_request()
        server.metrics.publish_all()

        lines = sock.recv(65000).decode().split('\n')
    names = {line.split(':')[0] for line in lines}
    expected = {
        'ping.server.action.ping.calls',
        'ping.server.action.ping.duration',
        'ping.server.action._unknown.error.UNKNOWN',
    }
    assert expected <= names, sorted(names)
