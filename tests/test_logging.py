"""Logging: the request-context filter, redaction, the JSON and text formatters, the syslog handler."""

import asyncio
import datetime
import decimal
import gc
import json
import logging
import logging.handlers
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.common.logging import (
    JSONFormatter,
    PlainTextFormatter,
    PySOALogContextFilter,
    RecursivelyCensoredDictWrapper,
    SyslogHandler,
)


@pytest.fixture(autouse=True)
def clean_context() -> Iterator[None]:
    yield
    for _ in range(10):
        PySOALogContextFilter.clear_logging_request_context()
        PySOALogContextFilter.clear_logging_action_name()
    PySOALogContextFilter.set_service_name(None)


def make_record(msg: str = 'hello %s', args: tuple[Any, ...] = ('world',), **extra: Any) -> Any:
    """A WARNING record (typed Any: the filter adds attributes LogRecord does not declare)."""
    record = logging.LogRecord('my.logger', logging.WARNING, '/path/to/file.py', 12, msg, args, None)
    record.__dict__.update(extra)
    return record


# PySOALogContextFilter


def test_filter_stamps_placeholders_without_a_request() -> None:
    record = make_record()
    assert PySOALogContextFilter().filter(record) is True
    assert (record.correlation_id, record.request_id, record.service_name, record.action_name) == (
        '--',
        '--',
        'unknown',
        '(n/a)',
    )


def test_filter_stamps_the_innermost_request_context() -> None:
    log_filter = PySOALogContextFilter()
    PySOALogContextFilter.set_service_name('users')
    PySOALogContextFilter.set_logging_request_context(filter='mine', logger='yours')
    assert PySOALogContextFilter.get_logging_request_context() == {'filter': 'mine', 'logger': 'yours'}

    record = make_record()
    log_filter.filter(record)
    assert (record.correlation_id, record.request_id, record.service_name) == ('--', '--', 'users')

    PySOALogContextFilter.set_logging_request_context(request_id=4321, correlation_id='abc1234')
    PySOALogContextFilter.set_logging_action_name('get_user')
    record = make_record()
    log_filter.filter(record)
    assert (record.correlation_id, record.request_id, record.action_name) == ('abc1234', 4321, 'get_user')

    PySOALogContextFilter.clear_logging_action_name()
    PySOALogContextFilter.clear_logging_request_context()
    assert PySOALogContextFilter.get_logging_request_context() == {'filter': 'mine', 'logger': 'yours'}
    PySOALogContextFilter.clear_logging_request_context()
    assert PySOALogContextFilter.get_logging_request_context() is None
    PySOALogContextFilter.clear_logging_request_context()  # one too many: harmless
    record = make_record()
    log_filter.filter(record)
    assert (record.correlation_id, record.action_name) == ('--', '(n/a)')


def test_action_name_may_come_from_the_request_context() -> None:
    PySOALogContextFilter.set_logging_request_context(action_name='from_context')
    assert PySOALogContextFilter.get_logging_action_name() == 'from_context'
    PySOALogContextFilter.set_logging_action_name('pushed')
    assert PySOALogContextFilter.get_logging_action_name() == 'pushed'


def test_threads_do_not_see_each_others_context() -> None:
    seen: dict[str, Any] = {}
    PySOALogContextFilter.set_logging_request_context(request_id=1234, correlation_id='abc')

    def other_thread() -> None:
        seen['before'] = PySOALogContextFilter.get_logging_request_context()
        PySOALogContextFilter.set_logging_request_context(foo='bar')
        seen['during'] = PySOALogContextFilter.get_logging_request_context()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(timeout=10)
    assert seen == {'before': None, 'during': {'foo': 'bar'}}
    assert PySOALogContextFilter.get_logging_request_context() == {'request_id': 1234, 'correlation_id': 'abc'}


