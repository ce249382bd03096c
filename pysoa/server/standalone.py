"""The command line of a service: `python -m my_service -s my_service.settings [--fork N] [--use-file-watcher]`.

A service's `__main__` calls `simple_main(lambda: MyServer)` (or `django_main` for Django services).
These parse the whole command line once (the options are declared in `pysoa.server.command_line`) and
hand it to `Server.main`, which each server process runs. Besides `-s/--settings`, `-d/--daemon` and
`--log-format`:

- `-f N`, `--fork N`, `--fork-processes N`: run N worker processes under a supervising parent
  (`pysoa.server.forking`); with 0 or 1 the server runs in this process.
- `--no-respawn`: do not respawn workers that die (by default a worker is respawned unless it
  has been respawned 3 times in 15 seconds or 8 times in 60 seconds).
- `--use-file-watcher [module,module]`: restart when source files change (`pysoa.server.autoreload`),
  watching every loaded module or only those whose names start with the given prefixes.

With `--fork`, the parent validates the settings before forking (a mistake stops the service with one
message), and `-d` sends the supervising parent to the background rather than each worker.

Importing this module from a script run as `python path/to/file.py` exits with status 99: that
puts the script's package directory first on `sys.path` and imports the service's modules twice
under two names (the "double-import trap"). Start services with `python -m` or an entry point.
"""

import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pysoa.utils

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('django_main', 'simple_main')

DOUBLE_IMPORT_EXIT_CODE = 99


def _is_bin_directory(path: str) -> bool:
    return path.rstrip('/').endswith(('/bin', '/sbin'))


def is_double_import() -> bool:
    """True when the program was started as `python path/to/script.py` from outside a `bin` directory."""
    if not sys.path[0] or _is_bin_directory(sys.path[0]):
        return False
    arguments = pysoa.utils.get_python_interpreter_arguments()
    if '-m' in arguments or '-c' in arguments or len(arguments) < 2:
        return False
    # An installed entry point (including the `pytest` runner) lives in a bin directory, which is harmless.
    return not _is_bin_directory(os.path.dirname(arguments[-1]))


if is_double_import():
    sys.stderr.write(
        'ERROR: You have triggered the double-import trap: starting a service with `python /path/to/file.py` puts '
        "that file's directory first on the import path, so the service's modules get imported twice under "
        'different names (and can mask standard modules), which breaks things in ways that are hard to diagnose. '
        'Start the service with `python -m module.to.standalone` or with its entry-point executable instead. '
        f'Debug information: sys.path[0]={sys.path[0]!r} sys.argv={sys.argv!r}\n'
    )
    sys.exit(DOUBLE_IMPORT_EXIT_CODE)

# Imported only once the trap is passed: with a script's directory first on the path, these imports are what goes
# wrong (a module there could mask one they need).
from pysoa.server.command_line import (  # noqa: E402
    DJANGO_SETTINGS_HELP,
    ServerCommandLine,
    build_parser,
    daemonize,
    prepared,
)
from pysoa.server.settings import ServerSettings  # noqa: E402
from pysoa.server.settings_loader import import_settings_module  # noqa: E402

_DAEMON_FLAGS = ('-d', '--daemon')


def _check_settings_before_forking(
    server_class: 'type[Server]',
    options: ServerCommandLine | None = None,
) -> ServerSettings | None:
    """Load and check the settings once in the parent, so that a mistake in them stops the service with one message.

    Otherwise every worker would die of it with a traceback, and be respawned, until the respawn policy gives up.
    Returns the settings, which the forked workers then use as they are.
    """
    from pysoa.schema.settings import Settings
    from pysoa.server.concurrent_worker import concurrency_refusal

    if options is None:
        options = ServerCommandLine.parse(build_parser('', runner=True))
    if not options.settings and not server_class.use_django:
        return None  # nothing to check: `simple_main` (or `Server.main`) reports the missing `-s`
    try:
        settings = server_class._load_settings(options.settings)
        server_class.validate_client_routing(settings)
        problem = concurrency_refusal(settings)
        if problem is not None:
            raise Settings.ImproperlyConfigured(problem)
    except (ValueError, Settings.ImproperlyConfigured) as error:
        sys.stderr.write(f'ERROR: the settings of the {server_class.service_name} service are invalid: {error}\n')
        sys.exit(1)
    return settings


