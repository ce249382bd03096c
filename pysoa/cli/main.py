"""The `pysoa` command group: the options that say where Redis is, and the commands (`pysoa --help`)."""

import click

from pysoa.cli.call import call_command
from pysoa.cli.dlq import dlq_group
from pysoa.cli.health import health_group
from pysoa.cli.introspect import introspect_command
from pysoa.cli.queues import queues_command
from pysoa.cli.status import status_command
from pysoa.cli.target import TargetOptions
from pysoa.common.transport.redis_gateway.redis_url import REDIS_URL_ENVIRONMENT_VARIABLE
from pysoa.version import __version__

__all__ = ('main', 'pysoa_command')


@click.group('pysoa', context_settings={'help_option_names': ['-h', '--help']})
@click.option(
    '--redis',
    'redis_url',
    metavar='URL',
    help='The Redis: redis://[user:password@]host[:port][/db], rediss://... (TLS), unix:///path[?db=N], or '
    'redis+sentinel://host[:port][,host[:port]...][/service_name[/db]]. '
    f'Default: --settings, else ${REDIS_URL_ENVIRONMENT_VARIABLE}.',
)
@click.option(
    '--settings',
    metavar='MODULE[:NAME]',
    help='A module holding a client configuration {service_name: {"transport": ...}}: its SOA_CLIENT_SETTINGS, '
    'or the dict NAME.',
)
@click.version_option(__version__, prog_name='pysoa')
@click.pass_context
def pysoa_command(context: click.Context, redis_url: str | None, settings: str | None) -> None:
    """Call pysoa services and look at their status, queues and health.

    Exit status: 0 success, 1 the service returned errors (or a probe failed), 2 usage error, 3 Redis
    unreachable or no answer in time.
    """
    context.obj = TargetOptions(redis_url, settings)


pysoa_command.add_command(call_command)
pysoa_command.add_command(status_command)
pysoa_command.add_command(introspect_command)
pysoa_command.add_command(queues_command)
pysoa_command.add_command(health_group)
pysoa_command.add_command(dlq_group)


def main() -> None:
    """The `pysoa` console script."""
    pysoa_command(prog_name='pysoa')
