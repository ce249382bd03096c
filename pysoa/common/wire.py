"""The wire forms of jobs: dict to object and back, and the two readings of a request's meta that matter.

This is the one place where job requests, job responses, action responses and errors change between the
attrs objects the code works with (`pysoa.common.types`) and the plain dicts that serializers put on the
wire (protocol §1; key order follows the field order there). Both directions run once per call, so they
avoid copying what is already plain.

A request's meta is read here too: the client version (which decides whether errors carry
`is_caller_error`) and `__expiry__` (the moment after which nobody waits for the answer).
"""

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NotRequired, TypedDict, TypeVar, cast

import attr

from pysoa.common.errors import Error
from pysoa.common.types import Body, Context, Control, JobRequest, JobResponse

__all__ = (
    'CALLER_ERROR_MINIMUM_CLIENT_VERSION',
    'ActionRequestDict',
    'ActionResponseDict',
    'ErrorDict',
    'JobRequestDict',
    'JobResponseDict',
    'RequestMeta',
    'client_version_of',
    'error_to_dict',
    'expiry_of',
    'job_request_to_dict',
    'job_response_from_dict',
    'job_response_to_dict',
    'knows_caller_errors',
    'to_plain',
)

CALLER_ERROR_MINIMUM_CLIENT_VERSION = (0, 70, 0)
"""Clients older than this do not know `is_caller_error` and must not receive it."""

_UNKNOWN_CLIENT_VERSION = (0, 40, 0)
"""What a request that announces no readable version is taken to come from: a client before 0.70.0."""


class ErrorDict(TypedDict):
    """An error on the wire; `is_caller_error` is left out for clients older than 0.70.0."""

    code: str
    message: str
    field: str | None
    traceback: str | None
    variables: dict[str, Any] | None
    denied_permissions: list[str] | None
    is_caller_error: NotRequired[bool]


class ActionRequestDict(TypedDict):
    """One action of a job request; a missing body means an empty one."""

    action: str
    body: NotRequired[Body]


class ActionResponseDict(TypedDict):
    """The response of one action."""

    action: str
    errors: list[ErrorDict]
    body: Body


class JobRequestDict(TypedDict):
    """A job request as a client sends it."""

    control: Control
    context: Context
    actions: list[ActionRequestDict]


class JobResponseDict(TypedDict):
    """A job response as a server sends it."""

    errors: list[ErrorDict]
    context: Context
    actions: list[ActionResponseDict]


RequestMeta = TypedDict(
    'RequestMeta',
    {'client_version': list[int], 'reply_to': str, '__expiry__': float},
    total=False,
)
"""The meta of a request envelope (protocol §2); peers may add keys of their own."""


def client_version_of(meta: Mapping[str, object]) -> tuple[int, ...]:
    """The client version a request's meta announces; (0, 40, 0) when it announces none that can be read."""
    version = meta.get('client_version')
    if isinstance(version, list | tuple):
        try:
            return tuple(map(int, version))
        except (TypeError, ValueError):
            pass
    return _UNKNOWN_CLIENT_VERSION


def knows_caller_errors(client_version: object) -> bool:
    """Whether a client announcing `client_version` (any value a peer sent) understands `is_caller_error`."""
    if not isinstance(client_version, list | tuple):
        return False
    try:
        parts = tuple(int(part) for part in client_version)
    except (TypeError, ValueError):
        return False  # a version that cannot be read counts as old: old clients choke on the unknown field
    # Padded so that a short version such as [0, 70] compares as 0.70.0 rather than as older than it.
    return parts + (0,) * (3 - len(parts)) >= CALLER_ERROR_MINIMUM_CLIENT_VERSION


def expiry_of(meta: Mapping[str, object]) -> float | None:
    """The request's `__expiry__` (Unix seconds), or None when it sets no usable one.

    Absent, null or 0 means no expiry (as in 1.x), and so does a value that is not finite. Raises
    `ValueError` when it is not a number at all (a bool is not one): the envelope is then broken.
    """
    expiry = meta.get('__expiry__')
    if not expiry:
        return None
    if not isinstance(expiry, int | float) or isinstance(expiry, bool):
        raise ValueError(f'bad __expiry__ {expiry!r}: expected Unix seconds as a number')
    return float(expiry) if math.isfinite(expiry) else None


