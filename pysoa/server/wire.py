"""Job messages in and out of the server: request validation and response-to-dict conversion.

Both run once per request, so both take a fast path for the common case: a well-formed request is
checked by hand (the Conformity schema runs only to describe what is wrong), and a response is
turned into plain dicts and lists without copying what is already plain.
"""

from collections.abc import Mapping
from typing import Any

import attr
from conformity.error import Error as ConformityError

from pysoa.common.errors import Error
from pysoa.common.types import JobResponse
from pysoa.server.schemas import JobRequestSchema

__all__ = (
    'CALLER_ERROR_MINIMUM_CLIENT_VERSION',
    'job_request_errors',
    'job_response_to_dict',
    'to_plain',
)

CALLER_ERROR_MINIMUM_CLIENT_VERSION = (0, 70, 0)
"""Clients older than this do not know `is_caller_error` and must not receive it."""

_JOB_KEYS = frozenset(('control', 'context', 'actions'))
_ACTION_KEYS = frozenset(('action', 'body'))
_OPTIONAL_CONTEXT_STRINGS = ('caller', 'calling_service')


def _looks_valid(job: Any) -> bool:
    if type(job) is not dict or job.keys() != _JOB_KEYS:
        return False
    control = job['control']
    if not isinstance(control, dict) or type(control.get('continue_on_error')) is not bool:
        return False
    if 'suppress_response' in control and type(control['suppress_response']) is not bool:
        return False
    context = job['context']
    if not isinstance(context, dict) or not isinstance(context.get('correlation_id'), str):
        return False
    switches = context.get('switches')
    if not isinstance(switches, list):
        return False
    for switch in switches:
        if type(switch) is not int:
            return False
    for key in _OPTIONAL_CONTEXT_STRINGS:
        if key in context and not isinstance(context[key], str):
            return False
    actions = job['actions']
    if not isinstance(actions, list) or not actions:
        return False
    for action in actions:
        if not isinstance(action, dict) or not action.keys() <= _ACTION_KEYS:
            return False
        if not isinstance(action.get('action'), str):
            return False
        if 'body' in action:
            body = action['body']
            if not isinstance(body, dict):
                return False
            for key in body:
                if type(key) is not str:
                    return False
    return True


def job_request_errors(job: Any) -> list[Error]:
    """The errors that make `job` an invalid job request (empty when it is valid).

    These are never the caller's fault: only a broken client library sends a malformed job.
    """
    if _looks_valid(job):
        return []
    problems: list[ConformityError] = JobRequestSchema.errors(job) or []
    return [Error(code=p.code, message=p.message, field=p.pointer, is_caller_error=False) for p in problems]


_LEAF_TYPES = frozenset((str, int, float, bool, type(None), bytes))


def to_plain(value: Any) -> Any:
    """`value` with attrs objects turned into dicts and tuples and sets into lists, at any depth.

    Containers that need no change are returned as they are (no copy).
    """
    kind = type(value)
    if kind in _LEAF_TYPES:
        return value
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            if type(item) in _LEAF_TYPES:
                continue  # most values: no call needed
            plain = to_plain(item)
            if plain is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = plain
        return value if changed is None else changed
    if isinstance(value, list):
        converted: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) in _LEAF_TYPES:
                continue
            plain = to_plain(item)
            if plain is not item:
                if converted is None:
                    converted = list(value)
                converted[index] = plain
        return value if converted is None else converted
    if isinstance(value, (tuple, set, frozenset)):
        return [to_plain(item) for item in value]
    if attr.has(kind):
        return {a.name: to_plain(getattr(value, a.name)) for a in attr.fields(kind)}
    return value


def _error_to_dict(error: Error, with_caller_error: bool) -> dict[str, Any]:
    result = {
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


def _errors_to_list(errors: Any, with_caller_error: bool) -> list[dict[str, Any]]:
    if not errors:
        return []
    return [_error_to_dict(e, with_caller_error) if isinstance(e, Error) else dict(to_plain(e)) for e in errors]


def job_response_to_dict(response: JobResponse, client_version: tuple[int, ...]) -> dict[str, Any]:
    """The wire form of `response` for a client of `client_version` (protocol §1 field order)."""
    with_caller_error = client_version >= CALLER_ERROR_MINIMUM_CLIENT_VERSION
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


def client_version_of(meta: Mapping[str, Any]) -> tuple[int, ...]:
    """The client version announced in a request's meta; clients that announce none predate 0.70.0."""
    version = meta.get('client_version')
    if isinstance(version, (list, tuple)):
        try:
            return tuple(map(int, version))
        except (TypeError, ValueError):
            pass
    return (0, 40, 0)
