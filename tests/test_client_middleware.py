"""Client middleware (order, mutation, exceptions, built once), client settings and client metrics."""

from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.middleware import ClientMiddleware, ClientRequestMiddlewareTask, ClientResponseMiddlewareTask
from pysoa.client.settings import REDIS_CLIENT_TRANSPORT_PATH, ClientSettings
from pysoa.common.types import JobRequest, JobResponse
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.server import Server

LOG: list[str] = []


class EchoAction(Action):
    request_schema = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def run(self, request: Any) -> dict[str, Any]:
        return {'body': dict(request.body), 'control': dict(request.control)}


class EchoServer(Server):
    service_name = 'echo'
    action_class_map = {'echo': EchoAction}


@fields.ClassConfigurationSchema.provider(fields.Dictionary({'name': fields.UnicodeString()}))
class NamedMiddleware(ClientMiddleware):
    """Logs its name on the way in and out of both stacks, and counts how often its stacks were built."""

    builds = 0

    def __init__(self, name: str) -> None:
        self.name = name

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        type(self).builds += 1

        def handler(request_id: int, meta: dict[str, Any], request: JobRequest, expiry: int | None) -> None:
            LOG.append(f'{self.name} request in')
            request.actions[0].body.setdefault('seen_by', []).append(self.name)
            send_request(request_id, meta, request, expiry)
            LOG.append(f'{self.name} request out')

        return handler

    def response(self, get_response: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        def handler(timeout: int | None) -> tuple[int | None, JobResponse | None]:
            LOG.append(f'{self.name} response in')
            request_id, response = get_response(timeout)
            if response is not None:
                response.actions[0].body.setdefault('marked_by', []).append(self.name)
            LOG.append(f'{self.name} response out')
            return request_id, response

        return handler


class ExplodingMiddleware(ClientMiddleware):
    class Boom(Exception):
        pass

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        def handler(request_id: int, meta: dict[str, Any], request: JobRequest, expiry: int | None) -> None:
            if request.control.get('explode'):
                raise self.Boom()
            send_request(request_id, meta, request, expiry)

        return handler


def make_client(*middleware: dict[str, Any]) -> Client:
    return Client(
        {
            'echo': {
                'transport': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {'server_class': EchoServer, 'server_settings': {}},
                },
                'middleware': list(middleware),
            }
        }
    )


def named(name: str) -> dict[str, Any]:
    return {'path': f'{__name__}:NamedMiddleware', 'kwargs': {'name': name}}


@pytest.fixture(autouse=True)
def _clean_log() -> None:
    LOG.clear()
    NamedMiddleware.builds = 0


def test_first_configured_middleware_is_the_outermost_layer() -> None:
    client = make_client(named('outer'), named('inner'))

    response = client.call_action('echo', 'echo', {})

    assert response.body['body']['seen_by'] == ['outer', 'inner']
    assert response.body['marked_by'] == ['inner', 'outer']
    assert LOG[:4] == ['outer request in', 'inner request in', 'inner request out', 'outer request out']
    assert LOG[4:8] == ['outer response in', 'inner response in', 'inner response out', 'outer response out']


def test_middleware_stacks_are_built_once_per_service() -> None:
    client = make_client(named('only'))

    for _ in range(3):
        client.call_action('echo', 'echo')
    client.call_actions_parallel('echo', [{'action': 'echo'}, {'action': 'echo'}])

    assert NamedMiddleware.builds == 1
    assert [type(m) for m in client.handlers['echo']._middleware] == [NamedMiddleware]


def test_an_exception_in_middleware_reaches_the_caller_through_outer_layers() -> None:
    client = make_client(named('outer'), {'path': f'{__name__}:ExplodingMiddleware'})

    with pytest.raises(ExplodingMiddleware.Boom):
        client.call_action('echo', 'echo', control_extra={'explode': True})

    assert LOG == ['outer request in']
    assert client.call_action('echo', 'echo').body['control']['continue_on_error'] is False


def test_base_middleware_adds_no_layer() -> None:
    def send(request_id: int, meta: dict[str, Any], request: JobRequest, expiry: int | None) -> None:
        pass

    def receive(timeout: int | None) -> tuple[int | None, JobResponse | None]:
        return None, None

    assert ClientMiddleware().request(send) is send
    assert ClientMiddleware().response(receive) is receive


# Settings


def test_client_settings_defaults_to_the_redis_transport_and_no_middleware() -> None:
    assert ClientSettings.defaults['transport'] == {'path': REDIS_CLIENT_TRANSPORT_PATH}
    assert REDIS_CLIENT_TRANSPORT_PATH == 'pysoa.common.transport.redis_gateway.client:RedisClientTransport'
    assert ClientSettings.defaults['middleware'] == []


def test_unknown_setting_is_refused_by_name() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match='transprot'):
        Client({'echo': {'transprot': {}}})


def test_middleware_must_be_client_middleware() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match='middleware'):
        make_client({'path': 'pysoa.server.middleware:ServerMiddleware'})


def test_transport_must_be_a_client_transport() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match='transport'):
        Client({'echo': {'transport': {'path': f'{__name__}:NamedMiddleware', 'kwargs': {'name': 'x'}}}})


def test_middleware_kwargs_are_validated() -> None:
    with pytest.raises(ClientSettings.ImproperlyConfigured, match='nmae'):
        make_client({'path': f'{__name__}:NamedMiddleware', 'kwargs': {'nmae': 'typo'}})


# Metrics


class CountingTimer:
    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def __enter__(self) -> 'CountingTimer':
        return self

    def __exit__(self, *_: Any) -> None:
        self.log.append(self.name)


@fields.ClassConfigurationSchema.provider(fields.Dictionary({}))
class RecordingMetrics:
    """Records timer names and publishes."""

    instances: list['RecordingMetrics'] = []

    def __init__(self) -> None:
        self.timed: list[str] = []
        self.publishes = 0
        RecordingMetrics.instances.append(self)

    def counter(self, name: str, **tags: Any) -> Any:
        raise AssertionError('the client counts nothing')

    def timer(self, name: str, **kwargs: Any) -> CountingTimer:
        return CountingTimer(self.timed, name)

    def gauge(self, name: str, **kwargs: Any) -> Any:
        raise AssertionError('the client gauges nothing')

    histogram = gauge

    def publish_all(self) -> None:
        self.publishes += 1


def test_a_configured_metrics_recorder_times_send_and_receive() -> None:
    RecordingMetrics.instances.clear()
    client = Client(
        {
            'echo': {
                'transport': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {'server_class': EchoServer, 'server_settings': {}},
                },
                'metrics': {'path': f'{__name__}:RecordingMetrics'},
            }
        }
    )

    client.call_action('echo', 'echo')

    (metrics,) = RecordingMetrics.instances
    assert metrics.timed[:2] == ['client.transport.initialize', 'client.middleware.initialize']
    assert set(metrics.timed[2:]) == {
        'client.send.including_middleware',
        'client.send.excluding_middleware',
        'client.receive.including_middleware',
        'client.receive.excluding_middleware',
    }
    assert metrics.publishes >= 2
