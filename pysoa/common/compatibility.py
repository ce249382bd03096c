"""`ContextVar`: the context variable type that PySOA 1.x services import from `pysoa.common.compatibility`.

PySOA 1.x offered this class so that one API worked with and without the stdlib `contextvars`. Every supported
Python has `contextvars` now, so this is a thin typed wrapper over `contextvars.ContextVar`, kept because service
code imports it from this path. Its tokens are PySOA objects (`Token`, with a `context_var` attribute) rather than
stdlib tokens, and `reset` refuses a token of another variable (`ValueError`) or of the wrong kind (`TypeError`, as
the stdlib does). New code can use `contextvars.ContextVar` directly: both live in the same `contextvars` context.
"""

import contextvars
import enum

# PySOA 1.x's own tests patch this module's `contextvars` attribute to None to exercise a thread-local fallback
# (for Pythons without `contextvars`). That fallback is gone; binding the stdlib class at import keeps every
# variable on the stdlib whatever that attribute holds.
from contextvars import ContextVar as _StdlibContextVar
from typing import Any, Generic, TypeVar

__all__ = (
    'ContextVar',
    'Token',
)

T = TypeVar('T')


class _Missing(enum.Enum):
    MISSING = enum.auto()


_MISSING = _Missing.MISSING


class Token:
    """What `ContextVar.set` returns; pass it to `ContextVar.reset` to restore the previous value."""

    def __init__(self, context_var: 'ContextVar[Any]') -> None:
        self.context_var = context_var


class _ContextVarToken(Token):
    """A token wrapping the stdlib token of the underlying `contextvars.ContextVar`."""

    def __init__(self, context_var: 'ContextVar[Any]', token: 'contextvars.Token[Any]') -> None:
        super().__init__(context_var)
        self.token = token


class _ThreadLocalToken(Token):
    """The token kind of 1.x's thread-local fallback; never produced now, and `reset` refuses it."""

    def __init__(self, context_var: 'ContextVar[Any]', previous_value: Any) -> None:
        super().__init__(context_var)
        self.previous_value = previous_value


class ContextVar(Generic[T]):
    """A context variable (per thread and per asyncio task), with an optional default value."""

    def __init__(self, name: str, default: T | _Missing = _MISSING) -> None:
        self.name = name
        self._default = default
        self._cv_variable: contextvars.ContextVar[T]
        if isinstance(default, _Missing):
            self._cv_variable = _StdlibContextVar(name)
        else:
            self._cv_variable = _StdlibContextVar(name, default=default)

    def get(self, default: T | _Missing = _MISSING) -> T:
        """The current value, else `default`, else the variable's default; `LookupError` if there is none."""
        if isinstance(default, _Missing):
            return self._cv_variable.get()
        return self._cv_variable.get(default)

    def set(self, value: T) -> Token:
        """Set the value in the current context; return a token that `reset` takes to undo it."""
        return _ContextVarToken(self, self._cv_variable.set(value))

    def reset(self, token: Token) -> None:
        """Restore the value that this variable had before the `set` that returned `token`."""
        if not isinstance(token, Token):
            raise TypeError(f'Expected a token returned by ContextVar.set, got {type(token).__name__}')
        if token.context_var is not self:
            raise ValueError('Token was created by a different ContextVar')
        if not isinstance(token, _ContextVarToken):
            raise TypeError(f'Expected a token returned by ContextVar.set, got {type(token).__name__}')
        self._cv_variable.reset(token.token)

    def __repr__(self) -> str:
        default = '' if self._default is _MISSING else f' default={self._default!r}'
        return f'<ContextVar name={self.name!r}{default} at {id(self):0x}>'
