"""Restart the service process when its source files change (`--use-file-watcher`; for development only).

Two processes cooperate. The first one (the *reloader*) never runs the server: it re-executes the
same command line as a child with `PYSOA_RELOADER_RUN_MAIN=true` and waits for it. The child runs
the server in its main thread and watches the files of its loaded modules in a daemon thread; on
a change it signals itself (SIGHUP then SIGTERM when it supervises forked workers, else SIGTERM),
lets the server shut down gracefully and exits with `NEED_RELOAD_EXIT_CODE`, which makes the
reloader start a fresh child. Any other exit code ends the reloader with that same code.

Changes are detected with Linux inotify when the kernel offers it (no third-party package needed),
else by polling modification times once a second.
"""

import abc
import ctypes
import ctypes.util
import errno
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import FrameType, ModuleType
from typing import Any

__all__ = ('NEED_RELOAD_EXIT_CODE', 'AbstractReloader', 'get_reloader')

NEED_RELOAD_EXIT_CODE = 3
"""The exit code with which the watched child asks the reloader to start it again."""

RUN_MAIN_ENVIRONMENT_VARIABLE = 'PYSOA_RELOADER_RUN_MAIN'
WRAPPER_BINARY_ENVIRONMENT_VARIABLE = 'PYSOA_RELOADER_WRAPPER_BIN'

POLL_INTERVAL_SECONDS = 1.0
SHUTDOWN_GRACE_SECONDS = 6.5


def _say(message: str) -> None:
    # The reloader runs before (and around) the server's logging configuration, so it writes plainly.
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


def _clean_files(file_list: Iterable[str | None]) -> list[str]:
    """The existing source files among `file_list`, with compiled-file names mapped back to their sources."""
    file_names = []
    for file_name in file_list:
        if not file_name:
            continue
        if file_name.endswith(('.pyc', '.pyo')):
            file_name = file_name[:-1]
        elif file_name.endswith('$py.class'):
            # Jython's compiled files, as 1.x mapped them (`module.$py.class` -> `module.py`).
            file_name = file_name[: -len('$py.class')] + 'py'
        if os.path.exists(file_name):
            file_names.append(file_name)
    return file_names


