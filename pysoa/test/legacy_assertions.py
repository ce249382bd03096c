"""`unittest`-style `self.assert*` methods for pytest-style test classes.

PySOA 1.x's `ServerTestCase` once inherited from `unittest.TestCase`; when it became a plain pytest class it kept
these methods so that existing test suites run unchanged. New tests should use bare `assert` statements, which give
pytest's richer failure reports.

Every deprecation warning issued from the test helpers starts with `DEPRECATION_PREFIX`, so that a project running
with warnings as errors can let these through with one filter.
"""

import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, AnyStr, Concatenate, NoReturn, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from _typeshed import SupportsDunderGE, SupportsDunderGT, SupportsDunderLE, SupportsDunderLT

from pysoa.test.legacy_contexts import (
    ExceptionTypes,
    LogCapture,
    RaisesContext,
    WarningTypes,
    WarnsContext,
    compile_regex,
)

__all__ = (
    'DEPRECATION_PREFIX',
    'LogCapture',
    'RaisesContext',
    'UnitTestStyleAssertions',
    'WarnsContext',
    'warn_deprecated',
)

DEPRECATION_PREFIX = 'Deprecated PySOA test API:'
"""The start of every deprecation message from `pysoa.test` (filter on it to let them through)."""


def warn_deprecated(message: str, stacklevel: int = 3) -> None:
    """Issue a `DeprecationWarning` whose message starts with `DEPRECATION_PREFIX`."""
    warnings.warn(f'{DEPRECATION_PREFIX} {message}', DeprecationWarning, stacklevel=stacklevel)


_Self = TypeVar('_Self')
_P = ParamSpec('_P')
_R = TypeVar('_R')
_T = TypeVar('_T')
_K = TypeVar('_K')


