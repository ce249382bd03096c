"""Context managers asserting that a block fails with a `CallActionError` carrying particular errors.

Each one wraps `pytest.raises(CallActionError)`; after the block, the captured info has `soa_errors`, the errors of
the first action response in the exception. Only the first action's errors are examined.

- `raises_error_codes(codes)`: each expected code is among the errors that have no field;
- `raises_field_errors({field: codes})`: each expected code is among the errors of that field;
- with `only=True` (or the `raises_only_*` forms) any other error fails the test too. For error codes, an error with
  a field is always "other".
"""

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, TypedDict, Unpack, cast

import pytest

from pysoa.client.errors import CallActionError
from pysoa.common.errors import Error

__all__ = (
    'RaisesKeywords',
    'raises_call_action_error',
    'raises_error_codes',
    'raises_field_errors',
    'raises_only_error_codes',
    'raises_only_field_errors',
)


class RaisesKeywords(TypedDict, total=False):
    """The keyword arguments that the `raises_*` helpers pass on to `pytest.raises`."""

    match: str | re.Pattern[str] | None


if TYPE_CHECKING:

    class PySOAExceptionInfo(pytest.ExceptionInfo[CallActionError]):  # type: ignore[misc]  # final, for typing only
        """pytest's `ExceptionInfo` as these helpers fill it: `soa_errors` is set once the block has raised."""

        soa_errors: list[Error]

else:
    PySOAExceptionInfo = pytest.ExceptionInfo

Codes = Iterable[str] | str
"""One error code, or several."""


def _code_set(codes: Codes) -> set[str]:
    return {codes} if isinstance(codes, str) else set(codes)


def _describe(error: Error) -> str:
    where = f'{error.field}: ' if error.field else ''
    return f'{where}{error.code} ({error.message})'


def _fail_if_mismatched(missing: list[str], unexpected: list[Error], only: bool) -> None:
    problems = []
    if missing:
        problems.append(f'Expected errors not found in the response: {", ".join(missing)}')
    if only and unexpected:
        problems.append(f'Unexpected errors found in the response: {", ".join(_describe(e) for e in unexpected)}')
    if problems:
        pytest.fail('\n'.join(problems))


@contextlib.contextmanager
def raises_call_action_error(**kwargs: Unpack[RaisesKeywords]) -> Iterator[PySOAExceptionInfo]:
    """Assert the block raises `CallActionError` (keyword arguments go to `pytest.raises`, e.g. `match`)."""
    with pytest.raises(CallActionError, **kwargs) as raised:
        exc_info = cast(PySOAExceptionInfo, raised)
        yield exc_info
    actions = exc_info.value.actions
    exc_info.soa_errors = list(actions[0].errors) if actions else []


@contextlib.contextmanager
def raises_error_codes(
    error_codes: Codes, only: bool = False, **kwargs: Unpack[RaisesKeywords]
) -> Iterator[PySOAExceptionInfo]:
    """Assert the block raises `CallActionError` with each of these (field-less) error codes."""
    with raises_call_action_error(**kwargs) as exc_info:
        yield exc_info

    expected = _code_set(error_codes)
    unexpected = []
    for error in exc_info.soa_errors:
        if error.field or error.code not in expected:
            unexpected.append(error)
        else:
            expected.discard(error.code)
    _fail_if_mismatched(sorted(expected), unexpected, only)


@contextlib.contextmanager
def raises_only_error_codes(error_codes: Codes, **kwargs: Unpack[RaisesKeywords]) -> Iterator[PySOAExceptionInfo]:
    """Assert the block raises `CallActionError` with these error codes and no other error."""
    with raises_error_codes(error_codes, only=True, **kwargs) as exc_info:
        yield exc_info


@contextlib.contextmanager
def raises_field_errors(
    field_errors: Mapping[str, Codes],
    only: bool = False,
    **kwargs: Unpack[RaisesKeywords],
) -> Iterator[PySOAExceptionInfo]:
    """Assert the block raises `CallActionError` with each of these error codes on each of these fields."""
    with raises_call_action_error(**kwargs) as exc_info:
        yield exc_info

    expected = {field: _code_set(codes) for field, codes in field_errors.items()}
    unexpected = []
    for error in exc_info.soa_errors:
        codes_left = expected.get(error.field) if error.field else None
        if codes_left is None or error.code not in codes_left:
            unexpected.append(error)
        else:
            codes_left.discard(error.code)
    missing = [f'{field}: {code}' for field, codes_left in sorted(expected.items()) for code in sorted(codes_left)]
    _fail_if_mismatched(missing, unexpected, only)


@contextlib.contextmanager
def raises_only_field_errors(
    field_errors: Mapping[str, Codes], **kwargs: Unpack[RaisesKeywords]
) -> Iterator[PySOAExceptionInfo]:
    """Assert the block raises `CallActionError` with these field errors and no other error."""
    with raises_field_errors(field_errors, only=True, **kwargs) as exc_info:
        yield exc_info
