"""Small helpers the fields share: tidy an introspection dict, prefix an issue's pointer, list keys in order."""

from collections.abc import Iterable, Mapping
from typing import TypeVar

from pysoa.schema.types import Issue

__all__ = ('listed_keys', 'strip_none', 'update_pointer')

K = TypeVar('K')
V = TypeVar('V')
IssueT = TypeVar('IssueT', bound=Issue)


def strip_none(value: Mapping[K, V | None]) -> dict[K, V]:
    """The mapping without its `None` values (introspection omits options that are not set)."""
    return {k: v for k, v in value.items() if v is not None}


def update_pointer(issue: IssueT, pointer_or_prefix: object) -> IssueT:
    """Put `pointer_or_prefix` (a key or index) in front of the issue's pointer, in place, and return the issue."""
    issue.pointer = f'{pointer_or_prefix}.{issue.pointer}' if issue.pointer else f'{pointer_or_prefix}'
    return issue


def listed_keys(keys: Iterable[object]) -> str:
    """`keys` sorted and joined for an error message ("Extra keys present: a, b").

    Keys of one type sort as they compare (as Conformity lists them); keys that do not compare with each other (a
    request whose dict mixes text and integer keys) are grouped by type, each group in its own order, instead of
    failing the validation.
    """
    keys = list(keys)
    for order in (None, _by_type, _by_type_then_text):
        try:
            return ', '.join(str(key) for key in sorted(keys, key=order))  # type: ignore[arg-type, type-var]  # see `order`
        except TypeError:
            continue
    raise AssertionError('unreachable: text always compares')


def _by_type(key: object) -> tuple[str, object]:
    return type(key).__name__, key


def _by_type_then_text(key: object) -> tuple[str, str]:
    return type(key).__name__, str(key)