def test_asyncio_tasks_do_not_see_each_others_context() -> None:
    async def handle(number: int, started: asyncio.Barrier) -> tuple[Any, Any]:
        PySOALogContextFilter.set_logging_request_context(request_id=number)
        await started.wait()  # both tasks have pushed before either reads
        seen = PySOALogContextFilter.get_logging_request_context()
        PySOALogContextFilter.clear_logging_request_context()
        return seen, PySOALogContextFilter.get_logging_request_context()

    async def main() -> list[tuple[Any, Any]]:
        PySOALogContextFilter.set_logging_request_context(request_id='outer')
        started = asyncio.Barrier(2)
        results = list(await asyncio.gather(handle(1, started), handle(2, started)))
        assert PySOALogContextFilter.get_logging_request_context() == {'request_id': 'outer'}
        return results

    assert asyncio.run(main()) == [
        ({'request_id': 1}, {'request_id': 'outer'}),
        ({'request_id': 2}, {'request_id': 'outer'}),
    ]


def test_returned_context_is_a_copy() -> None:
    PySOALogContextFilter.set_logging_request_context(request_id=1)
    context = PySOALogContextFilter.get_logging_request_context()
    assert context is not None
    context['request_id'] = 2
    assert PySOALogContextFilter.get_logging_request_context() == {'request_id': 1}


# RecursivelyCensoredDictWrapper


def test_wrapper_refuses_non_mappings() -> None:
    with pytest.raises(ValueError):
        RecursivelyCensoredDictWrapper(['this', 'is', 'a', 'list'])  # type: ignore[arg-type]


def test_wrapper_censors_simple_dict_without_touching_it() -> None:
    original = {
        'hello': 'world',
        'password': 'censor!',
        'credit_card': '1234567890123456',
        'passphrase': True,
        'cvv': 938,
    }
    wrapped = RecursivelyCensoredDictWrapper(original)
    assert eval(repr(wrapped)) == {
        'hello': 'world',
        'password': '**********',
        'credit_card': '**********',
        'passphrase': True,
        'cvv': '**********',
    }
    assert str(wrapped) == repr(wrapped)
    assert bytes(wrapped) == repr(wrapped).encode('utf-8')
    assert original['password'] == 'censor!'


def test_wrapper_censors_recursively_and_keeps_container_types() -> None:
    original = {
        'a_list': ['a', True, 109.8277, {'username': 'nick', 'passphrase': 'secret'}, {'passphrase': ''}],
        'a_set': {'b', False, 18273},
        'a_tuple': ('c', 42, {'cc_number': '9876543210987654', 'cvv': '987', 'expiration': '12-20', 'pin': '4096'}),
        'passwords': ['Make It Censored', None, '', 'Hello, World!'],
        'credit_card_numbers': ('1234', '5678', '9012'),
        'cvv2': {'a', None, '', 'b'},
        'pin': frozenset({'c', 'd', ''}),
        'passphrases': {'not_sensitive': 'not censored', 'bankAccount': 'this should also be censored'},
        'secretKeys': [[b'nested', 0, 3.5]],
    }
    censored = '**********'
    assert eval(repr(RecursivelyCensoredDictWrapper(original))) == {
        'a_list': ['a', True, 109.8277, {'username': 'nick', 'passphrase': censored}, {'passphrase': ''}],
        'a_set': {'b', False, 18273},
        'a_tuple': ('c', 42, {'cc_number': censored, 'cvv': censored, 'expiration': '12-20', 'pin': censored}),
        'passwords': [censored, None, '', censored],
        'credit_card_numbers': (censored, censored, censored),
        'cvv2': {censored, None, ''},
        'pin': frozenset({censored, ''}),
        'passphrases': {'not_sensitive': 'not censored', 'bankAccount': censored},
        'secretKeys': [[censored, 0, censored]],
    }
    assert original['passwords'] == ['Make It Censored', None, '', 'Hello, World!']


def test_sensitive_fields_cover_spellings_and_plurals() -> None:
    fields = RecursivelyCensoredDictWrapper.SENSITIVE_FIELDS
    assert {
        'private_key',
        'private-key',
        'privateKey',
        'private_keys',
        'privateKeys',
        'card_securities',
        'cardSecurityCodes',
        'authToken',
        'pass',
        'personal-identification-numbers',
    } <= fields
    assert not {'passes', 'tokens', 'username', 'Password'} & fields
    assert len(fields) == 242


