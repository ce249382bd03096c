"""`FutureSOAResponse`: a response that was requested and will be received when it is asked for."""

from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

from pysoa.common.transport.errors import MessageReceiveTimeout

__all__ = ('FutureSOAResponse',)

_R = TypeVar('_R')


class FutureSOAResponse(Generic[_R]):
    """The eventual result of a `Client.call_*_future` method.

    The first `result()` blocks for the response. A response, or an exception other than a receive
    timeout, is kept: later calls return the same response or raise the same exception again. A
    receive timeout is not kept, so the caller may try again.
    """

    __slots__ = ('_get_response', '_done', '_response', '_exception', '_traceback')

    def __init__(self, get_response: Callable[[int | None], _R]) -> None:
        self._get_response = get_response
        self._done = False
        self._response: _R | None = None
        self._exception: BaseException | None = None
        self._traceback: TracebackType | None = None

    def result(self, timeout: int | None = None) -> _R:
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

    def exception(self, timeout: int | None = None) -> BaseException | None:
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
