"""The one way middleware layers are stacked, shared by the client, the server and the coroutine runner."""

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

__all__ = ('build_middleware_stack',)

_T = TypeVar('_T')


def build_middleware_stack(layers: Sequence[Callable[[_T], _T]] | Iterable[Callable[[_T], _T]], base: _T) -> _T:
    """Wrap `base` in each layer so that the first layer in `layers` is the outermost; return the result."""
    for wrap in reversed(list(layers)):
        base = wrap(base)
    return base