def test_sensitive_fields_can_be_extended_by_subclassing() -> None:
    class Wrapper(RecursivelyCensoredDictWrapper):
        SENSITIVE_FIELDS = RecursivelyCensoredDictWrapper.SENSITIVE_FIELDS | {'ssn'}

    assert eval(str(Wrapper({'ssn': '123', 'body': {'ssn': 4, 'password': 'x'}}))) == {
        'ssn': '**********',
        'body': {'ssn': '**********', 'password': '**********'},
    }


def test_with_sensitive_fields_builds_an_extended_wrapper_class() -> None:
    wrapper_class = RecursivelyCensoredDictWrapper.with_sensitive_fields(['ssn', 'password'])
    assert issubclass(wrapper_class, RecursivelyCensoredDictWrapper)
    assert eval(str(wrapper_class({'ssn': 123, 'password': 'x', 'name': 'n'}))) == {
        'ssn': '**********',
        'password': '**********',
        'name': 'n',
    }
    assert RecursivelyCensoredDictWrapper.with_sensitive_fields(['password']) is RecursivelyCensoredDictWrapper
    assert 'ssn' not in RecursivelyCensoredDictWrapper.SENSITIVE_FIELDS


def test_decimals_under_sensitive_keys_are_censored() -> None:
    assert eval(str(RecursivelyCensoredDictWrapper({'pin': decimal.Decimal('1234'), 'amount': 1.5}))) == {
        'pin': '**********',
        'amount': 1.5,
    }


def test_censoring_happens_only_if_the_record_is_formatted(caplog: pytest.LogCaptureFixture) -> None:
    wrapped = RecursivelyCensoredDictWrapper({'password': 'x'})
    logger = logging.getLogger('tests.logging.lazy')
    with caplog.at_level(logging.INFO, logger='tests.logging.lazy'):
        logger.debug('request: %s', wrapped)
        assert wrapped._repr_cache is None
        logger.info('request: %s', wrapped)
    assert caplog.messages == ["request: {'password': '**********'}"]


# JSONFormatter


def test_json_formatter_writes_one_object_per_line_with_the_context() -> None:
    PySOALogContextFilter.set_service_name('users')
    PySOALogContextFilter.set_logging_request_context(request_id=7, correlation_id='corr-1')
    PySOALogContextFilter.set_logging_action_name('get_user')
    record = make_record()
    record.created = 1700000000.123456
    PySOALogContextFilter().filter(record)

    line = JSONFormatter().format(record)
    assert '\n' not in line
    payload = json.loads(line)
    assert list(payload) == [
        'timestamp',
        'level',
        'service_name',
        'correlation_id',
        'request_id',
        'action_name',
        'logger',
        'message',
    ]
    assert payload == {
        'timestamp': '2023-11-14T22:13:20.123456+00:00',
        'level': 'WARNING',
        'service_name': 'users',
        'correlation_id': 'corr-1',
        'request_id': 7,
        'action_name': 'get_user',
        'logger': 'my.logger',
        'message': 'hello world',
    }
    assert datetime.datetime.fromisoformat(payload['timestamp']).timestamp() == pytest.approx(1700000000.123456)


def test_json_formatter_writes_null_outside_a_request_with_or_without_the_filter() -> None:
    stamped = make_record()
    PySOALogContextFilter().filter(stamped)
    for record in (stamped, make_record()):
        payload = json.loads(JSONFormatter().format(record))
        assert [payload[key] for key in ('service_name', 'correlation_id', 'request_id', 'action_name')] == [None] * 4


def test_json_formatter_reads_the_live_context_when_the_filter_is_absent() -> None:
    PySOALogContextFilter.set_logging_request_context(request_id=8, correlation_id='corr-2')
    payload = json.loads(JSONFormatter().format(make_record()))
    assert (payload['correlation_id'], payload['request_id'], payload['service_name']) == ('corr-2', 8, None)


