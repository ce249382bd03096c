"""The command line of a service, declared once, and what runs one server process from it (`Server.main`).

Options (each declared only in `build_parser`):

- `-s`, `--settings`: the settings module, else `PYSOA_SETTINGS` (with `django_main`: the Django settings module).
- `-d`, `--daemon`: fork into the background, print `PID=<pid>` and exit; done once per start.
- `--log-format json|text`: the format of the default console log lines.
- `-f N`, `--fork N`, `--fork-processes N`: run N worker processes (`simple_main`/`django_main` only).
- `--no-respawn`: do not respawn workers that die (`simple_main`/`django_main` only).
- `--use-file-watcher [prefixes]`: restart when source files change (`simple_main`/`django_main` only).

`simple_main` and `django_main` (`pysoa.server.standalone`) parse the command line and, with `prepared`, hand
the result (and, before forking workers, the settings they loaded) to the `Server.main` calls they make, so that
neither the command line nor the settings module is read a second time. `Server.main` called on its own parses
its options itself.
"""

import argparse
import contextlib
import dataclasses
import logging
import logging.config
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from pysoa.common.logging import PySOALogContextFilter
from pysoa.server.exit_status import HARAKIRI_EXIT_STATUS
from pysoa.server.settings import ServerSettings
from pysoa.server.settings_loader import settings_module_name

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = (
    'ServerCommandLine',
    'build_parser',
    'configure_logging',
    'daemonize',
    'prepared',
    'run_server_process',
)

SETTINGS_HELP = 'The settings module (it holds `SOA_SERVER_SETTINGS`); required unless PYSOA_SETTINGS names it'
DJANGO_SETTINGS_HELP = 'The Django settings module to use (must be importable)'


def _parse_watched_modules(value: str) -> list[str] | None:
    modules = [name.strip() for name in value.split(',') if name.strip()]
    return modules or None


def build_parser(
    description: str,
    runner: bool,
    settings_help: str | None = SETTINGS_HELP,
    settings_required: bool = False,
) -> argparse.ArgumentParser:
    """The parser of a service's command line; `runner` adds the options of `simple_main` (forking, watcher).

    `settings_help` None leaves `-s` out (a Django server's own process takes its settings from Django).
    """
    parser = argparse.ArgumentParser(description=description)
    if settings_help is not None:
        # `-s` wins over PYSOA_SETTINGS; a Django service's `-s` is its Django settings module, which is not read here.
        default = settings_module_name(None) if settings_help != DJANGO_SETTINGS_HELP else None
        parser.add_argument(
            '-s', '--settings', help=settings_help, required=settings_required and not default, default=default
        )
    parser.add_argument('-d', '--daemon', action='store_true', help='Run in the background; print `PID=<pid>`')
    parser.add_argument(
        '--log-format',
        choices=('json', 'text'),
        default=None,
        help='The format of the default console log lines (default: json)',
    )
    if runner:
        parser.add_argument(
            '-f',
            '--fork-processes',
            '--fork',
            help='The number of worker processes to fork (0 or 1: no fork, the server runs in this process)',
            type=int,
            default=0,
        )
        parser.add_argument(
            '--no-respawn',
            help='Never respawn crashed workers (by default a worker is respawned unless it has crashed 3 times in '
            '15 seconds or 8 times in 60 seconds)',
            action='store_true',
            default=False,
        )
        parser.add_argument(
            '--use-file-watcher',
            help='Restart the service when its files change (development only). Without a value every loaded '
            'module is watched; or give a comma-separated list of module name prefixes to watch.',
            nargs='?',
            type=_parse_watched_modules,
            default=False,  # False: option absent; None: present without a value (watch everything)
        )
    return parser


@dataclasses.dataclass(frozen=True)
class ServerCommandLine:
    """The parsed command line of a service; options a parser did not declare keep their defaults."""

    settings: str | None = None
    daemon: bool = False
    log_format: Literal['json', 'text'] | None = None
    fork_processes: int = 0
    no_respawn: bool = False
    use_file_watcher: list[str] | None | Literal[False] = False
    """False: no file watcher; None: watch every loaded module; else the module name prefixes to watch."""

    @classmethod
    def parse(cls, parser: argparse.ArgumentParser, arguments: Sequence[str] | None = None) -> 'ServerCommandLine':
        """Parse `arguments` (default: this process's); arguments the parser does not know are left alone."""
        namespace = parser.parse_known_args(arguments)[0]
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in vars(namespace).items() if name in known})


@dataclasses.dataclass(frozen=True)
class _Prepared:
    server_class: type
    options: ServerCommandLine
    settings: ServerSettings | None


# Set by the runner around the `Server.main` calls it makes (in this process, or in workers forked meanwhile, which
# inherit it); a process-wide value on purpose, as the command line it stands for is the process's.
_prepared: _Prepared | None = None


@contextlib.contextmanager
def prepared(
    server_class: 'type[Server]',
    options: ServerCommandLine,
    settings: ServerSettings | None = None,
) -> Iterator[None]:
    """Within the block, `server_class.main()` uses `options` (and `settings`, if given) instead of reading them."""
    global _prepared
    previous = _prepared
    _prepared = _Prepared(server_class, options, settings)
    try:
        yield
    finally:
        _prepared = previous


def configure_logging(service_name: str, settings: ServerSettings, log_format: str | None) -> None:
    """Apply the `logging` setting (switching the console handler to plain text for `--log-format text`)."""
    PySOALogContextFilter.set_service_name(service_name)
    logging_config = settings['logging']
    if log_format == 'text' and 'console' in logging_config.get('handlers', {}):
        logging_config['handlers']['console']['formatter'] = 'console'
    logging.config.dictConfig(logging_config)


def daemonize() -> None:
    """Fork into the background: this process prints `PID=<the child's pid>` and exits; the child returns."""
    pid = os.fork()
    if pid > 0:
        print(f'PID={pid}', flush=True)
        os._exit(0)  # the child owns everything now: run no exit handlers in this copy


def _server_command_line(server_class: 'type[Server]') -> ServerCommandLine:
    # A Django server takes its settings from Django: `-s` is not its own then.
    parser = build_parser(
        f'Server for the {server_class.service_name} SOA service',
        runner=False,
        settings_help=None if server_class.use_django else SETTINGS_HELP,
        settings_required=not server_class.use_django,
    )
    return ServerCommandLine.parse(parser, sys.argv[1:])


def run_server_process(server_class: 'type[Server]', forked_process_id: int | None = None) -> None:
    """`Server.main`: load the settings, configure logging, daemonize if asked, then build and run the server."""
    given = _prepared if _prepared is not None and _prepared.server_class is server_class else None
    options = given.options if given is not None else _server_command_line(server_class)
    settings = given.settings if given is not None else None
    if settings is None:
        settings = server_class._load_settings(options.settings)
    if not server_class.service_name:
        raise AttributeError('Server subclass must set service_name')

    configure_logging(server_class.service_name, settings, options.log_format)
    if options.daemon:
        daemonize()

    server = server_class.initialize(settings)(settings, forked_process_id)
    server.run()
    # A subclass may replace `__init__` or `run` (1.x allowed it): then there is no worker to ask.
    if getattr(getattr(server, '_worker', None), 'stopped_by_harakiri', False) is True:
        # A job outran harakiri, not an operator's request: a supervisor that restarts failed workers must see it.
        raise SystemExit(HARAKIRI_EXIT_STATUS)
