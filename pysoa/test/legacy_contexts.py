"""The context managers behind the unittest-style `assertRaises`, `assertWarns` and `assertLogs` methods of
`pysoa.test.legacy_assertions`: what `with self.assertRaises(...) as context:` binds, and what it checks on exit.
"""

import logging
import re
import warnings
from types import TracebackType
from typing import Any, AnyStr, NamedTuple

import pytest

__all__ = (
    'ExceptionTypes',
    'LogCapture',
    'LogWatcher',
    'RaisesContext',
    'WarningTypes',
    'WarnsContext',
    'compile_regex',
)

ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]
"""What `assertRaises` accepts: an exception class or a tuple of them."""
WarningTypes = type[Warning] | tuple[type[Warning], ...]
"""What `assertWarns` accepts: a warning class or a tuple of them."""


def compile_regex(pattern: AnyStr | re.Pattern[AnyStr] | None) -> re.Pattern[AnyStr]:
    assert pattern is not None, 'The regex must not be None'
    assert pattern, 'The regex must not be empty'
    if isinstance(pattern, re.Pattern):
        return pattern
    return re.compile(pattern)


class RaisesContext:
    """`pytest.raises` whose captured info also answers to unittest's `.exception` name.

    A block that raises nothing fails the test the way `pytest.raises` does (`pytest.fail.Exception`, "DID NOT
    RAISE ..."), as PySOA 1.x's pytest-style test case did: 1.x test suites assert on that outcome.
    """

    def __init__(self, expected: ExceptionTypes, match: str | re.Pattern[str] | None = None) -> None:
        self._raises = pytest.raises(expected, match=match)

    def __enter__(self) -> '_CapturedException':
        return _CapturedException(self._raises.__enter__())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return bool(self._raises.__exit__(exc_type, exc_value, traceback))


class _CapturedException:
    """Delegates to pytest's `ExceptionInfo`, adding `exception` as unittest's name for `value`."""

    def __init__(self, info: pytest.ExceptionInfo[BaseException]) -> None:
        self._info = info

    @property
    def exception(self) -> BaseException:
        """The exception that was raised (unittest's name for `value`)."""
        return self._info.value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._info, name)


class WarnsContext:
    """Like unittest's `assertWarns` context: passes if a matching warning was issued inside the block."""

    def __init__(self, expected: WarningTypes, regex: str | re.Pattern[str] | None = None) -> None:
        self.expected = expected
        self.regex = None if regex is None else compile_regex(regex)
        self.list: list[warnings.WarningMessage] = []
        self._catcher = warnings.catch_warnings(record=True)

    def __enter__(self) -> 'WarnsContext':
        self.list = self._catcher.__enter__()
        warnings.simplefilter('always')
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._catcher.__exit__(exc_type, exc_value, traceback)
        if exc_type is not None:
            return
        if not any(self._matches(w) for w in self.list):
            wanted = f' matching {self.regex.pattern!r}' if self.regex is not None else ''
            seen = [f'{w.category.__name__}: {w.message}' for w in self.list]
            pytest.fail(f'No {self._expected_names()} warning{wanted} was issued (saw {seen})')

    def _matches(self, record: warnings.WarningMessage) -> bool:
        if not issubclass(record.category, self.expected):
            return False
        return self.regex is None or self.regex.search(str(record.message)) is not None

    def _expected_names(self) -> str:
        expected = self.expected if isinstance(self.expected, tuple) else (self.expected,)
        return ' or '.join(e.__name__ for e in expected)


class LogWatcher(NamedTuple):
    """What `assertLogs` captured: the records and their `LEVEL:logger:message` renderings."""

    records: list[logging.LogRecord]
    output: list[str]


class _WatchingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.watcher = LogWatcher([], [])
        self.setFormatter(logging.Formatter('%(levelname)s:%(name)s:%(message)s'))

    def emit(self, record: logging.LogRecord) -> None:
        self.watcher.records.append(record)
        self.watcher.output.append(self.format(record))


class LogCapture:
    """Like unittest's `assertLogs` context: the block must log at least one record at `level` or above."""

    def __init__(self, logger: str | logging.Logger | None = None, level: str | int | None = None) -> None:
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        if isinstance(level, str):
            level = logging.getLevelNamesMapping()[level]
        self.level = level or logging.INFO
        self._handler = _WatchingHandler()
        self._saved: tuple[list[logging.Handler], int, bool] | None = None

    def __enter__(self) -> LogWatcher:
        self._saved = (self.logger.handlers[:], self.logger.level, self.logger.propagate)
        self.logger.handlers = [self._handler]
        self.logger.setLevel(self.level)
        self.logger.propagate = False
        return self._handler.watcher

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._saved is not None
        self.logger.handlers, level, self.logger.propagate = self._saved
        self.logger.setLevel(level)
        if exc_type is None and not self._handler.watcher.records:
            raise AssertionError(
                f'No logs of level {logging.getLevelName(self.level)} or higher were logged on {self.logger.name}'
            )