def test_json_formatter_local_time_carries_its_offset() -> None:
    record = make_record()
    stamp = json.loads(JSONFormatter(utc=False).format(record))['timestamp']
    parsed = datetime.datetime.fromisoformat(stamp)
    assert parsed.utcoffset() is not None
    assert parsed.timestamp() == pytest.approx(record.created)


def test_json_formatter_includes_exceptions_and_stack() -> None:
    try:
        raise RuntimeError('boom')
    except RuntimeError:
        record = logging.LogRecord('x', logging.ERROR, __file__, 1, 'failed', (), sys.exc_info(), sinfo='Stack (x)')
    payload = json.loads(JSONFormatter().format(record))
    assert payload['exc_info'].startswith('Traceback')
    assert 'RuntimeError: boom' in payload['exc_info']
    assert payload['stack_info'] == 'Stack (x)'


def test_json_formatter_never_raises_on_odd_values() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError('no')

        def __repr__(self) -> str:
            raise RuntimeError('no')

    circular: dict[str, Any] = {}
    circular['me'] = circular
    formatter = JSONFormatter()

    for record in (
        make_record('%d items', ('not a number',)),
        make_record('%s', (Unprintable(),)),
        make_record('x', (), odd=Unprintable(), when=datetime.date(2020, 1, 2), data={(1, 2): 'tuple key'}),
        make_record('x', (), loop=circular),
        make_record('x', (), ratio=float('nan'), nested={'inf': float('inf')}),
        make_record('caf\u00e9 \ud83d', ()),
    ):
        payload = json.loads(formatter.format(record), parse_constant=_refuse)
        assert payload['level'] == 'WARNING'

    broken = make_record()
    broken.created = 'not a time'
    assert json.loads(formatter.format(broken))['message'] == 'hello %s'


def _refuse(constant: str) -> None:
    raise AssertionError(f'not strict JSON: {constant}')


def test_json_formatter_includes_extra_attributes() -> None:
    payload = json.loads(JSONFormatter().format(make_record(user_id=42, when=datetime.date(2020, 1, 2))))
    assert payload['user_id'] == 42
    assert payload['when'] == '2020-01-02'
    assert 'user_id' not in json.loads(JSONFormatter(include_extra=False).format(make_record(user_id=42)))


def test_json_formatter_through_a_real_handler() -> None:
    stream = _Lines()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(PySOALogContextFilter())
    logger = logging.getLogger('tests.logging.json')
    logger.addHandler(handler)
    logger.propagate = False
    try:
        PySOALogContextFilter.set_logging_request_context(request_id=3, correlation_id='c')
        logger.warning('one')
        logger.warning('two\nlines')
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)['message'] for line in lines] == ['one', 'two\nlines']
    assert json.loads(lines[0])['correlation_id'] == 'c'


class _Lines:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return ''.join(self.parts)


# PlainTextFormatter


def test_plain_text_formatter_without_the_filter() -> None:
    PySOALogContextFilter.set_logging_request_context(request_id=5, correlation_id='corr')
    record = make_record()
    record.created = 1700000000.5
    line = PlainTextFormatter().format(record)
    assert line == '2023-11-14T22:13:20.500000+00:00 WARNING unknown corr 5 (n/a) my.logger: hello world'


def test_plain_text_formatter_custom_format_and_bad_arguments() -> None:
    formatter = PlainTextFormatter('%(levelname)s [%(correlation_id)s] %(message)s')
    assert formatter.format(make_record()) == 'WARNING [--] hello world'
    assert 'could not format' in formatter.format(make_record('%d', ('x',)))


# SyslogHandler (expected packets as PySOA 1.x produces them)


def _handler(maximum_length: int, overflow: int, ident: str = '') -> SyslogHandler:
    handler = SyslogHandler()
    handler.maximum_length = maximum_length
    handler.overflow = overflow
    handler.formatter = logging.Formatter('foo_file: %(name)s %(levelname)s %(message)s')
    handler.ident = ident
    return handler