def _run_server(args: ServerCommandLine, server_class: 'type[Server]') -> None:
    if args.fork_processes <= 1:
        with prepared(server_class, args):
            server_class.main()
        return

    from pysoa.server.forking import WorkerPool, cap_worker_count, use_fork_start_method

    settings = _check_settings_before_forking(server_class, args)
    if args.daemon:
        # The supervising parent goes to the background once, and not each worker: the parent would otherwise see
        # every worker exit at once, respawn it, and leave a growing crowd of unsupervised servers behind.
        daemonize()
        args = dataclasses.replace(args, daemon=False)
        # Workers started by other means than a plain fork read the command line again.
        sys.argv[1:] = [argument for argument in sys.argv[1:] if argument not in _DAEMON_FLAGS]
    use_fork_start_method()
    with prepared(server_class, args, settings):
        status = WorkerPool(server_class, cap_worker_count(args.fork_processes), respawn=not args.no_respawn).run()
    if status:
        sys.exit(status)


def _get_main_module_name() -> str:
    # `__main__` is the module given to `python -m`; its loader knows the real name. '' when run otherwise.
    import __main__

    loader = getattr(__main__, '__loader__', None)
    name = getattr(loader, 'name', None) or getattr(loader, 'fullname', None) or ''
    return '' if name == '__main__' else str(name)


def _run_server_reloader_wrapper(args: ServerCommandLine, server_class: 'type[Server]') -> None:
    if args.use_file_watcher is False:
        _run_server(args, server_class)
        return
    from pysoa.server import autoreload

    autoreload.get_reloader(
        _get_main_module_name(),
        args.use_file_watcher,
        signal_forks=args.fork_processes > 1,
    ).main(_run_server, (args, server_class))


def simple_main(server_getter: 'Callable[[], type[Server]]') -> None:
    """Run the service returned by `server_getter()` from the command line (call it in the service's `__main__`).

    For services with `use_django = True`, use `django_main` instead.
    """
    parser = build_parser('Run a PySOA service', runner=True)
    args = ServerCommandLine.parse(parser)
    server_class = server_getter()
    if not args.settings and not server_class.use_django:
        parser.error('the following arguments are required: -s/--settings')
    _run_server_reloader_wrapper(args, server_class)


def _apply_soa_logging_to_django(settings_module_name: str) -> bool:
    """Make Django's `LOGGING` the server's logging settings; True when it replaced a different `LOGGING`."""
    django_settings: Any = import_settings_module(settings_module_name, 'Django settings module')
    try:
        soa_settings = django_settings.SOA_SERVER_SETTINGS
    except AttributeError:
        raise ValueError('Cannot find `SOA_SERVER_SETTINGS` in the Django settings module.')
    # Django configures logging during setup(), so the server's logging settings must be in place before it.
    if 'logging' in soa_settings:
        existing = getattr(django_settings, 'LOGGING', None)
        replaced = bool(existing) and existing != soa_settings['logging']
        django_settings.LOGGING = soa_settings['logging']
        return replaced
    if not getattr(django_settings, 'LOGGING', None):
        django_settings.LOGGING = ServerSettings.defaults['logging']
    return False


def django_main(server_getter: 'Callable[[], type[Server]]', django_settings_module: str | None = None) -> None:
    """Like `simple_main`, for services with `use_django = True`, after setting Django up.

    The Django settings module comes from `-s/--settings`, else `DJANGO_SETTINGS_MODULE`, else
    `django_settings_module`. Import nothing that needs Django before `server_getter` is called.
    """
    import django

    default_module = os.environ.get('DJANGO_SETTINGS_MODULE') or django_settings_module
    parser = build_parser(
        'Run a PySOA service',
        runner=True,
        settings_help=DJANGO_SETTINGS_HELP,
        settings_required=not default_module,
    )
    args = ServerCommandLine.parse(parser)
    settings_module_name: str = args.settings or default_module or ''
    args = dataclasses.replace(args, settings=settings_module_name)
    os.environ['DJANGO_SETTINGS_MODULE'] = settings_module_name

    replaced_logging = _apply_soa_logging_to_django(settings_module_name)
    django.setup()
    if replaced_logging:
        logging.getLogger(__name__).warning(
            "Django setting `LOGGING` differs from `SOA_SERVER_SETTINGS['logging']` and has been overwritten with "
            "the value of `SOA_SERVER_SETTINGS['logging']`."
        )

    _run_server_reloader_wrapper(args, server_getter())
