"""Text for log output that never raises and never grows past a bound: a record's message and any value's str.

No log line of pysoa's is longer than `MAXIMUM_LOG_CHARACTERS` (the environment variable
`PYSOA_LOG_MAXIMUM_CHARACTERS`, default 65536; 0 turns the bound off): a longer request or response, or
message, is cut there and says how long it was. A 50 MB request must not make a 50 MB log line.
"""

import logging
import os

__all__ = ('LOG_LIMIT_VARIABLE', 'MAXIMUM_LOG_CHARACTERS', 'preview', 'safe_message', 'safe_str', 'truncated')

LOG_LIMIT_VARIABLE = 'PYSOA_LOG_MAXIMUM_CHARACTERS'


def _limit_from_environment() -> int:
    try:
        return max(0, int(os.environ.get(LOG_LIMIT_VARIABLE, '65536')))
    except ValueError:
        return 65536  # a typo in a variable must not stop a service from starting; the default still bounds


MAXIMUM_LOG_CHARACTERS = _limit_from_environment()
"""The bound, read once at import (see the module docstring)."""


def truncated(text: str, limit: int | None = None) -> str:
    """`text` cut to `limit` characters (default MAXIMUM_LOG_CHARACTERS; 0: no bound), saying how long it was."""
    if limit is None:
        limit = MAXIMUM_LOG_CHARACTERS
    if limit <= 0 or len(text) <= limit:
        return text
    return f'{text[:limit]}... (truncated: {len(text)} characters in all)'


def preview(text: str) -> str:
    """The start of a peer's value quoted in an error message: at most 200 characters of it."""
    return truncated(text, 200)


def safe_message(record: logging.LogRecord) -> str:
    """The record's message; when its format string and arguments do not fit, both, and why."""
    try:
        return truncated(record.getMessage())
    except Exception as error:
        # A bad format string or an argument whose __str__ raises must not lose the log line.
        text = f'{safe_str(record.msg)} % {safe_str(record.args)} (could not format: {type(error).__name__})'
        return truncated(text)


def safe_str(value: object) -> str:
    """str(value), else repr(value), else a placeholder naming its type."""
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f'<unprintable {type(value).__name__}>'
