"""Logging helpers: the request context on every record, and JSON and plain-text formats.

- `PySOALogContextFilter` stamps each record with `service_name`, `correlation_id`, `request_id`
  and `action_name` of the request being handled. The request context lives in context
  variables, so threads and asyncio tasks each see their own.
- `JSONFormatter` writes one JSON object per line; `PlainTextFormatter` a readable line with the
  same fields. Both fill the context fields in themselves when the filter is not installed.

Redaction (`RecursivelyCensoredDictWrapper`) lives in `pysoa.common.redaction` and the syslog handler
(`SyslogHandler`) in `pysoa.common.syslog`; both are imported here too, because 1.x settings and code
name them as `pysoa.common.logging.RecursivelyCensoredDictWrapper` and `pysoa.common.logging.SyslogHandler`.

Logging levels are checked before filters and formatters run, so none of this costs anything for
a disabled level.
"""

import contextvars
import datetime
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pysoa.common.log_text import safe_message, safe_str
from pysoa.common.redaction import RecursivelyCensoredDictWrapper
from pysoa.common.syslog import SyslogHandler

__all__ = (
    'JSONFormatter',
    'PlainTextFormatter',
    'PySOALogContextFilter',
    'RecursivelyCensoredDictWrapper',
    'SyslogHandler',
)

# Tuples, replaced rather than mutated: a task or thread that copied the context keeps its own stack.
_request_contexts: contextvars.ContextVar[tuple[Mapping[str, object], ...]] = contextvars.ContextVar(
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
    def set_logging_request_context(cls, **context: object) -> None:
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


def _context_fields(record: logging.LogRecord) -> dict[str, object]:
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
                'message': safe_str(getattr(record, 'msg', None)),
                'format_error': safe_str(error),
            }
        try:
            return json.dumps(payload, default=safe_str, ensure_ascii=True, allow_nan=False)
        except Exception:
            # Circular structures, non-string keys, NaN: write those values as plain strings instead.
            safe = {
                key: value if value is None or isinstance(value, (str, int)) else safe_str(value)
                for key, value in payload.items()
            }
            return json.dumps(safe, ensure_ascii=True)

    def _payload(self, record: logging.LogRecord) -> dict[str, object]:
        payload: dict[str, object] = {
            'timestamp': _rfc3339(record.created, self.utc),
            'level': record.levelname,
            **_context_fields(record),
            'logger': record.name,
            'message': safe_message(record),
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
            return f'{self.formatTime(record)} {record.levelname} {record.name}: {safe_message(record)}'

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """RFC 3339 with the UTC offset, unless a `datefmt` is given."""
        if datefmt:
            return super().formatTime(record, datefmt)
        return _rfc3339(record.created, self.utc)
