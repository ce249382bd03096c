"""Checks of the client's configuration and call arguments, and the errors that name what is wrong.

The checks on the call path are a handful of `isinstance` tests; the detailed diagnosis of a bad
`actions` or job argument only runs once building the request has already failed.
"""

from collections.abc import Generator, Iterable, Mapping
from typing import Any, NoReturn

from pysoa.common.types import ActionRequest, Body, Context, Control, JobRequest

__all__ = (
    'ActionRequestArgument',
    'JobRequestArgument',
    'action_requests_error',
    'check_body',
    'check_client_config',
    'check_mapping',
    'check_timeout',
    'job_error',
    'job_parts',
    'make_job_request',
    'one_action',
    'one_action_jobs',
    'switches_error',
)

# Plain dicts, not the wire TypedDicts: callers build them from their own `dict[str, Any]` data.
ActionRequestArgument = ActionRequest | dict[str, Any]
"""An action to call: an `ActionRequest` or a dict with `action` and optionally `body`."""

JobRequestArgument = dict[str, Any]
"""A job to call in parallel: `{'service_name': str, 'actions': [ActionRequestArgument, ...]}`."""


def _kind(value: object) -> str:
    return type(value).__name__


def check_client_config(config: object, settings_class: type, improperly_configured: type[Exception]) -> None:
    """Raise `improperly_configured` unless `config` maps service names (str) to settings dicts."""
    if not isinstance(config, Mapping):
        raise improperly_configured(
            f'The client configuration must be a dict mapping service names to their settings dicts '
            f'(with `transport`, ...), not {_kind(config)}',
        )
    for service_name, service_config in config.items():
        if not isinstance(service_name, str):
            raise improperly_configured(
                f'The client configuration must be keyed by service names (str), not {_kind(service_name)} '
                f'{service_name!r}',
            )
        _check_service_level(service_name, service_config, config, improperly_configured)
        if not isinstance(service_config, Mapping | settings_class):
            raise improperly_configured(
                f'The settings of service `{service_name}` must be a dict (with `transport`, ...), '
                f'not {_kind(service_config)}',
            )


_SETTINGS_KEYS = frozenset({'transport', 'middleware', 'metrics'})


def _check_service_level(
    key: str, value: object, config: Mapping[str, object], improperly_configured: type[Exception]
) -> None:
    """Refuse a config that is one service's settings dict rather than a dict of them (the service level forgotten)."""
    # A service may be called `transport`; its settings then are a dict of settings, not a class configuration.
    looks_like_setting = (isinstance(value, Mapping) and ('path' in value or 'kwargs' in value)) or isinstance(
        value, list
    )
    if key in _SETTINGS_KEYS and looks_like_setting:
        raise improperly_configured(
            f'The client configuration must map service names to their settings, but `{key}` is a setting: '
            f"did you mean {{'<service>': {{{', '.join(repr(name) + ': ...' for name in config)}}}}}?",
        )


def check_timeout(value: object, name: str = 'timeout') -> None:
    """Raise `TypeError` unless `value` is None or a number of seconds."""
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
        raise TypeError(f'{name} must be a number of seconds (int or float) or None, not {_kind(value)} {value!r}')


def check_body(body: object) -> None:
    """Raise `TypeError` unless `body` is None or a dict."""
    if body is not None and not isinstance(body, dict):
        raise TypeError(f'body must be a dict or None, not {_kind(body)} {body!r}')


def one_action(action: str, body: Body | None) -> list[ActionRequest]:
    """The actions of a `call_action`: its one action, with its body (checked first)."""
    check_body(body)
    return [ActionRequest(action=action, body=body or {})]


def one_action_jobs(
    service_name: str, actions: Iterable[ActionRequestArgument]
) -> Generator[JobRequestArgument, None, None]:
    """The jobs of a `call_actions_parallel`: each action a job of its own, made as the actions are read."""
    return ({'service_name': service_name, 'actions': [a]} for a in actions)


def check_mapping(value: object, name: str) -> None:
    """Raise `TypeError` unless `value` is None or a mapping (a dict)."""
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f'{name} must be a dict or None, not {_kind(value)} {value!r}')


def switches_error(switches: object, name: str = 'switches') -> TypeError:
    """The error for `switches` that are not a collection of ints."""
    return TypeError(f'{name} must be a list (or other collection) of ints, not {_kind(switches)} {switches!r}')


def action_requests_error(actions: object) -> Exception:
    """The error to raise for an `actions` argument that could not be turned into action requests."""
    if isinstance(actions, str | bytes | Mapping) or not isinstance(actions, Iterable):
        return TypeError(
            f'actions must be a list of ActionRequest objects or dicts with an `action` key, not {_kind(actions)}',
        )
    for index, item in enumerate(actions):
        if isinstance(item, ActionRequest):
            continue
        if not isinstance(item, Mapping):
            return TypeError(
                f'actions[{index}] must be an ActionRequest or a dict with an `action` key, not {_kind(item)} {item!r}',
            )
        if 'action' not in item:
            return ValueError(f'actions[{index}] has no `action` key: {item!r}')
        unknown = sorted(str(k) for k in item if k not in ('action', 'body'))
        if unknown:
            return ValueError(f'actions[{index}] has unknown key(s) {", ".join(unknown)}; expected `action` and `body`')
    return TypeError('actions must be a list of ActionRequest objects or dicts with an `action` key')


def job_parts(index: int, job: JobRequestArgument) -> tuple[str, Iterable[ActionRequestArgument]]:
    """The service name and actions of job number `index` of `call_jobs_parallel`; raises `job_error` if it has none."""
    try:
        return job['service_name'], job['actions']
    except (KeyError, TypeError, IndexError):
        job_error(index, job)


def job_error(index: int, job: object) -> NoReturn:
    """Raise the error for a job of `call_jobs_parallel` that is not `{'service_name': ..., 'actions': [...]}`."""
    if not isinstance(job, Mapping):
        raise TypeError(
            f'jobs[{index}] must be a dict with `service_name` and `actions` keys, not {_kind(job)} {job!r}',
        )
    missing = [key for key in ('service_name', 'actions') if key not in job]
    raise ValueError(
        f'jobs[{index}] has no {" or ".join(f"`{k}`" for k in missing)} key; expected a dict with `service_name` '
        f'and `actions` keys, got {job!r}',
    )


def make_job_request(control: Control, context: Context, actions: Iterable[ActionRequestArgument]) -> JobRequest:
    """The job request to send; raises the error that names what is wrong with `actions` if they are not valid."""
    try:
        # The attrs converter accepts dicts too.
        return JobRequest(control=control, context=context, actions=actions)
    except (TypeError, AttributeError, ValueError):
        raise action_requests_error(actions) from None