def _emit(handler: SyslogHandler, message: str) -> list[bytes]:
    record = logging.LogRecord('bar_service', logging.WARNING, '/path/to/file.py', 122, message, (), None)
    sent: list[list[bytes]] = []
    handler._send = sent.append  # type: ignore[method-assign,assignment]
    try:
        handler.emit(record)
    finally:
        handler.close()
    assert len(sent) == 1
    return sent[0]


PRIORITY = b'<12>'  # LOG_USER, warning
LONG = 'This is a much longer message that is going to exceed the maximum byte count and will need truncating'


def test_syslog_handler_defaults() -> None:
    handler = SyslogHandler()
    try:
        assert handler.socktype == socket.SOCK_DGRAM
        assert handler.unixsocket is False
        assert handler.overflow == SyslogHandler.OVERFLOW_BEHAVIOR_FRAGMENT
        assert handler.maximum_length >= 1252
    finally:
        handler.close()


def test_syslog_handler_dropped_without_close_releases_its_socket() -> None:
    handler = SyslogHandler()
    sock = handler.socket
    del handler  # no close(): under filterwarnings=error a leaked socket would fail the test with ResourceWarning
    gc.collect()
    assert sock.fileno() == -1


def test_syslog_short_record_is_one_packet() -> None:
    packets = _emit(_handler(500, SyslogHandler.OVERFLOW_BEHAVIOR_FRAGMENT), 'This is a fairly short message')
    assert packets == [PRIORITY + b'foo_file: bar_service WARNING This is a fairly short message\x00']


def test_syslog_truncates() -> None:
    packets = _emit(_handler(100, SyslogHandler.OVERFLOW_BEHAVIOR_TRUNCATE, ident='5678'), LONG)
    assert packets == [
        PRIORITY + b'5678foo_file: bar_service WARNING This is a much longer message that is going to exceed '
        b'the max\x00'
    ]
    assert len(packets[0]) == 100


def test_syslog_truncates_without_splitting_a_character() -> None:
    message = 'This is a much longer message that is going to exceed the \U0001f631 maximum byte count and will need'
    packets = _emit(_handler(100, SyslogHandler.OVERFLOW_BEHAVIOR_TRUNCATE, ident='5678'), message)
    assert packets == [
        PRIORITY + b'5678foo_file: bar_service WARNING This is a much longer message that is going to exceed the \x00'
    ]


def test_syslog_fragments_repeating_the_preamble() -> None:
    packets = _emit(_handler(100, SyslogHandler.OVERFLOW_BEHAVIOR_FRAGMENT), LONG)
    assert packets == [
        PRIORITY + b'foo_file: bar_service WARNING This is a much longer message that is going to exceed'
        b"... (cont'd)\x00",
        PRIORITY + b"foo_file: bar_service WARNING (cont'd #2) ... the maximum byte count and will need "
        b"... (cont'd)\x00",
        PRIORITY + b"foo_file: bar_service WARNING (cont'd #3) ...truncating\x00",
    ]
    assert [len(packet) for packet in packets[:2]] == [100, 100]


def test_syslog_fragments_without_splitting_a_character() -> None:
    message = (
        'This is a much longer message that yes is going to \U0001f631 exceed the maximum byte count and will '
        'need truncating'
    )
    packets = _emit(_handler(100, SyslogHandler.OVERFLOW_BEHAVIOR_FRAGMENT), message)
    assert packets == [
        PRIORITY + b"foo_file: bar_service WARNING This is a much longer message that yes is going to ... (cont'd)\x00",
        PRIORITY + b"foo_file: bar_service WARNING (cont'd #2) ...\xf0\x9f\x98\xb1 exceed the maximum byte count and"
        b"... (cont'd)\x00",
        PRIORITY + b"foo_file: bar_service WARNING (cont'd #3) ... will need truncating\x00",
    ]


