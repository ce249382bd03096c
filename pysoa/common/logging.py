"""Logging helpers: request context on every record, redaction of secrets, JSON and text formats, syslog.

- `PySOALogContextFilter` stamps each record with `service_name`, `correlation_id`, `request_id`
  and `action_name` of the request being handled. The request context lives in context
  variables, so threads and asyncio tasks each see their own.
- `RecursivelyCensoredDictWrapper` wraps a message for logging and redacts sensitive keys only
  when (and if) the record is actually formatted.
- `JSONFormatter` writes one JSON object per line; `PlainTextFormatter` a readable line with the
  same fields. Both fill the context fields in themselves when the filter is not installed.
- `SyslogHandler` keeps each datagram under the path MTU, by truncating or fragmenting records.

Logging levels are checked before filters and formatters run, so none of this costs anything for
a disabled level.
"""

import contextvars
import datetime
import json
import logging
import logging.handlers
import numbers
import socket
import sys
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

__all__ = (
    'JSONFormatter',
    'PlainTextFormatter',
    'PySOALogContextFilter',
    'RecursivelyCensoredDictWrapper',
    'SyslogHandler',
)

# Tuples, replaced rather than mutated: a task or thread that copied the context keeps its own stack.
_request_contexts: contextvars.ContextVar[tuple[Mapping[str, Any], ...]] = contextvars.ContextVar(
    'pysoa_logging_request_contexts', default=()
)
_action_names: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    'pysoa_logging_action_names', default=()
)

_NO_ID = '--'
_NO_ACTION = '(n/a)'
_NO_SERVICE = 'unknown'
_PLACEHOLDERS = {'service_name': _NO_SERVICE, 'correlation_id': _NO_ID, 'request_id': _NO_ID, 'action_name': _NO_ACTION}


