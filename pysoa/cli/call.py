"""`pysoa call SERVICE ACTION [BODY_JSON]`: call one action and print its response body, or its errors.

Exit status 0 when the action succeeded, 1 when the action or the job returned errors, 2 for a bad command line
(a body that is not a JSON object says where it went wrong), 3 when Redis cannot be reached or nothing answered.
An unknown action lists the service's actions (from its `introspect` action).
"""

import json
from collections.abc import Mapping
from typing import Any

import click

from pysoa.cli.calls import call_job, format_error, known_actions, no_such_action, timeout_option
from pysoa.cli.errors import EXIT_ERRORS
from pysoa.cli.output import echo_json, to_json
from pysoa.cli.target import Target, pass_target
from pysoa.common.constants import ERROR_CODE_UNKNOWN
from pysoa.common.errors import Error
from pysoa.common.types import JobResponse
from pysoa.common.wire import error_to_dict

__all__ = ('call_command', 'parse_json_object')


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """`text` read as a JSON object; a usage error that points at the character where it stops being one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        line = text.splitlines()[error.lineno - 1] if text.splitlines() else ''
        pointer = ' ' * (error.colno - 1) + '^'
        raise click.BadParameter(
            f'not valid JSON: {error.msg} at line {error.lineno}, column {error.colno} (character {error.pos + 1}):'
            f'\n  {line}\n  {pointer}',
            param_hint=what,
        ) from None
    if not isinstance(value, dict):
        raise click.BadParameter(f'must be a JSON object ({{...}}), not {type(value).__name__}', param_hint=what)
    return value


def _unknown_action_hint(errors: list[Error], target: Target, service: str, action: str, timeout: float) -> str | None:
    if not any(error.code == ERROR_CODE_UNKNOWN and error.field == 'action' for error in errors):
        return None
    names = known_actions(target, service, timeout)
    if names is None:
        return None
    return no_such_action(service, action, names)


def _print_result(response: JobResponse, as_json: bool) -> list[Error]:
    action = response.actions[0] if response.actions else None
    errors = list(response.errors) + (list(action.errors) if action else [])
    if as_json:
        echo_json(
            {
                'action': action.action if action else None,
                'body': action.body if action and not action.errors else None,
                'errors': [error_to_dict(error, with_caller_error=True) for error in errors],
                'job_errors': bool(response.errors),
            }
        )
    elif not errors and action is not None:
        click.echo(to_json(action.body))
    return errors


@click.command('call')
@click.argument('service')
@click.argument('action')
@click.argument('body', required=False, metavar='[BODY_JSON]')
@click.option('--switch', 'switches', type=int, multiple=True, metavar='N', help='A switch to turn on (repeatable).')
@click.option('--context', 'context_json', metavar='JSON', help='The job context, a JSON object.')
@timeout_option()
@click.option('--json', 'as_json', is_flag=True, help='Print the whole result as JSON (body and errors).')
@pass_target
def call_command(
    target: Target,
    service: str,
    action: str,
    body: str | None,
    switches: tuple[int, ...],
    context_json: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Call ACTION of SERVICE with BODY_JSON (a JSON object, default {}) and print its response body."""
    request_body: Mapping[str, Any] = parse_json_object(body, 'BODY_JSON') if body is not None else {}
    context = parse_json_object(context_json, '--context') if context_json is not None else None
    response = call_job(
        target, service, [{'action': action, 'body': request_body}], timeout=timeout, switches=switches, context=context
    )
    errors = _print_result(response, as_json)
    if not errors:
        return
    if not as_json:
        for error in errors:
            click.echo(f'Error {format_error(error)}', err=True)
        hint = _unknown_action_hint(errors, target, service, action, timeout)
        if hint:
            click.echo(hint, err=True)
    click.get_current_context().exit(EXIT_ERRORS)
