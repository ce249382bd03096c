"""`pysoa introspect SERVICE [ACTION]`: a service's actions, or one action's documentation and schemas."""

from typing import Any

import click

from pysoa.cli.calls import call_job, format_error, known_actions, no_such_action, timeout_option
from pysoa.cli.errors import CallFailed
from pysoa.cli.output import echo_json, render_table, to_json
from pysoa.cli.target import Target, pass_target

__all__ = ('introspect_command',)


def _summary(text: object, width: int = 90) -> str:
    """The first sentence of a documentation text, cut to `width` characters."""
    sentence = ' '.join(str(text or '').split()).split('. ')[0]
    return sentence if len(sentence) <= width else sentence[: width - 3] + '...'


def _print_service(service: str, result: dict[str, Any]) -> None:
    if result.get('documentation'):
        click.echo(str(result['documentation']).strip())
        click.echo()
    actions = result.get('actions') or {}
    rows = [
        [name, _summary((actions.get(name) or {}).get('documentation'))]
        for name in result.get('action_names') or sorted(actions)
    ]
    click.echo(render_table(['ACTION', 'DOCUMENTATION'], rows))


def _print_action(name: str, action: dict[str, Any]) -> None:
    click.echo(name)
    click.echo()
    click.echo(str(action.get('documentation') or '(no documentation)').strip())
    for key, title in (('request_schema', 'Request'), ('response_schema', 'Response')):
        click.echo()
        click.echo(f'{title} schema:')
        click.echo(to_json(action.get(key)))


@click.command('introspect')
@click.argument('service')
@click.argument('action', required=False)
@timeout_option()
@click.option('--json', 'as_json', is_flag=True, help='Print JSON instead of a table.')
@pass_target
def introspect_command(target: Target, service: str, action: str | None, timeout: float, as_json: bool) -> None:
    """The actions of SERVICE, or the documentation and schemas of its ACTION (its `introspect` action)."""
    body = {'action_name': action} if action else {}
    response = call_job(target, service, [{'action': 'introspect', 'body': body}], timeout=timeout)
    errors = list(response.errors) + [error for result in response.actions for error in result.errors]
    if errors:
        names = known_actions(target, service, timeout) if action else None
        hint = '\n' + no_such_action(service, str(action), names) if names else ''
        raise CallFailed('\n'.join(format_error(error) for error in errors) + hint)
    result = dict(response.actions[0].body)
    if as_json:
        echo_json(result)
    elif action:
        _print_action(action, (result.get('actions') or {}).get(action) or {})
    else:
        _print_service(service, result)
