"""`pysoa health`: probes for an orchestrator, answered by the exit status alone (0 healthy, else not).

- `pysoa health worker --heartbeat-file PATH [--max-age S]`: the worker's heartbeat file (the server's
  `heartbeat_file` setting, `pysoa.server.heartbeat`) was written less than S seconds ago. A liveness probe:
  a worker stuck in a job, or gone, stops writing it.
- `pysoa health service SERVICE [--timeout S]`: a `status` call (without health checks) answers within S seconds.
  A readiness probe: some worker of the service takes requests from Redis and answers.
"""

import os
import time

import click

from pysoa.cli.calls import timeout_option
from pysoa.cli.errors import CallFailed
from pysoa.cli.status import fetch_status
from pysoa.cli.target import Target, pass_target

__all__ = ('health_group',)

DEFAULT_MAX_AGE_SECONDS = 60.0


@click.group('health')
def health_group() -> None:
    """Exit-status probes: 0 healthy, 1 unhealthy, 3 Redis unreachable or no answer in time."""


@health_group.command('worker')
@click.option(
    '--heartbeat-file',
    'path',
    required=True,
    type=click.Path(dir_okay=False),
    help="The worker's heartbeat file (its `heartbeat_file` setting, with {{pid}}/{{fid}} filled in).",
)
@click.option(
    '--max-age',
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_MAX_AGE_SECONDS,
    show_default=True,
    help='The oldest heartbeat, in seconds, still taken as alive; longer than the receive timeout.',
)
def worker_command(path: str, max_age: float) -> None:
    """Healthy when the heartbeat file was written less than --max-age seconds ago."""
    try:
        age = time.time() - os.stat(path).st_mtime
    except OSError as error:
        raise CallFailed(f'No heartbeat: cannot read {path}: {error.strerror}') from None
    if age > max_age:
        raise CallFailed(f'Stale heartbeat: {path} was last written {age:.1f}s ago (more than {max_age:g}s)')
    click.echo(f'OK: heartbeat {age:.1f}s old')


@health_group.command('service')
@click.argument('service')
@timeout_option(5.0)
@pass_target
def service_command(target: Target, service: str, timeout: float) -> None:
    """Healthy when SERVICE answers a `status` call within --timeout seconds."""
    started = time.monotonic()
    status = fetch_status(target, service, verbose=False, timeout=timeout)
    click.echo(f'OK: {service} {status.get("version", "")} answered in {time.monotonic() - started:.3f}s')