class PySOALogContextFilter(logging.Filter):
    """A filter that adds the current request's correlation id, request id, action and service name to records."""

    _service_name: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__('')

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record with the request context (placeholders when there is none); never drops it."""
        contexts = _request_contexts.get()
        if contexts:
            context = contexts[-1]
            record.correlation_id = context.get('correlation_id') or _NO_ID
            request_id = context.get('request_id')
            # 0 is a valid request id; only a missing one gets the placeholder.
            record.request_id = _NO_ID if request_id is None else request_id
        else:
            record.correlation_id = _NO_ID
            record.request_id = _NO_ID
        record.service_name = PySOALogContextFilter._service_name or _NO_SERVICE
        names = _action_names.get()
        record.action_name = names[-1] if names else (self.get_logging_action_name() or _NO_ACTION)
        return True

    @classmethod
    def set_logging_request_context(cls, **context: Any) -> None:
        """Push a request context (for example `request_id=..., correlation_id=...`) for the current thread/task."""
        _request_contexts.set((*_request_contexts.get(), context))

    @classmethod
    def clear_logging_request_context(cls) -> None:
        """Pop the most recently pushed request context; does nothing when there is none."""
        contexts = _request_contexts.get()
        if contexts:
            _request_contexts.set(contexts[:-1])

    @classmethod
    def get_logging_request_context(cls) -> dict[str, Any] | None:
        """Return the current request context, or None."""
        contexts = _request_contexts.get()
        if contexts:
            return dict(contexts[-1])
        return None

    @classmethod
    def set_logging_action_name(cls, action_name: str) -> None:
        """Push the name of the action being run for the current thread/task."""
        _action_names.set((*_action_names.get(), action_name))

    @classmethod
    def clear_logging_action_name(cls) -> None:
        """Pop the most recently pushed action name; does nothing when there is none."""
        names = _action_names.get()
        if names:
            _action_names.set(names[:-1])

    @classmethod
    def get_logging_action_name(cls) -> str | None:
        """Return the name of the action being run, or None (falls back to an `action_name` context key)."""
        names = _action_names.get()
        if names:
            return names[-1]
        contexts = _request_contexts.get()
        if contexts:
            name = contexts[-1].get('action_name')
            return name if isinstance(name, str) else None
        return None

    @classmethod
    def set_service_name(cls, service_name: str | None) -> None:
        """Set the process-wide service name put on every record."""
        PySOALogContextFilter._service_name = service_name

    @classmethod
    def get_service_name(cls) -> str | None:
        """Return the process-wide service name, or None."""
        return PySOALogContextFilter._service_name


# bool is a Number too; it is excluded where this is used (a True flag gives nothing away).
_CENSORED_SCALARS = (str, bytes, bytearray, numbers.Number)

# The scalar types of decoded requests, checked by exact type on the redaction walk's fast path.
_PLAIN_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})
_PLAIN_CENSORED_SCALARS = frozenset({str, int, float, bytes})


def _spellings(snake_case: str, plural: bool = True) -> frozenset[str]:
    """The snake_case, kebab-case and camelCase spellings of a term, and of its plural unless told not to."""
    terms = [snake_case]
    if plural:
        head, _, last = snake_case.rpartition('_')
        last = last[:-1] + 'ies' if last.endswith('ty') else last + 's'
        terms.append(f'{head}_{last}' if head else last)
    spellings: set[str] = set()
    for term in terms:
        words = term.split('_')
        spellings.update((term, '-'.join(words), words[0] + ''.join(w.capitalize() for w in words[1:])))
    return frozenset(spellings)


class RecursivelyCensoredDictWrapper:
    """Wraps a dict for logging: its str/repr is a copy with the values of sensitive keys replaced, at any depth.

    A value is censored when its key is in `SENSITIVE_FIELDS` (exact match) and it is a non-empty
    string, bytes or non-zero number (not a bool, not None). Lists, tuples and sets under a
    sensitive key have their items censored; dicts anywhere are censored by their own keys. The
    work happens on the first str/repr and is cached. To add keys, subclass and extend
    `SENSITIVE_FIELDS`, or call `with_sensitive_fields`.
    """

    SENSITIVE_FIELDS: ClassVar[frozenset[str]] = frozenset().union(
        # Authentication and related
        *(
            _spellings(term)
            for term in (
                'password',
                'passwd',
                'passphrase',
                'pass_phrase',
                'private',
                'private_key',
                'secret',
                'secret_key',
                'security_code',
            )
        ),
        *(
            _spellings(term, plural=False)
            for term in (
                'pass',
                'auth',
                'token',
                'auth_token',
                'authorization',
                'authorization_token',
                'authentication',
                'authentication_token',
            )
        ),
        # Payment cards, banking and related
        *(
            _spellings(term)
            for term in (
                'credit_card',
                'credit_card_number',
                'card_number',
                'cc_number',
                'ccn',
                'cid',
                'csc',
                'csn',
                'cvc',
                'cvc2',
                'cvd',
                'cve',
                'cvn2',
                'cvv',
                'cvv2',
                'icvv',
                'card_id',
                'card_identification',
                'card_identification_code',
                'card_identification_number',
                'card_identification_value',
                'card_security',
                'card_security_code',
                'card_security_number',
                'card_security_value',
                'card_validation',
                'card_validation_code',
                'card_validation_number',
                'card_validation_value',
                'card_verification',
                'card_verification_code',
                'card_verification_number',
                'card_verification_value',
                'account_number',
                'bank_account',
                'bank_account_number',
                'pin',
                'pin_code',
                'pin_number',
                'personal_id_number',
                'personal_identification_number',
            )
        ),
    )
    """Keys whose values are censored, in snake_case, kebab-case and camelCase, singular and plural."""

    CENSORED_STRING = '**********'

    def __init__(self, wrapped_dict: Mapping[str, Any]) -> None:
        if not isinstance(wrapped_dict, Mapping):
            raise ValueError('wrapped_dict must be a dict')
        self._wrapped_dict = wrapped_dict
        self._repr_cache: str | None = None

    @classmethod
    def with_sensitive_fields(cls, extra_fields: Iterable[str]) -> type[Self]:
        """Return a subclass that also censors the values of `extra_fields` (for example a server's settings)."""
        extra = frozenset(extra_fields)
        if extra <= cls.SENSITIVE_FIELDS:
            return cls
        namespace = {'SENSITIVE_FIELDS': cls.SENSITIVE_FIELDS | extra, '__module__': cls.__module__}
        return type(cls.__name__, (cls,), namespace)

    def __repr__(self) -> str:
        if self._repr_cache is None:
            self._repr_cache = repr(self._censored(self._wrapped_dict, False))
        return self._repr_cache

    def __str__(self) -> str:
        return self.__repr__()

    def __bytes__(self) -> bytes:
        return self.__repr__().encode('utf-8')

    @classmethod
    def _censored(cls, value: Any, censor: bool) -> Any:
        # The fast path of the walk (every request and response logged at INFO goes through it): plain dicts, lists
        # and tuples of plain scalars are checked by exact type, and are returned as they are, not copied, when
        # nothing in them is censored (their repr is then the same as a copy's). Anything else takes the general
        # path, `_censor_value`.
        kind = type(value)
        if kind is dict:
            sensitive = cls.SENSITIVE_FIELDS
            copy: dict[Any, Any] | None = None
            for key, item in value.items():
                item_kind = type(item)
                if item_kind in _PLAIN_SCALARS:
                    if not (item and item_kind in _PLAIN_CENSORED_SCALARS and key in sensitive):
                        continue
                    new_item: Any = cls.CENSORED_STRING
                else:
                    new_item = cls._censored(item, key in sensitive)
                    if new_item is item:
                        continue
                if copy is None:
                    copy = dict(value)
                copy[key] = new_item
            return value if copy is None else copy
        if kind is list or kind is tuple:
            items: list[Any] | None = None
            for index, item in enumerate(value):
                item_kind = type(item)
                if item_kind in _PLAIN_SCALARS:
                    if not (censor and item and item_kind in _PLAIN_CENSORED_SCALARS):
                        continue
                    new_item = cls.CENSORED_STRING
                else:
                    new_item = cls._censored(item, censor)
                    if new_item is item:
                        continue
                if items is None:
                    items = list(value)
                items[index] = new_item
            if items is None:
                return value
            return items if kind is list else tuple(items)
        if kind in _PLAIN_SCALARS:
            return cls.CENSORED_STRING if censor and value and kind in _PLAIN_CENSORED_SCALARS else value
        return cls._censor_value(value, censor)

    @classmethod
    def _censor_dict(cls, value: Mapping[Any, Any]) -> dict[Any, Any]:
        sensitive = cls.SENSITIVE_FIELDS
        return {k: cls._censored(v, k in sensitive) for k, v in value.items()}

    @classmethod
    def _censor_value(cls, value: Any, censor: bool) -> Any:
        if isinstance(value, Mapping):
            return cls._censor_dict(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = (cls._censored(item, censor) for item in value)
            if type(value) in (list, tuple, set, frozenset):
                return type(value)(items)
            # A namedtuple or custom container may not take an iterable: a plain list shows the content.
            return list(items)
        if censor and value and isinstance(value, _CENSORED_SCALARS) and not isinstance(value, bool):
            return cls.CENSORED_STRING
        return value


def _context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The four request-context fields of a record, None where unknown.

    Taken from the filter's stamps when it ran (turning its placeholders back into None), else
    from the live context of the thread or task that is formatting.
    """
    if getattr(record, 'correlation_id', None) is not None:
        return {
            key: None if value == placeholder else value
            for key, placeholder in _PLACEHOLDERS.items()
            for value in (getattr(record, key, None),)
        }
    contexts = _request_contexts.get()
    context = contexts[-1] if contexts else {}
    return {
        'service_name': PySOALogContextFilter.get_service_name(),
        'correlation_id': context.get('correlation_id'),
        'request_id': context.get('request_id'),
        'action_name': PySOALogContextFilter.get_logging_action_name(),
    }


def _rfc3339(created: float, utc: bool) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    if not utc:
        moment = moment.astimezone()
    return moment.isoformat(timespec='microseconds')


def _safe_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception as error:
        # A bad format string or an argument whose __str__ raises must not lose the log line.
        return f'{_safe_str(record.msg)} % {_safe_str(record.args)} (could not format: {type(error).__name__})'


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f'<unprintable {type(value).__name__}>'


# Attributes every LogRecord has; anything else on a record came from `extra=` (or a filter).
_STANDARD_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord('', 0, '', 0, '', (), None))) | {
    'message',
    'asctime',
    'taskName',
    'correlation_id',
    'request_id',
    'service_name',
    'action_name',
}


class JSONFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line, with the request context and an RFC 3339 timestamp.

    Keys: `timestamp` (UTC, or local time with its offset when `utc=False`), `level`, `service_name`,
    `correlation_id`, `request_id`, `action_name` (null outside a request), `logger`, `message`, then `exc_info` and
    `stack_info` when present, then any `extra=` attributes. Values JSON cannot represent are
    written as their str(); formatting never raises.
    """

    def __init__(self, utc: bool = True, include_extra: bool = True) -> None:
        super().__init__()
        self.utc = utc
        self.include_extra = include_extra

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single line of JSON."""
        try:
            payload = self._payload(record)
        except Exception as error:
            # Only a badly broken record gets here (a handler swallows it, but the line would be lost).
            payload = {
                'level': getattr(record, 'levelname', None),
                'message': _safe_str(getattr(record, 'msg', None)),
                'format_error': _safe_str(error),
            }
        try:
            return json.dumps(payload, default=_safe_str, ensure_ascii=True, allow_nan=False)
        except Exception:
            # Circular structures, non-string keys, NaN: write those values as plain strings instead.
            safe = {
                key: value if value is None or isinstance(value, (str, int)) else _safe_str(value)
                for key, value in payload.items()
            }
            return json.dumps(safe, ensure_ascii=True)

    def _payload(self, record: logging.LogRecord) -> dict[str, Any]:
        payload: dict[str, Any] = {
            'timestamp': _rfc3339(record.created, self.utc),
            'level': record.levelname,
            **_context_fields(record),
            'logger': record.name,
            'message': _safe_message(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload['exc_info'] = record.exc_text
        if record.stack_info:
            payload['stack_info'] = self.formatStack(record.stack_info)
        if self.include_extra:
            for key, value in vars(record).items():
                if key not in _STANDARD_RECORD_ATTRIBUTES and key not in payload and not key.startswith('_'):
                    payload[key] = value
        return payload


class PlainTextFormatter(logging.Formatter):
    """A human-readable line with an RFC 3339 timestamp and the request context; works with or without the filter.

    The default format is `PlainTextFormatter.DEFAULT_FORMAT`; any `%`-style format may name
    `service_name`, `correlation_id`, `request_id` and `action_name`.
    """

    DEFAULT_FORMAT = (
        '%(asctime)s %(levelname)s %(service_name)s %(correlation_id)s %(request_id)s %(action_name)s '
        '%(name)s: %(message)s'
    )

    def __init__(self, fmt: str | None = None, utc: bool = True) -> None:
        super().__init__(fmt or self.DEFAULT_FORMAT)
        self.utc = utc

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as text, filling in context fields the filter did not stamp."""
        for key, value in _context_fields(record).items():
            if getattr(record, key, None) is None:
                setattr(record, key, _PLACEHOLDERS[key] if value is None else value)
        try:
            return super().format(record)
        except Exception:
            return f'{self.formatTime(record)} {record.levelname} {record.name}: {_safe_message(record)}'

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """RFC 3339 with the UTC offset, unless a `datefmt` is given."""
        if datefmt:
            return super().formatTime(record, datefmt)
        return _rfc3339(record.created, self.utc)


_WORST_CASE_MTU = 576
_DATAGRAM_HEADER_BYTES = 28  # 20 bytes of IPv4 header + 8 of UDP header
_LINUX_IP_MTU = 14  # getsockopt option for the path MTU of a connected socket; not exported by `socket`
_CONTINUED = b"... (cont'd)"


def _path_mtu(host: str) -> int:
    """The path MTU to `host`, read from the route without sending anything; worst case when unknown."""
    if not sys.platform.startswith('linux'):
        return _WORST_CASE_MTU
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            # Connecting a UDP socket sends nothing; it just picks the route, whose MTU the kernel reports.
            probe.connect((host, 9))
            mtu = probe.getsockopt(socket.IPPROTO_IP, _LINUX_IP_MTU)
    except OSError:
        return _WORST_CASE_MTU
    return mtu if mtu >= _WORST_CASE_MTU else _WORST_CASE_MTU


class SyslogHandler(logging.handlers.SysLogHandler):
    """A SysLogHandler that never loses a record to the datagram size limit: it truncates or fragments it.

    Over UDP, records are kept under the path MTU to the syslog host (`overflow` chooses between
    splitting a long record into several packets, each repeating the record's preamble, and
    truncating it). Over TCP or a Unix socket, records are truncated at 1 MiB.
    """

    OVERFLOW_BEHAVIOR_FRAGMENT = 0
    """Split a record that is too long into several packets, each repeating the record's preamble."""
    OVERFLOW_BEHAVIOR_TRUNCATE = 1
    """Cut a record that is too long at the limit (on a character boundary)."""

    _MINIMUM_MTU_CACHE: ClassVar[dict[str, int]] = {}

    def __init__(
        self,
        address: tuple[str, int] | str = ('localhost', logging.handlers.SYSLOG_UDP_PORT),
        facility: int = logging.handlers.SysLogHandler.LOG_USER,
        socket_type: int | None = None,
        overflow: int = OVERFLOW_BEHAVIOR_FRAGMENT,
    ) -> None:
        super().__init__(address, facility, socket_type)  # type: ignore[arg-type,unused-ignore]  # typeshed: SocketKind
        self.overflow: int
        self.maximum_length: int
        if not self.unixsocket and self.socktype == socket.SOCK_DGRAM and isinstance(address, (tuple, list)):
            host = address[0]
            if host not in self._MINIMUM_MTU_CACHE:
                # Routes rarely change while a process runs, and every handler to the same host shares one.
                self._MINIMUM_MTU_CACHE[host] = _path_mtu(host)
            self.maximum_length = self._MINIMUM_MTU_CACHE[host] - _DATAGRAM_HEADER_BYTES
            self.overflow = overflow
        else:
            self.maximum_length = 1024 * 1024
            self.overflow = self.OVERFLOW_BEHAVIOR_TRUNCATE

    def __del__(self) -> None:
        # Handlers built and dropped without `close()` (tests, reconfigured logging) must not leak their socket,
        # which would also raise ResourceWarning. `close()` itself is not called here: it takes logging's locks.
        sock = getattr(self, 'socket', None)
        if sock is not None:
            sock.close()

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record and send it in as many packets as the length limit and overflow behaviour need."""
        try:
            self._send(self._packets(record))
        except Exception:
            self.handleError(record)

    def _packets(self, record: logging.LogRecord) -> list[bytes]:
        formatted = self.format(record)
        encoded = formatted.encode('utf-8')
        ident = getattr(self, 'ident', None) or b''
        prefix = ident.encode('utf-8') if isinstance(ident, str) else ident
        suffix = b'\x00' if getattr(self, 'append_nul', True) else b''
        priority = f'<{self.encodePriority(self.facility, self.mapPriority(record.levelname)):d}>'.encode()
        head = priority + prefix
        limit = self.maximum_length - len(prefix) - len(suffix) - len(priority)

        if len(encoded) < limit:
            return [head + encoded + suffix]
        if self.overflow == self.OVERFLOW_BEHAVIOR_TRUNCATE:
            return [head + self._cleanly_slice_encoded_string(encoded, limit)[0] + suffix]

        # Fragment: what precedes the message (time, level, ids...) is repeated in every packet and
        # the rest is spread over as many packets as needed, each marked as a continuation.
        message_start = formatted.find(_safe_message(record)[:40])
        if message_start < 0:
            message_start = 30
            preamble = (formatted[:message_start] + ' ').encode('utf-8')
        else:
            preamble = formatted[:message_start].encode('utf-8')
        remaining = formatted[message_start:].encode('utf-8')
        chunk_limit = limit - len(preamble) - len(_CONTINUED)

        packets = []
        number = 1
        while remaining:
            marker = b''
            if number > 1:
                marker = b"(cont'd #%d) ..." % number
            chunk, remaining = self._cleanly_slice_encoded_string(remaining, chunk_limit - len(marker))
            if not chunk:
                # The limit is smaller than one character: send what fits rather than loop forever.
                return [head + self._cleanly_slice_encoded_string(encoded, limit)[0] + suffix]
            packets.append(head + preamble + marker + chunk + (_CONTINUED if remaining else b'') + suffix)
            number += 1
        return packets

    def _send(self, parts: list[bytes]) -> None:
        for part in parts:
            if self.unixsocket:
                try:
                    self._socket().send(part)
                except OSError:
                    # The syslog daemon may have restarted: reconnect once and resend this part.
                    self._socket().close()
                    self._connect_unixsocket(self.address)  # type: ignore[attr-defined]
                    self._socket().send(part)
            elif self.socktype == socket.SOCK_DGRAM:
                self._socket().sendto(part, self.address)
            else:
                self._socket().sendall(part)

    def _socket(self) -> socket.socket:
        # typeshed does not declare the socket SysLogHandler keeps (and replaces on reconnection).
        sock: socket.socket = getattr(self, 'socket')  # noqa: B009
        return sock

    @staticmethod
    def _cleanly_slice_encoded_string(encoded_string: bytes, length_limit: int) -> tuple[bytes, bytes]:
        """Split UTF-8 bytes into (at most `length_limit` bytes, the rest), never inside a character."""
        if length_limit >= len(encoded_string):
            return encoded_string, b''
        cut = max(length_limit, 0)
        # UTF-8 continuation bytes look like 0b10xxxxxx: back up to the start of the character.
        while cut > 0 and encoded_string[cut] & 0xC0 == 0x80:
            cut -= 1
        return encoded_string[:cut], encoded_string[cut:]
