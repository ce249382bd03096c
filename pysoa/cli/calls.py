"""Calling a service for the `pysoa` commands: one job through a `Client`, its failures turned into clear messages.

Redis that cannot be reached names its address (never a password) and where that address came from; a service
that does not answer in time names its queue and says whether requests are waiting in it, which tells a missing
worker (requests pile up) from a slow one (the queue is empty: a worker took the request).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from pysoa.cli.errors import TransportFailure
from pysoa.cli.queues import queue_depth, queue_key
from pysoa.cli.target import Target
from pysoa.client import Client
from pysoa.common.errors import Error
from pysoa.common.transport.errors import MessageReceiveTimeout, PySOATransportError
from pysoa.common.types import JobResponse
from pysoa.schema.settings import Settings

__all__ = (
    'DEFAULT_TIMEOUT_SECONDS',
    'call_job',
    'format_error',
    'known_actions',
    'no_such_action',
    'timeout_message',
    'timeout_option',
)

DEFAULT_TIMEOUT_SECONDS = 10.0

_F = TypeVar('_F', bound=Callable[..., object])


def timeout_option(default: float = DEFAULT_TIMEOUT_SECONDS) -> Callable[[_F], _F]:
    """The `--timeout S` option of the commands that call a service: a positive number of seconds."""
    return click.option(
        '--timeout',
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        help='Seconds to wait for the answer.',
    )


def timeout_message(target: Target, service: str, timeout: float) -> str:
    """Why nothing came back: the queue, and whether requests are waiting in it."""
    queue = queue_key(service)
    depth = queue_depth(target, service)
    if depth is None:
        seen = 'and Redis could not tell how many requests wait in it'
    elif depth:
        seen = f'where {depth} request(s) are waiting: is any worker of the {service} service running?'
    else:
        seen = 'which is empty: a worker took the request but did not answer in time'
    where = target.address(service)
    return f'The {service} service did not answer within {timeout:g}s on queue {queue} ({where}), {seen}'


def call_job(
    target: Target,
    service: str,
    actions: Sequence[Mapping[str, Any]],
    *,
    timeout: float,
    switches: Sequence[int] = (),
    context: Mapping[str, Any] | None = None,
) -> JobResponse:
    """Send one job and return its response, errors included; `TransportFailure` when nothing usable came back."""
    try:
        client = Client({service: target.client_settings(service)})
    except (Settings.ImproperlyConfigured, ValueError) as error:
        raise click.UsageError(f'The client settings for {service} (from {target.source}) are invalid: {error}')
    try:
        return client.call_actions(
            service,
            [dict(action) for action in actions],
            raise_job_errors=False,
            raise_action_errors=False,
            timeout=timeout,
            switches=list(switches),
            context=dict(context) if context else None,
        )
    except MessageReceiveTimeout:
        raise TransportFailure(timeout_message(target, service, timeout)) from None
    except ValueError as error:  # settings that only the transport checks (a bad PYSOA_REDIS_URL, ...)
        raise click.UsageError(f'The client settings for {service} (from {target.source}) are invalid: {error}')
    except PySOATransportError as error:
        raise TransportFailure(
            f'Cannot reach {target.address(service)} (from {target.source}): {_reason(error)}'
        ) from None


def _reason(error: Exception) -> str:
    # Transport errors carry (what failed, the exception type, its text): the text says what went wrong.
    texts = [str(argument) for argument in error.args if argument]
    return texts[-1] if texts else type(error).__name__


def known_actions(target: Target, service: str, timeout: float) -> list[str] | None:
    """The service's action names, from its `introspect` action; None when it does not say."""
    response = call_job(target, service, [{'action': 'introspect', 'body': {}}], timeout=timeout)
    if response.errors or not response.actions or response.actions[0].errors:
        return None
    names = response.actions[0].body.get('action_names')
    return [str(name) for name in names] if isinstance(names, list) else None


def no_such_action(service: str, action: str, names: list[str]) -> str:
    """The message for an action the service does not have, listing those it has."""
    return f'The {service} service has no action {action!r}; its actions are: {", ".join(names)}.'


def format_error(error: Error) -> str:
    """`CODE (field): message` for a person."""
    field = f' ({error.field})' if error.field else ''
    return f'{error.code}{field}: {error.message}'