class AbstractReloader(abc.ABC):
    """Runs the server under a supervising copy of the process and restarts it when watched files change.

    Subclasses decide how a change is noticed by implementing `code_changed`.
    """

    def __init__(self, main_module_name: str, watch_modules: Iterable[str] | None, signal_forks: bool = False) -> None:
        self.main_module_name = main_module_name
        prefixes = list(watch_modules or ())
        # Prefix match on purpose: `example` watches `example_service` and `example_library` alike.
        self.watch_modules: re.Pattern[str] | None = (
            re.compile('^(?:{})'.format('|'.join(re.escape(prefix) for prefix in prefixes))) if prefixes else None
        )
        self.signal_forks = signal_forks
        self.cached_modules: set[ModuleType] = set()
        self.cached_file_names: list[str] = []
        self.shutting_down_for_reload = False
        self._stopped = threading.Event()
        self._stopped.set()

    @property
    def watching(self) -> bool:
        """True while the watcher thread should keep watching; setting it False asks the thread to stop."""
        return not self._stopped.is_set()

    @watching.setter
    def watching(self, value: bool) -> None:
        if value:
            self._stopped.clear()
        else:
            self._stopped.set()

    def get_watch_file_names(self, only_new: bool = False) -> list[str]:
        """The source files of the loaded (and, if configured, matching) modules; with `only_new`, unseen ones only."""
        self.cached_file_names = _clean_files(self.cached_file_names)
        modules = {module for module in list(sys.modules.values()) if module is not None}
        new_modules = modules - self.cached_modules
        if not new_modules:
            return [] if only_new else self.cached_file_names
        self.cached_modules |= new_modules
        new_file_names = _clean_files(
            getattr(module, '__file__', None)
            for module in new_modules
            if self.watch_modules is None or self.watch_modules.match(getattr(module, '__name__', '') or '')
        )
        self.cached_file_names += new_file_names
        return new_file_names if only_new else self.cached_file_names

    @abc.abstractmethod
    def code_changed(self) -> bool:
        """Whether a watched file changed: either answers at once or blocks until a change (or a stop)."""

    def watch_files(self) -> None:
        """Watch until a change, then stop the server gracefully (signalling it again if it hangs) and return."""
        self.watching = True
        while self.watching:
            if self.code_changed():
                _say('File change detected; reloading server process')
                self.shutting_down_for_reload = True
                if self.signal_forks:
                    # The forking supervisor treats SIGHUP as "stop the workers"; the SIGTERM that follows
                    # within a second is taken as the same request, not as an escalation.
                    os.kill(os.getpid(), signal.SIGHUP)
                os.kill(os.getpid(), signal.SIGTERM)
                if not self._stopped.wait(SHUTDOWN_GRACE_SECONDS):
                    _say("Process took too long to stop after file change; signaling again (won't restart)")
                    os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(POLL_INTERVAL_SECONDS)

    def stop_watching(self) -> None:
        """Ask the watcher thread to stop (subclasses extend this to release what they hold)."""
        self.watching = False

    def _command(self) -> list[str]:
        wrapper = os.environ.get(WRAPPER_BINARY_ENVIRONMENT_VARIABLE)
        command = wrapper.split(' ') if wrapper else [sys.executable, *(f'-W{o}' for o in sys.warnoptions)]
        main_module_path = self.main_module_name.replace('.', '/') + '.py'
        if self.main_module_name and main_module_path in sys.argv[0]:
            # Started with `python -m`: sys.argv[0] is the module's file, which must not be run as a script.
            return command + ['-m', self.main_module_name] + sys.argv[1:]
        return command + sys.argv

    def restart_with_reloader(self) -> int:
        """Run the watched child until it exits with something other than `NEED_RELOAD_EXIT_CODE`; return that."""
        command = self._command()
        environment = dict(os.environ)
        environment[RUN_MAIN_ENVIRONMENT_VARIABLE] = 'true'
        state: dict[str, Any] = {'process': None, 'signals': 0}

        def forward(_signal_number: int, _frame: FrameType | None) -> None:
            # The first signal asks the child to stop gracefully; any later one kills it.
            state['signals'] += 1
            process = state['process']
            if process is not None:
                if state['signals'] == 1:
                    process.terminate()
                else:
                    process.kill()

        previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            for number in previous:
                signal.signal(number, forward)
            while True:
                state['process'] = process = subprocess.Popen(command, env=environment)
                if state['signals']:
                    process.terminate()
                exit_code: int = process.wait()
                state['process'] = None
                if exit_code != NEED_RELOAD_EXIT_CODE or state['signals']:
                    return exit_code
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def watch_and_reload(
        self, func: Callable[..., object], args: Sequence[object], kwargs: Mapping[str, object]
    ) -> None:
        """In the reloader, supervise the watched child; in the watched child, run `func` while watching files."""
        if os.environ.get(RUN_MAIN_ENVIRONMENT_VARIABLE) == 'true':
            watcher = threading.Thread(target=self.watch_files, name='pysoa-file-watcher', daemon=True)
            watcher.start()
            try:
                func(*args, **kwargs)
            except KeyboardInterrupt:
                pass
            except BaseException:
                self.stop_watching()
                raise
            self.stop_watching()
            sys.exit(NEED_RELOAD_EXIT_CODE if self.shutting_down_for_reload else 0)
        else:
            try:
                exit_code = self.restart_with_reloader()
            except KeyboardInterrupt:
                return
            if exit_code < 0:
                # The child died of signal N: die of the same signal, so our own parent sees the truth.
                os.kill(os.getpid(), -exit_code)
            else:
                sys.exit(exit_code)

    def main(
        self,
        func: Callable[..., object],
        args: Sequence[object] | None = None,
        kwargs: Mapping[str, object] | None = None,
    ) -> None:
        """Run `func(*args, **kwargs)` under the reloader: the entry point for users of a reloader."""
        self.watch_and_reload(func, tuple(args) if args is not None else (), dict(kwargs) if kwargs is not None else {})


class _PollingReloader(AbstractReloader):
    """Notices changes by comparing modification times on each call; works everywhere."""

    def __init__(self, main_module_name: str, watch_modules: Iterable[str] | None, signal_forks: bool = False) -> None:
        super().__init__(main_module_name, watch_modules, signal_forks)
        self.modified_times: dict[str, int] = {}

    def code_changed(self) -> bool:
        """True when a watched file's modification time differs from the one seen on an earlier call."""
        for file_name in self.get_watch_file_names():
            try:
                modified = os.stat(file_name).st_mtime_ns
            except OSError:
                modified = -1  # a vanished file is a change too
            known = self.modified_times.setdefault(file_name, modified)
            if known != modified:
                self.modified_times = {}
                return True
        return False