def test_syslog_fragmenting_with_a_tiny_limit_still_terminates() -> None:
    packets = _emit(_handler(40, SyslogHandler.OVERFLOW_BEHAVIOR_FRAGMENT), LONG)
    assert len(packets) == 1
    assert len(packets[0]) <= 40


def test_cleanly_slice_encoded_string() -> None:
    text = b'This string \xf0\x9f\xa4\xae has \xf0\x9f\x9b\x8c multi-byte \xe2\x9c\x8d\xf0\x9f\x8f\xbb characters!'
    slice_ = SyslogHandler._cleanly_slice_encoded_string
    assert slice_(b'Hello world, this has no multi-byte characters', 15) == (
        b'Hello world, th',
        b'is has no multi-byte characters',
    )
    for limit, cut in [
        (12, 12),
        (13, 12),
        (15, 12),
        (16, 16),
        (21, 21),
        (24, 21),
        (25, 25),
        (37, 37),
        (39, 37),
        (40, 40),
        (43, 40),
        (44, 44),
        (1000, len(text)),
    ]:
        first, rest = slice_(text, limit)
        assert (first, rest) == (text[:cut], text[cut:]), limit
        first.decode('utf-8')
        rest.decode('utf-8')


def test_syslog_sends_udp_datagrams_to_a_real_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(('127.0.0.1', 0))
        receiver.settimeout(5)
        handler = SyslogHandler(address=receiver.getsockname())
        try:
            handler._send([b'first part', b'second part'])
            assert [receiver.recv(100), receiver.recv(100)] == [b'first part', b'second part']
        finally:
            handler.close()


def test_syslog_sends_over_tcp_to_a_real_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        listener.settimeout(5)
        handler = SyslogHandler(address=listener.getsockname(), socket_type=socket.SOCK_STREAM)
        try:
            assert handler.overflow == SyslogHandler.OVERFLOW_BEHAVIOR_TRUNCATE
            assert handler.maximum_length == 1024 * 1024
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(5)
                handler._send([b'one;', b'two;'])
                received = b''
                for _ in range(10):
                    if received == b'one;two;':
                        break
                    received += connection.recv(100)
                assert received == b'one;two;'
        finally:
            handler.close()


@pytest.mark.skipif(not hasattr(socket, 'AF_UNIX'), reason='needs Unix sockets')
def test_syslog_reconnects_to_a_restarted_unix_socket_daemon() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'log.sock')
        first = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        first.bind(path)
        first.settimeout(5)
        handler = SyslogHandler(address=path)
        try:
            assert handler.unixsocket
            assert handler.maximum_length == 1024 * 1024
            handler._send([b'before'])
            assert first.recv(100) == b'before'

            # The daemon restarts: its old socket goes away and a new one is bound at the same path.
            first.close()
            os.unlink(path)
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as second:
                second.bind(path)
                second.settimeout(5)
                handler._send([b'after 1', b'after 2'])
                assert [second.recv(100), second.recv(100)] == [b'after 1', b'after 2']
        finally:
            handler.close()
            first.close()


def test_syslog_emit_errors_go_to_handle_error(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _handler(500, SyslogHandler.OVERFLOW_BEHAVIOR_FRAGMENT)
    handled: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, 'handleError', handled.append)

    def fail(parts: list[bytes]) -> None:
        raise OSError('network down')

    monkeypatch.setattr(handler, '_send', fail)
    try:
        handler.emit(make_record())
    finally:
        handler.close()
    assert len(handled) == 1


def test_request_id_zero_is_kept_not_replaced_by_the_placeholder() -> None:
    import logging as std_logging

    from pysoa.common.logging import PySOALogContextFilter

    record = std_logging.LogRecord('x', std_logging.INFO, __file__, 1, 'msg', None, None)
    PySOALogContextFilter.set_logging_request_context(request_id=0, correlation_id='c')
    try:
        PySOALogContextFilter().filter(record)
    finally:
        PySOALogContextFilter.clear_logging_request_context()
    assert record.request_id == 0
    assert record.correlation_id == 'c'