_LEAF_TYPES = frozenset((str, int, float, bool, type(None), bytes))


_Container = TypeVar('_Container', dict[Any, Any], list[Any])


def _with_plain_items(
    value: _Container,
    items: Iterable[tuple[Any, Any]],
    copy: Callable[[_Container], _Container],
) -> _Container:
    # Copied only once an item actually changes: most responses are plain already and go out as they are.
    changed: _Container | None = None
    for key, item in items:
        if type(item) in _LEAF_TYPES:
            continue  # most values: no call needed
        plain = to_plain(item)
        if plain is not item:
            if changed is None:
                changed = copy(value)
            changed[key] = plain
    return value if changed is None else changed


def to_plain(value: Any) -> Any:
    """`value` with attrs objects turned into dicts and tuples and sets into lists, at any depth.

    Containers that need no change are returned as they are (no copy).
    """
    kind = type(value)
    if kind in _LEAF_TYPES:
        return value
    if isinstance(value, dict):
        return _with_plain_items(value, value.items(), dict)
    if isinstance(value, list):
        return _with_plain_items(value, enumerate(value), list)
    if isinstance(value, tuple | set | frozenset):
        return [to_plain(item) for item in value]
    if attr.has(kind):
        return {a.name: to_plain(getattr(value, a.name)) for a in attr.fields(kind)}
    return value


def error_to_dict(error: Error, with_caller_error: bool) -> ErrorDict:
    """The wire form of `error`; `is_caller_error` only for clients that know it."""
    result: ErrorDict = {
        'code': error.code,
        'message': error.message,
        'field': error.field,
        'traceback': error.traceback,
        'variables': to_plain(error.variables),
        'denied_permissions': to_plain(error.denied_permissions),
    }
    if with_caller_error:
        result['is_caller_error'] = error.is_caller_error
    return result


def _error_entry(error: Error | Mapping[str, object], with_caller_error: bool) -> ErrorDict:
    if isinstance(error, Error):
        return error_to_dict(error, with_caller_error)
    # Middleware written for 1.x may have appended an error as a dict: it goes out as that middleware wrote it.
    return cast(ErrorDict, dict(to_plain(error)))


def _errors_to_list(errors: Iterable[Error | Mapping[str, object]] | None, with_caller_error: bool) -> list[ErrorDict]:
    return [_error_entry(e, with_caller_error) for e in errors] if errors else []


def job_response_to_dict(response: JobResponse, client_version: tuple[int, ...]) -> JobResponseDict:
    """The wire form of `response` for a client of `client_version`."""
    with_caller_error = knows_caller_errors(client_version)
    return {
        'errors': _errors_to_list(response.errors, with_caller_error),
        'context': to_plain(response.context),
        'actions': [
            {
                'action': a.action,
                'errors': _errors_to_list(a.errors, with_caller_error),
                'body': to_plain(a.body),
            }
            for a in response.actions
        ],
    }


def job_response_from_dict(message: Mapping[str, Any]) -> JobResponse:
    """A job response received from a server, as an object (errors and actions become objects too)."""
    # Keys are read one by one so that a newer peer's extra keys are ignored rather than fatal.
    return JobResponse(
        errors=message.get('errors') or [],
        context=message.get('context') or {},
        actions=message.get('actions') or [],
    )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_copy(v) for v in value]
    return value


def job_request_to_dict(job_request: JobRequest, copy: bool = False) -> JobRequestDict:
    """The wire form of a job request; with `copy`, its dicts and lists are copied (deeply), not shared."""
    if copy:
        return {
            'control': _deep_copy(job_request.control),
            'context': _deep_copy(job_request.context),
            'actions': [{'action': a.action, 'body': _deep_copy(a.body)} for a in job_request.actions],
        }
    return {
        'control': job_request.control,
        'context': job_request.context,
        'actions': [{'action': a.action, 'body': a.body} for a in job_request.actions],
    }
