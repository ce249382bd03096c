"""`CallOptions`: the options of one client call, gathered once from the public method's arguments.

Every `Client.call_*` method takes the same options (which errors to raise, the timeout, the
headers to add, the expansions to perform). The public method builds one frozen `CallOptions`;
sending, receiving, raising errors and expanding read it from there.
"""

from collections.abc import Collection, Mapping
from typing import Any, TypedDict

import attrs

from pysoa.client.arguments import check_timeout
from pysoa.client.expander import Expansions
from pysoa.common.types import Context, Control

__all__ = ('CallActionKeywords', 'CallOptions', 'Switches')

Switches = Collection[int]
"""The switches a call turns on (in addition to those of the client's and the call's context)."""


class CallActionKeywords(TypedDict, total=False):
    """The keyword options of `Client.call_action` other than `raise_job_errors` (which decides its result type)."""

    expansions: Expansions | None
    raise_action_errors: bool
    timeout: float | None
    switches: Switches | None
    correlation_id: str | None
    context: Context | None
    control_extra: Control | None


def _check_timeout(_: object, __: object, value: float | None) -> None:
    check_timeout(value)


@attrs.frozen
class CallOptions:
    """The options of one call; the defaults are those of the public `Client.call_*` methods."""

    expansions: Expansions | None = None
    """What to expand in the response bodies (see `pysoa.client.expander`)."""
    raise_job_errors: bool = True
    """Raise `CallJobError` for job errors (else they are returned)."""
    raise_action_errors: bool = True
    """Raise `CallActionError` for action errors (else the responses carry them)."""
    catch_transport_errors: bool = False
    """Parallel calls: return a transport error in the failed job's place instead of raising it."""
    timeout: float | None = attrs.field(default=None, validator=_check_timeout)
    """Seconds: the request's expiry and the wait for its response (None: the transport's settings)."""
    switches: Switches | None = None
    """Switches to add to the context header."""
    correlation_id: str | None = None
    """The correlation id to send (None: the client context's, else a new one)."""
    continue_on_error: bool = False
    """Let the service run a job's later actions after one fails."""
    context: Context | None = None
    """Keys to add to the context header."""
    control_extra: Control | None = None
    """Keys to add to the control header."""

    @property
    def expiry(self) -> float | None:
        """The request's `message_expiry_in_seconds`: the timeout, where one is set (0 means none)."""
        return self.timeout or None

    def as_kwargs(self) -> dict[str, Any]:
        """These options as the keyword arguments of a public `Client.call_*` method that takes all of them."""
        return attrs.asdict(self, recurse=False)

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> 'CallOptions':
        """The options among a public method's `arguments` (its `locals()` on entry): its parameters are named
        after these fields, and those it does not take keep their defaults."""
        # Spelled out rather than looped over the fields: this runs once per call, and this is the fast way.
        get = arguments.get
        return cls(
            get('expansions'),
            get('raise_job_errors', True),
            get('raise_action_errors', True),
            get('catch_transport_errors', False),
            get('timeout'),
            get('switches'),
            get('correlation_id'),
            get('continue_on_error', False),
            get('context'),
            get('control_extra'),
        )
