"""The exit statuses of the `pysoa` command, and the exceptions that end a command with one and a clear message.

0: success. 1: the action or job returned errors (or a health probe failed). 2: the command line was wrong
(click's own usage errors). 3: Redis could not be reached, or the service did not answer in time.
"""

import click

__all__ = ('EXIT_ERRORS', 'EXIT_OK', 'EXIT_TRANSPORT', 'EXIT_USAGE', 'CallFailed', 'TransportFailure')

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_TRANSPORT = 3


class TransportFailure(click.ClickException):
    """Redis could not be reached, or nothing answered in time: the message says where and what was seen."""

    exit_code = EXIT_TRANSPORT


class CallFailed(click.ClickException):
    """The service answered with errors (the message lists them), or a health probe found a problem."""

    exit_code = EXIT_ERRORS
