"""The wire messages as objects: job and action requests and responses.

These are mutable, unslotted attrs classes on purpose: middleware written for PySOA 1.x edits
responses in place (appending an error) and attaches attributes of its own, and that must keep working.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import attr

from pysoa.common.errors import Error

__all__ = (
    'ActionRequest',
    'ActionResponse',
    'Body',
    'Context',
    'Control',
    'JobRequest',
    'JobResponse',
    'UnicodeKeysDict',
)

Body = dict[str, Any]
"""An action request or response body."""
Context = dict[str, Any]
"""A job's context header."""
Control = dict[str, Any]
"""A job request's control header."""


class UnicodeKeysDict(dict[str, Any]):
    """Kept for code written for PySOA 1.x; on Python 3 every key is already `str`."""


def _to_errors(errors: Iterable[Error | Mapping[str, Any]]) -> list[Error]:
    return [e if isinstance(e, Error) else Error(**e) for e in errors]


@attr.s
class ActionRequest:
    """A request to run one action with a body."""

    action: str = attr.ib()
    body: Body = attr.ib(factory=dict)


def _to_action_requests(actions: Iterable[ActionRequest | Mapping[str, Any]]) -> list[ActionRequest]:
    return [a if isinstance(a, ActionRequest) else ActionRequest(**a) for a in actions]


@attr.s
class ActionResponse:
    """The result of one action: its body, or the errors that stopped it."""

    action: str = attr.ib()
    errors: list[Error] = attr.ib(factory=list, converter=_to_errors)
    body: Body = attr.ib(factory=dict)


def _to_action_responses(actions: Iterable[ActionResponse | Mapping[str, Any]]) -> list[ActionResponse]:
    return [a if isinstance(a, ActionResponse) else ActionResponse(**a) for a in actions]


@attr.s
class JobRequest:
    """A job: one or more action requests run in order, with control and context headers."""

    control: Control = attr.ib(factory=dict)
    context: Context = attr.ib(factory=dict)
    actions: list[ActionRequest] = attr.ib(factory=list, converter=_to_action_requests)


@attr.s
class JobResponse:
    """The result of a job: job-level errors, the context, and one response per action that ran."""

    errors: list[Error] = attr.ib(factory=list, converter=_to_errors)
    context: Context = attr.ib(factory=dict)
    actions: list[ActionResponse] = attr.ib(factory=list, converter=_to_action_responses)
