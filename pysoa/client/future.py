"""`FutureSOAResponse`: a response that was requested and will be received when it is asked for.

Each blocking `Client.call_*` method is its future twin's `result()` (see `blocking_twin`), as in 1.x.
"""

import functools
import inspect
import operator
from collections.abc import Callable
from types import TracebackType, UnionType
from typing import TYPE_CHECKING, Concatenate, Generic, ParamSpec, TypeVar, Union, get_args, get_origin

from pysoa.common.transport.errors import MessageReceiveTimeout

if TYPE_CHECKING:
    from pysoa.client.client import Client

__all__ = ('FutureSOAResponse', 'blocking_twin')

# Covariant: a future of an action response is also a future of "an action response or a list of errors".
_R = TypeVar('_R', covariant=True)
_T = TypeVar('_T')
_P = ParamSpec('_P')


class FutureSOAResponse(Generic[_R]):
    """The eventual result of a `Client.call_*_future` method.

    The first `result()` blocks for the response. A response, or an exception other than a receive
    timeout, is kept: later calls return the same response or raise the same exception again. A
    receive timeout is not kept, so the caller may try again.
    """

    __slots__ = ('_get_response', '_done', '_response', '_exception', '_traceback')

    def __init__(self, get_response: Callable[[float | None], _R]) -> None:
        self._get_response = get_response
        self._done = False
        self._response: _R | None = None
        self._exception: BaseException | None = None
        self._traceback: TracebackType | None = None

    def result(self, timeout: float | None = None) -> _R:
        """Return the response, blocking up to `timeout` seconds (else the call's or transport's timeout) for it.

        Raises the transport, job or action error the call ended with.
        """
        if self._exception is not None:
            # The kept traceback starts at this method, so the re-raise reads like the original raise.
            raise self._exception.with_traceback(self._traceback)
        if self._done:
            return self._response  # type: ignore[return-value]  # set together with _done
        try:
            response = self._get_response(timeout)
        except MessageReceiveTimeout:
            raise
        except Exception as e:
            self._exception = e
            self._traceback = e.__traceback__
            self._done = True
            raise
        self._response = response
        self._done = True
        return response

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Return the exception the call ended with, or `None` if it succeeded; blocks like `result()`.

        A receive timeout is raised, not returned.
        """
        if not self._done:
            try:
                self.result(timeout)
            except MessageReceiveTimeout:
                raise
            except Exception as e:
                return e
        return self._exception

    def running(self) -> bool:
        """Whether the outcome is still unknown (it becomes known only through `result()` or `exception()`)."""
        return not self._done

    def done(self) -> bool:
        """Whether the outcome (response or exception) has been obtained."""
        return self._done


def blocking_twin(
    doc: str,
) -> 'Callable[[Callable[Concatenate[Client, _P], FutureSOAResponse[_T]]], Callable[Concatenate[Client, _P], _T]]':
    """Make the blocking twin of a `Client.*_future` method: `blocking_twin(doc)(future_method)`.

    The twin takes the same arguments and returns the future's `result()`. (The docstring comes
    first because mypy keeps a method's overloads through a one-argument call only.)
    """

    def make(
        future_method: 'Callable[Concatenate[Client, _P], FutureSOAResponse[_T]]',
    ) -> 'Callable[Concatenate[Client, _P], _T]':
        future_name = future_method.__name__

        def twin(self: 'Client', /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            # Looked up on the instance, so that a subclass's or a patched future method is the one that runs.
            future: FutureSOAResponse[_T] = getattr(self, future_name)(*args, **kwargs)
            return future.result()

        twin.__name__ = future_name.removesuffix('_future')
        twin.__qualname__ = future_method.__qualname__.removesuffix('_future')
        twin.__doc__ = doc
        # `inspect.signature` shows the future method's parameters and, as the return, what its future holds.
        signature = inspect.signature(future_method)
        twin.__signature__ = signature.replace(  # type: ignore[attr-defined]  # the attribute inspect reads
            return_annotation=_held(signature.return_annotation),
        )
        return twin

    return make


def _held(annotation: object) -> object:
    """What a `FutureSOAResponse[...]` annotation, or a union of them, holds (for a readable signature)."""
    futures = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    held = [arg for future in futures for arg in get_args(future)[:1]]
    return functools.reduce(operator.or_, held) if held else inspect.Signature.empty