def _deprecated_alias(method: Callable[Concatenate[_Self, _P], _R]) -> Callable[Concatenate[_Self, _P], _R]:
    replacement = method.__name__

    def alias(self: _Self, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        warn_deprecated(f'use `{replacement}` instead; the old unittest name will be removed.')
        # Looked up on the instance, not bound to `method`, so that a subclass's override is the one called.
        current: Callable[_P, _R] = getattr(self, replacement)
        return current(*args, **kwargs)

    alias.__doc__ = f'Deprecated alias of `{replacement}`.'
    return alias


def _check(condition: object, msg: object, default: str) -> None:
    if not condition:
        raise AssertionError(msg if msg is not None else default)


class UnitTestStyleAssertions:
    """Mixin providing `unittest.TestCase`'s assertion methods on top of plain `assert`."""

    def fail(self, msg: object = None) -> NoReturn:
        """Fail the test with `msg`."""
        if msg:
            raise AssertionError(msg)
        raise AssertionError()

    def assertEqual(self, first: object, second: object, msg: object = None) -> None:
        """Assert `first == second`."""
        _check(first == second, msg, f'{first!r} != {second!r}')

    def assertNotEqual(self, first: object, second: object, msg: object = None) -> None:
        """Assert `first != second`."""
        _check(first != second, msg, f'{first!r} == {second!r}')

    def assertMultiLineEqual(self, first: str, second: str, msg: object = None) -> None:
        """Assert two strings are equal."""
        _check(isinstance(first, str), None, 'The first argument is not a string')
        _check(isinstance(second, str), None, 'The second argument is not a string')
        self.assertEqual(first, second, msg)

    def assertSequenceEqual(
        self,
        first: object,
        second: object,
        msg: object = None,
        seq_type: type[object] | None = None,
    ) -> None:
        """Assert two sequences are equal (and both of `seq_type`, if given)."""
        if seq_type is not None:
            _check(isinstance(first, seq_type), None, f'The first argument is not a {seq_type.__name__}')
            _check(isinstance(second, seq_type), None, f'The second argument is not a {seq_type.__name__}')
        self.assertEqual(first, second, msg)

    def assertListEqual(self, first: Sequence[object], second: Sequence[object], msg: object = None) -> None:
        """Assert two lists are equal."""
        self.assertSequenceEqual(first, second, msg, list)

    def assertTupleEqual(self, first: tuple[object, ...], second: tuple[object, ...], msg: object = None) -> None:
        """Assert two tuples are equal."""
        self.assertSequenceEqual(first, second, msg, tuple)

    def assertSetEqual(self, first: AbstractSet[object], second: AbstractSet[object], msg: object = None) -> None:
        """Assert two sets are equal."""
        _check(isinstance(first, AbstractSet), None, 'The first argument is not a set')
        _check(isinstance(second, AbstractSet), None, 'The second argument is not a set')
        self.assertEqual(first, second, msg)

    def assertDictEqual(self, first: Mapping[_K, object], second: Mapping[_K, object], msg: object = None) -> None:
        """Assert two dicts are equal."""
        _check(isinstance(first, dict), None, 'The first argument is not a dict')
        _check(isinstance(second, dict), None, 'The second argument is not a dict')
        self.assertEqual(first, second, msg)

    def assertCountEqual(self, first: Iterable[object], second: Iterable[object], msg: object = None) -> None:
        """Deprecated: assert both iterables hold the same elements, each the same number of times."""
        warn_deprecated('`assertCountEqual` has no replacement and will be removed.')
        first_list, second_list = list(first), list(second)
        try:
            same = Counter(first_list) == Counter(second_list)
        except TypeError:  # unhashable elements: match them one by one
            remaining = list(second_list)
            same = True
            for element in first_list:
                try:
                    remaining.remove(element)
                except ValueError:
                    same = False
                    break
            same = same and not remaining
        _check(same, msg, f'Element counts differ: {first_list!r} vs {second_list!r}')

    def assertAlmostEqual(
        self,
        first: float,
        second: float,
        places: int | None = None,
        msg: object = None,
        delta: float | None = None,
    ) -> None:
        """Assert `first` and `second` differ by at most `delta`, or are equal when rounded to `places` (7)."""
        if first == second:
            return
        _check(delta is None or places is None, None, 'Specify delta or places, not both')
        diff = abs(first - second)
        if delta is not None:
            _check(diff <= delta, msg, f'{first} != {second} within {delta} delta ({diff} difference)')
        else:
            places = 7 if places is None else places
            _check(round(diff, places) == 0, msg, f'{first} != {second} within {places} places ({diff} difference)')

    def assertNotAlmostEqual(
        self,
        first: float,
        second: float,
        places: int | None = None,
        msg: object = None,
        delta: float | None = None,
    ) -> None:
        """Assert `first` and `second` differ by more than `delta`, or differ when rounded to `places` (7)."""
        _check(first != second, msg, f'{first} == {second}')
        _check(delta is None or places is None, None, 'Specify delta or places, not both')
        diff = abs(first - second)
        if delta is not None:
            _check(diff > delta, msg, f'{first} == {second} within {delta} delta ({diff} difference)')
        else:
            places = 7 if places is None else places
            _check(round(diff, places) != 0, msg, f'{first} == {second} within {places} places ({diff} difference)')

    def assertTrue(self, expr: object, msg: object = None) -> None:
        """Assert `expr` is truthy."""
        _check(expr, msg, f'{expr!r} is not true')

    def assertFalse(self, expr: object, msg: object = None) -> None:
        """Assert `expr` is falsy."""
        _check(not expr, msg, f'{expr!r} is not false')

    def assertIs(self, first: object, second: object, msg: object = None) -> None:
        """Assert `first is second`."""
        _check(first is second, msg, f'{first!r} is not {second!r}')

    def assertIsNot(self, first: object, second: object, msg: object = None) -> None:
        """Assert `first is not second`."""
        _check(first is not second, msg, f'unexpectedly identical: {first!r}')

    def assertIsNone(self, expr: object, msg: object = None) -> None:
        """Assert `expr is None`."""
        _check(expr is None, msg, f'{expr!r} is not None')

    def assertIsNotNone(self, expr: object, msg: object = None) -> None:
        """Assert `expr is not None`."""
        _check(expr is not None, msg, 'unexpectedly None')

    def assertIn(self, member: object, container: Iterable[object] | Container[object], msg: object = None) -> None:
        """Assert `member in container`."""
        _check(member in container, msg, f'{member!r} not found in {container!r}')

    def assertNotIn(self, member: object, container: Iterable[object] | Container[object], msg: object = None) -> None:
        """Assert `member not in container`."""
        _check(member not in container, msg, f'{member!r} unexpectedly found in {container!r}')

    def assertIsInstance(self, obj: object, cls: type | tuple[type, ...], msg: object = None) -> None:
        """Assert `isinstance(obj, cls)`."""
        _check(isinstance(obj, cls), msg, f'{obj!r} is not an instance of {cls!r}')

    def assertNotIsInstance(self, obj: object, cls: type | tuple[type, ...], msg: object = None) -> None:
        """Assert `not isinstance(obj, cls)`."""
        _check(not isinstance(obj, cls), msg, f'{obj!r} is an instance of {cls!r}')

    def assertGreater(self, first: 'SupportsDunderGT[_T]', second: _T, msg: object = None) -> None:
        """Assert `first > second`."""
        _check(first > second, msg, f'{first!r} not greater than {second!r}')

    def assertGreaterEqual(self, first: 'SupportsDunderGE[_T]', second: _T, msg: object = None) -> None:
        """Assert `first >= second`."""
        _check(first >= second, msg, f'{first!r} not greater than or equal to {second!r}')

    def assertLess(self, first: 'SupportsDunderLT[_T]', second: _T, msg: object = None) -> None:
        """Assert `first < second`."""
        _check(first < second, msg, f'{first!r} not less than {second!r}')

    def assertLessEqual(self, first: 'SupportsDunderLE[_T]', second: _T, msg: object = None) -> None:
        """Assert `first <= second`."""
        _check(first <= second, msg, f'{first!r} not less than or equal to {second!r}')

    def assertRegex(self, text: AnyStr, regex: AnyStr | re.Pattern[AnyStr], msg: object = None) -> None:
        """Assert `regex` matches somewhere in `text`."""
        pattern = compile_regex(regex)
        _check(pattern.search(text) is not None, msg, f'Pattern {pattern.pattern!r} does not match {text!r}')

    def assertNotRegex(self, text: AnyStr, regex: AnyStr | re.Pattern[AnyStr], msg: object = None) -> None:
        """Assert `regex` matches nowhere in `text`."""
        pattern = compile_regex(regex)
        _check(pattern.search(text) is None, msg, f'Pattern {pattern.pattern!r} unexpectedly matches {text!r}')

    @overload
    def assertRaises(
        self,
        expected_exception: ExceptionTypes,
        *,
        msg: object = None,
        match: str | re.Pattern[str] | None = None,
    ) -> RaisesContext: ...

    @overload
    def assertRaises(
        self, expected_exception: ExceptionTypes, callable: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs
    ) -> None: ...

    def assertRaises(
        self,
        expected_exception: ExceptionTypes,
        callable: Callable[..., object] | None = None,
        *args: object,
        **kwargs: Any,  # with no callable, these go to `RaisesContext`, whose keywords have their own types
    ) -> RaisesContext | None:
        """Assert the call (or, with no callable, the `with` block) raises `expected_exception`."""
        if callable is None:
            kwargs.pop('msg', None)
            return RaisesContext(expected_exception, **kwargs)
        with RaisesContext(expected_exception):
            callable(*args, **kwargs)
        return None

    @overload
    def assertRaisesRegex(
        self, expected_exception: ExceptionTypes, expected_regex: str | re.Pattern[str], *, msg: object = None
    ) -> RaisesContext: ...

    @overload
    def assertRaisesRegex(
        self,
        expected_exception: ExceptionTypes,
        expected_regex: str | re.Pattern[str],
        callable: Callable[_P, object],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> None: ...

    def assertRaisesRegex(
        self,
        expected_exception: ExceptionTypes,
        expected_regex: str | re.Pattern[str],
        callable: Callable[..., object] | None = None,
        *args: object,
        **kwargs: object,
    ) -> RaisesContext | None:
        """Assert the call (or the `with` block) raises `expected_exception` with a message matching the regex."""
        if callable is None:
            return RaisesContext(expected_exception, match=expected_regex)
        with RaisesContext(expected_exception, match=expected_regex):
            callable(*args, **kwargs)
        return None

    @overload
    def assertWarns(self, expected_warning: WarningTypes, *, msg: object = None) -> WarnsContext: ...

    @overload
    def assertWarns(
        self, expected_warning: WarningTypes, callable: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs
    ) -> None: ...

    def assertWarns(
        self,
        expected_warning: WarningTypes,
        callable: Callable[..., object] | None = None,
        *args: object,
        **kwargs: object,
    ) -> WarnsContext | None:
        """Assert the call (or the `with` block) issues `expected_warning`."""
        context = WarnsContext(expected_warning)
        if callable is None:
            return context
        with context:
            callable(*args, **kwargs)
        return None

    @overload
    def assertWarnsRegex(
        self, expected_warning: WarningTypes, expected_regex: str | re.Pattern[str], *, msg: object = None
    ) -> WarnsContext: ...

    @overload
    def assertWarnsRegex(
        self,
        expected_warning: WarningTypes,
        expected_regex: str | re.Pattern[str],
        callable: Callable[_P, object],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> None: ...

    def assertWarnsRegex(
        self,
        expected_warning: WarningTypes,
        expected_regex: str | re.Pattern[str],
        callable: Callable[..., object] | None = None,
        *args: object,
        **kwargs: object,
    ) -> WarnsContext | None:
        """Assert the call (or the `with` block) issues `expected_warning` with a message matching the regex."""
        context = WarnsContext(expected_warning, expected_regex)
        if callable is None:
            return context
        with context:
            callable(*args, **kwargs)
        return None

    def assertLogs(self, logger: str | logging.Logger | None = None, level: str | int | None = None) -> LogCapture:
        """Assert the `with` block logs at least one record at `level` (INFO) or above on `logger` (root)."""
        return LogCapture(logger, level)

    assertEquals = _deprecated_alias(assertEqual)
    failUnlessEqual = _deprecated_alias(assertEqual)
    assertNotEquals = _deprecated_alias(assertNotEqual)
    failIfEqual = _deprecated_alias(assertNotEqual)
    assertAlmostEquals = _deprecated_alias(assertAlmostEqual)
    failUnlessAlmostEqual = _deprecated_alias(assertAlmostEqual)
    assertNotAlmostEquals = _deprecated_alias(assertNotAlmostEqual)
    failIfAlmostEqual = _deprecated_alias(assertNotAlmostEqual)
    failUnless = _deprecated_alias(assertTrue)
    assert_ = _deprecated_alias(assertTrue)
    failIf = _deprecated_alias(assertFalse)
    assertRegexpMatches = _deprecated_alias(assertRegex)
    assertNotRegexpMatches = _deprecated_alias(assertNotRegex)
    if TYPE_CHECKING:  # a ParamSpec cannot carry overloads: to a type checker, these are the methods themselves
        failUnlessRaises = assertRaises
        assertRaisesRegexp = assertRaisesRegex
    else:
        failUnlessRaises = _deprecated_alias(assertRaises)
        assertRaisesRegexp = _deprecated_alias(assertRaisesRegex)
