"""Small helpers the fields share: tidy an introspection dict, prefix an issue's pointer."""

from collections.abc import Mapping
from typing import TypeVar

from pysoa.schema.types import Issue

__all__ = ('strip_none', 'update_pointer')

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
