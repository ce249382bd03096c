"""Text for log output that never raises: a record's message and any value's str, whatever they hold."""

import logging

__all__ = ('safe_message', 'safe_str')


def safe_message(record: logging.LogRecord) -> str:
    """The record's message; when its format string and arguments do not fit, both, and why."""
    try:
        return record.getMessage()
    except Exception as error:
        # A bad format string or an argument whose __str__ raises must not lose the log line.
        return f'{safe_str(record.msg)} % {safe_str(record.args)} (could not format: {type(error).__name__})'


def safe_str(value: object) -> str:
    """str(value), else repr(value), else a placeholder naming its type."""
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f'<unprintable {type(value).__name__}>'
