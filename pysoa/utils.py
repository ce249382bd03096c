"""Small helpers with no better home: interpreter arguments and hashable dicts."""

import sys
from collections.abc import Hashable, Mapping
from typing import Any

__all__ = ('dict_to_hashable', 'get_python_interpreter_arguments')


def dict_to_hashable(d: Mapping[Hashable, Any]) -> frozenset[tuple[Hashable, ...]]:
    """An immutable, hashable value equal for any two dicts with the same content (lists become tuples)."""
    return frozenset((key, _hashable(value)) for key, value in d.items())


def _hashable(value: object) -> object:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return dict_to_hashable(value)
    return value


def get_python_interpreter_arguments() -> list[str]:
    """The arguments given to the interpreter itself (binary, `-m`, `-c`, `-W` ...), without those in `sys.argv`."""
    original = list(sys.orig_argv)
    # `sys.argv[0]` is rewritten by `-m`/`-c`, so only the tail after it can be matched against the original line.
    tail = len(sys.argv) - 1
    return original[: len(original) - tail] if tail > 0 else original
