"""The `pysoa` command: call a service's actions and look at its status, queues and health from a shell.

One module per command group (`call`, `status`, `introspect`, `queues`, `health`, `dlq`); `main` is the group
that finds Redis for them (`target`), and `errors` holds the exit statuses every command shares.
"""

from pysoa.cli.main import main, pysoa_command

__all__ = ('main', 'pysoa_command')
