"""`pysoa status SERVICE [--verbose]`: the versions a service reports, and with `--verbose` its health checks."""

from typing import Any

import click

from pysoa.cli.calls import call_job, format_error, timeout_option
from pysoa.cli.errors import CallFailed
from pysoa.cli.output import echo_json, render_table, to_json
from pysoa.cli.target import Target, pass_target

__all__ = ('fetch_status', 'status_command')


def fetch_status(target: Target, service: str, *, verbose: bool, timeout: float) -> dict[str, Any]:
    """The body of the service's `status` action; `CallFailed` listing the errors it returned instead."""
    response = call_job(target, service, [{'action': 'status', 'body': {'verbose': verbose}}], timeout=timeout)
    errors = list(response.errors) + [error for action in response.actions for error in action.errors]
    if errors:
        raise CallFailed('\n'.join(format_error(error) for error in errors))
    return dict(response.actions[0].body)


def _checks_table(healthcheck: dict[str, Any]) -> str:
    rows = [['error', code, text] for code, text in healthcheck.get('errors') or ()]
    rows += [['warning', code, text] for code, text in healthcheck.get('warnings') or ()]
    if not rows:
        return 'Health checks: all passed.'
    return render_table(['LEVEL', 'CODE', 'PROBLEM'], rows)


@click.command('status')
@click.argument('service')
@click.option('--verbose', is_flag=True, help="Also run the service's health checks.")
@timeout_option()
@click.option('--json', 'as_json', is_flag=True, help='Print JSON instead of a table.')
@pass_target
def status_command(target: Target, service: str, verbose: bool, timeout: float, as_json: bool) -> None:
    """What SERVICE reports about itself (its `status` action)."""
    status = fetch_status(target, service, verbose=verbose, timeout=timeout)
    if as_json:
        echo_json(status)
        return
    healthcheck = status.pop('healthcheck', None)
    click.echo(render_table(['FIELD', 'VALUE'], [[key, value] for key, value in sorted(status.items())]))
    if isinstance(healthcheck, dict):
        click.echo()
        click.echo(_checks_table(healthcheck))
        if healthcheck.get('diagnostics'):
            click.echo(f'Diagnostics: {to_json(healthcheck["diagnostics"])}')
        if healthcheck.get('errors'):
            click.get_current_context().exit(1)