_IN_MODIFY = 0x00000002
_IN_ATTRIB = 0x00000004
_IN_MOVED_FROM = 0x00000040
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_DELETE = 0x00000200
_IN_DELETE_SELF = 0x00000400
_IN_MOVE_SELF = 0x00000800
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_WATCH_MASK = (
    _IN_MODIFY | _IN_ATTRIB | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF
)


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


_libc = _load_libc()


def _inotify() -> ctypes.CDLL:
    # Only the inotify reloader calls this, and `get_reloader` picks that one only when libc offers inotify.
    if _libc is None:
        raise OSError(errno.ENOSYS, 'inotify is not available')
    return _libc


def _inotify_works() -> bool:
    if _libc is None:
        return False
    fd = _libc.inotify_init1(_IN_CLOEXEC)
    if fd < 0:
        return False
    os.close(fd)
    return True


USE_PY_INOTIFY = _inotify_works()
"""Whether `get_reloader` uses kernel change notifications (Linux inotify) rather than polling."""


class _PyInotifyReloader(AbstractReloader):
    """Blocks on Linux inotify until a watched file changes (or watching stops); no polling delay."""

    def __init__(self, main_module_name: str, watch_modules: Iterable[str] | None, signal_forks: bool = False) -> None:
        super().__init__(main_module_name, watch_modules, signal_forks)
        self._wake_pipe: tuple[int, int] | None = None

    def _get_wake_pipe(self) -> tuple[int, int]:
        if self._wake_pipe is None:
            read_end, write_end = os.pipe()
            os.set_blocking(read_end, False)
            os.set_blocking(write_end, False)
            self._wake_pipe = (read_end, write_end)
        return self._wake_pipe

    def _add_watches(self, inotify_fd: int, file_names: Iterable[str]) -> None:
        for file_name in file_names:
            if _inotify().inotify_add_watch(inotify_fd, os.fsencode(file_name), _WATCH_MASK) < 0:
                error = ctypes.get_errno()
                if error != errno.ENOENT:  # a file gone meanwhile is noticed by the next call
                    _say(f'Cannot watch {file_name}: {os.strerror(error)}')

    def code_changed(self) -> bool:
        """Block until a watched file changes (True) or `stop_watching` is called (False)."""
        wake_read, _ = self._get_wake_pipe()
        inotify_fd = _inotify().inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if inotify_fd < 0:
            raise OSError(ctypes.get_errno(), 'inotify_init1 failed')
        try:
            self._add_watches(inotify_fd, self.get_watch_file_names())
            while self.watching:
                readable, _, _ = select.select([inotify_fd, wake_read], [], [], POLL_INTERVAL_SECONDS)
                if inotify_fd in readable:
                    return True
                if readable:
                    _drain(wake_read)
                    return False
                # Modules imported since we started watching get watched too.
                self._add_watches(inotify_fd, self.get_watch_file_names(only_new=True))
            return False
        finally:
            os.close(inotify_fd)

    def stop_watching(self) -> None:
        """Stop watching and wake a `code_changed` call blocked on the kernel."""
        super().stop_watching()
        if self._wake_pipe is not None:
            try:
                os.write(self._wake_pipe[1], b'x')
            except BlockingIOError:
                pass  # a wake-up is already pending


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def get_reloader(
    main_module_name: str,
    watch_modules: Iterable[str] | None,
    signal_forks: bool = False,
) -> AbstractReloader:
    """The best reloader available here; call `main(func, args, kwargs)` on it.

    `main_module_name` is the module given to `python -m` ('' when started otherwise); `watch_modules`
    limits watching to modules whose names start with one of these prefixes (None watches every loaded
    module); `signal_forks` tells the watcher that the server process supervises forked workers.
    """
    if USE_PY_INOTIFY:
        return _PyInotifyReloader(main_module_name, watch_modules, signal_forks)
    return _PollingReloader(main_module_name, watch_modules, signal_forks)
