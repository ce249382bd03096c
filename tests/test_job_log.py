"""The job log through real logging handlers: one summary line per job (JSON keys or `key=value` text), bodies at
DEBUG unless the 1.x levels say otherwise, censored and cut; and what a SERVER_ERROR tells the caller."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.common.logging import JSONFormatter, PlainTextFormatter, PySOALogContextFilter
from pysoa.common.transport.base import ReceivedMessage
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest
from pysoa.test.mock_transport import MockServerTransport

CENSORED = '**********'
NEW_CLIENT = {'client_version': [2, 0, 0], 'reply_to': 'service.x.abc!000000000001'}


class Greet(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'greeting': f'hello {request.body.get("name", "you")}', 'api_key': 'k-123'}


class Fail(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        token = request.body['token']
        raise ValueError(f'could not log in with password={token} for {{"apiKey": "{token}"}}')


class LogServer(Server):
    service_name = 'log_service'
    action_class_map = {'greet': Greet, 'fail': Fail}


def make_server(**settings: Any) -> tuple[LogServer, MockServerTransport]:
    server = LogServer(
        ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}, **settings}),
    )
    assert isinstance(server.transport, MockServerTransport)
    return server, server.transport


def job(*actions: str, context: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
    merged = {'switches': [], 'correlation_id': 'corr-1', 'caller': 'web', **(context or {})}
    return {
        'control': {'continue_on_error': False},
        'context': {key: value for key, value in merged.items() if value is not None},
        'actions': [{'action': a, 'body': dict(body)} for a in actions],
    }


def serve(server: LogServer, transport: MockServerTransport, request_id: int, message: dict[str, Any]) -> None:
    transport.incoming.append(ReceivedMessage(request_id, dict(NEW_CLIENT), message))
    server.handle_next_request()


class Captured:
    """A real `StreamHandler` on the job logger, with the context filter and a formatter, writing to a buffer."""

    def __init__(self, formatter: logging.Formatter, level: int) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(PySOALogContextFilter())
        self.logger = logging.getLogger('pysoa.server.job')
        self.level = level

    def __enter__(self) -> 'Captured':
        self.previous = self.logger.level
        self.logger.setLevel(self.level)
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.previous)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


@pytest.fixture
def json_log() -> Iterator[Captured]:
    with Captured(JSONFormatter(), logging.INFO) as captured:
        yield captured


def test_one_json_summary_line_per_job_with_its_fields_as_keys(json_log: Captured) -> None:
    server, transport = make_server()

    serve(server, transport, 41, job('greet', name='ann'))

    [line] = json_log.lines()  # no bodies at INFO any more
    record = json.loads(line)
    assert record['level'] == 'INFO'
    assert record['logger'] == 'pysoa.server.job'
    assert record['message'].startswith('Job done: service=log_service actions=greet request_id=41 ')
    assert {key: record[key] for key in ('service', 'actions', 'request_id', 'correlation_id', 'caller')} == {
        'service': 'log_service',
        'actions': ['greet'],
        'request_id': 41,
        'correlation_id': 'corr-1',
        'caller': 'web',
    }
    assert (record['outcome'], record['error_codes']) == ('ok', [])
    assert isinstance(record['duration_ms'], float) and record['duration_ms'] >= 0
    # The mock transport reports no sizes; the Redis transport does (tests/test_server_observability_process.py).
    assert (record['request_bytes'], record['response_bytes']) == (None, None)


def test_a_failed_job_has_its_error_codes_as_outcome(json_log: Captured) -> None:
    server, transport = make_server()

    serve(server, transport, 42, job('greet', 'nope', 'greet', context={'caller': None, 'calling_service': 'up'}))

    [record] = [json.loads(line) for line in json_log.lines()]
    assert record['actions'] == ['greet', 'nope', 'greet']
    assert (record['outcome'], record['error_codes']) == ('error', ['UNKNOWN'])
    assert record['caller'] == 'up'
    assert 'outcome=error:UNKNOWN ' in record['message']


def test_the_text_line_reads_key_value_and_quotes_what_would_break_it() -> None:
    server, transport = make_server()
    formatter = PlainTextFormatter('%(levelname)s %(name)s: %(message)s')

    with Captured(formatter, logging.INFO) as text_log:
        serve(server, transport, 43, job('greet', context={'caller': 'my app\nFAKE LINE', 'correlation_id': 'c 2'}))

    [line] = text_log.lines()
    assert line.startswith(
        'INFO pysoa.server.job: Job done: service=log_service actions=greet request_id=43 correlation_id="c 2" '
        'caller="my app\\nFAKE LINE" duration_ms='
    )
    assert line.endswith(' outcome=ok request_bytes=- response_bytes=-')


def test_bodies_are_logged_at_debug_censored_and_cut_saying_how_long_they_were() -> None:
    server, transport = make_server(request_log_body_max_length=200)

    with Captured(PlainTextFormatter('%(levelname)s %(message)s'), logging.DEBUG) as debug_log:
        serve(server, transport, 44, job('greet', name='n' * 5000, password='hunter2', API_KEY='abc'))

    request_line, response_line, summary = debug_log.lines()
    assert request_line.startswith('DEBUG Job request: ')
    assert 'hunter2' not in request_line and "'API_KEY'" not in request_line  # cut before it, or censored
    assert request_line.endswith('characters in all)')
    assert len(request_line) < 300
    assert response_line.startswith('DEBUG Job response: ')
    assert 'k-123' not in response_line and response_line.endswith('characters in all)')
    assert summary.startswith('INFO Job done: ')


def test_the_1x_level_settings_still_put_bodies_at_info(json_log: Captured) -> None:
    server, transport = make_server(request_log_success_level='INFO', request_log_body_max_length=0)

    serve(server, transport, 45, job('greet', name='ann', secret='s3'))

    messages = [json.loads(line)['message'] for line in json_log.lines()]
    assert [m.split(':')[0] for m in messages] == ['Job request', 'Job response', 'Job done']
    assert f"'secret': '{CENSORED}'" in messages[0] and 's3' not in messages[0]
    assert f"'api_key': '{CENSORED}'" in messages[1] and 'k-123' not in messages[1]


def test_a_failed_job_logs_its_bodies_at_the_error_level(json_log: Captured) -> None:
    server, transport = make_server(request_log_error_level='WARNING')

    serve(server, transport, 46, job('greet'))
    serve(server, transport, 47, job('nope'))

    levels = [(record['level'], record['message'][:11]) for record in map(json.loads, json_log.lines())]
    assert levels == [
        ('INFO', 'Job done: s'),
        ('WARNING', 'Job request'),
        ('WARNING', 'Job respons'),
        ('INFO', 'Job done: s'),
    ]


def test_nothing_is_logged_when_the_job_logger_is_above_info() -> None:
    server, transport = make_server()

    with Captured(JSONFormatter(), logging.WARNING) as quiet:
        serve(server, transport, 48, job('greet'))

    assert quiet.lines() == []


def server_error(server: LogServer, transport: MockServerTransport) -> dict[str, Any]:
    serve(server, transport, 49, job('fail', token='tok-987'))
    [(_, _, body)] = transport.sent
    [error] = body['actions'][0]['errors']
    assert error['code'] == 'SERVER_ERROR'
    return dict(error)


def test_a_server_error_tells_the_caller_its_message_and_traceback_censored() -> None:
    server, transport = make_server()

    error = server_error(server, transport)

    assert 'tok-987' not in error['message'] and 'tok-987' not in error['traceback']
    assert f'password={CENSORED}' in error['message']
    assert f'"apiKey": "{CENSORED}"' in error['message']
    assert 'Traceback (most recent call last)' in error['traceback']
    assert f'password={CENSORED}' in error['traceback']


def test_the_traceback_can_be_kept_from_callers() -> None:
    server, transport = make_server(send_traceback_to_callers=False)

    error = server_error(server, transport)

    assert error.get('traceback') is None
    assert f'password={CENSORED}' in error['message']


def test_variables_sent_with_a_server_error_are_censored() -> None:
    server, _ = make_server()
    error = ValueError('boom')

    [sent] = server.handle_job_exception(error, variables={'session_id': 'abc', 'data': {'token': 'x1'}}).errors

    assert sent.variables == {'session_id': CENSORED, 'data': f"{{'token': '{CENSORED}'}}"}
