"""The file-watching reloader behind `--use-file-watcher`, piece by piece (test_process_reload.py runs it whole)."""

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import pysoa
import pysoa.client
import pysoa.server
import pysoa.server.autoreload
import pysoa.version
from pysoa.server.autoreload import (
    NEED_RELOAD_EXIT_CODE,
    AbstractReloader,
    _clean_files,
    _PollingReloader,
    _PyInotifyReloader,
    get_reloader,
)


class ScriptedReloader(AbstractReloader):
    """`code_changed` answers `changed`, and may stop the watching as a side effect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed = False
        self.stop_on_check = True
        self.checks = 0

    def code_changed(self) -> bool:
        self.checks += 1
        assert self.watching
        if self.stop_on_check:
            self.watching = False
        return self.changed


@pytest.fixture
def received_signals() -> Iterator[list[int]]:
    received: list[int] = []
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    for number in saved:
        signal.signal(number, lambda number, _frame: received.append(number))
    try:
        yield received
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def test_clean_files_maps_compiled_names_to_sources_and_drops_missing_files() -> None:
    version_file = pysoa.version.__file__
    names = [
        '/no/such/file.py',
        pysoa.__file__,
        pysoa.client.__file__ + 'c',
        pysoa.server.__file__[:-2] + '$py.class',
        '',
        None,
        version_file + 'o',
    ]
    assert _clean_files(names) == [pysoa.__file__, pysoa.client.__file__, pysoa.server.__file__, version_file]


def test_get_reloader_prefers_inotify_when_available() -> None:
    reloader = get_reloader('example_service.standalone', ['example', 'pysoa'])
    assert isinstance(reloader, _PyInotifyReloader if pysoa.server.autoreload.USE_PY_INOTIFY else _PollingReloader)
    assert reloader.main_module_name == 'example_service.standalone'
    assert reloader.signal_forks is False

    with mock.patch.object(pysoa.server.autoreload, 'USE_PY_INOTIFY', False):
        reloader = get_reloader('example_service.standalone', [], signal_forks=True)
    assert isinstance(reloader, _PollingReloader)
    assert reloader.watch_modules is None
    assert reloader.signal_forks is True


def test_an_abstract_reloader_cannot_be_built() -> None:
    with pytest.raises(TypeError):
        AbstractReloader('example_service', None)  # type: ignore[abstract]


def test_watch_modules_are_name_prefixes() -> None:
    reloader = ScriptedReloader('example_service.server', ['example', 'pysoa', 'django'])
    assert reloader.watch_modules is not None
    for name in ('example_service', 'example_service.models', 'example_library', 'pysoa.server', 'django.conf'):
        assert reloader.watch_modules.match(name), name
    assert not reloader.watch_modules.match('another_library.pysoa')
    assert ScriptedReloader('x', None).watch_modules is None
    assert ScriptedReloader('x', []).watch_modules is None


def test_watched_file_names_follow_the_loaded_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'reload_probe_module.py').write_text('VALUE = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    reloader = ScriptedReloader('x', ['pysoa.version', 'pysoa.server.autoreload', 'reload_probe_module'])

    expected = {pysoa.version.__file__, pysoa.server.autoreload.__file__}
    assert set(reloader.get_watch_file_names(only_new=True)) == expected
    assert set(reloader.get_watch_file_names()) == expected
    assert reloader.get_watch_file_names(only_new=True) == []

    try:
        import reload_probe_module  # type: ignore[import-not-found]  # noqa: F401  # for its effect on sys.modules

        assert reloader.get_watch_file_names(only_new=True) == [str(tmp_path / 'reload_probe_module.py')]
        assert len(reloader.get_watch_file_names()) == 3
    finally:
        sys.modules.pop('reload_probe_module', None)


def test_watch_files_polls_once_a_second_until_stopped(received_signals: list[int]) -> None:
    reloader = ScriptedReloader('x', ['pysoa'])
    started = time.monotonic()
    reloader.watch_files()
    assert 0.9 < time.monotonic() - started < 1.5
    assert reloader.checks == 1
    assert not reloader.shutting_down_for_reload
    assert received_signals == []


def test_a_change_sends_sigterm_and_waits_for_the_server_to_stop(received_signals: list[int]) -> None:
    reloader = ScriptedReloader('x', ['pysoa'])
    reloader.changed = True
    started = time.monotonic()
    reloader.watch_files()
    assert time.monotonic() - started < 0.5
    assert reloader.shutting_down_for_reload
    assert received_signals == [signal.SIGTERM]


def test_a_change_with_forked_workers_sends_sighup_then_sigterm(received_signals: list[int]) -> None:
    reloader = ScriptedReloader('x', ['pysoa'], signal_forks=True)
    reloader.changed = True
    reloader.watch_files()
    assert received_signals == [signal.SIGHUP, signal.SIGTERM]


def test_a_server_that_does_not_stop_gets_a_second_sigterm(
    received_signals: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pysoa.server.autoreload, 'SHUTDOWN_GRACE_SECONDS', 0.2)
    reloader = ScriptedReloader('x', ['pysoa'])
    reloader.changed = True
    reloader.stop_on_check = False  # the server never reports that it stopped
    reloader.watch_files()
    assert received_signals == [signal.SIGTERM, signal.SIGTERM]
    assert reloader.watching


def test_the_stop_of_the_server_ends_the_grace_wait_early(received_signals: list[int]) -> None:
    reloader = ScriptedReloader('x', ['pysoa'])
    reloader.changed = True
    reloader.stop_on_check = False
    timer = threading.Timer(0.2, reloader.stop_watching)
    timer.start()
    started = time.monotonic()
    reloader.watch_files()
    timer.join()
    assert 0.15 < time.monotonic() - started < 2.0
    assert received_signals == [signal.SIGTERM]


@pytest.fixture
def argv0() -> Iterator[None]:
    saved = list(sys.argv)
    try:
        yield
    finally:
        sys.argv[:] = saved


def test_restart_reruns_a_module_until_it_exits_without_asking_for_a_reload(
    argv0: None, received_signals: list[int]
) -> None:
    sys.argv[:] = ['/srv/project/example_service/standalone.py', '-s', 'settings', '--fork', '2']
    codes = iter([NEED_RELOAD_EXIT_CODE, NEED_RELOAD_EXIT_CODE, 52])
    with mock.patch('pysoa.server.autoreload.subprocess') as subprocess_module:
        subprocess_module.Popen.return_value.wait.side_effect = lambda: next(codes)
        assert ScriptedReloader('example_service.standalone', ['pysoa']).restart_with_reloader() == 52

    assert subprocess_module.Popen.call_count == 3
    for call in subprocess_module.Popen.call_args_list:
        assert call.args[0] == [sys.executable, '-m', 'example_service.standalone', '-s', 'settings', '--fork', '2']
        environment = dict(call.kwargs['env'])
        assert environment.pop('PYSOA_RELOADER_RUN_MAIN') == 'true'
        assert environment == dict(os.environ)
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # our test handler is back


def test_restart_uses_the_wrapper_binary_and_forwards_a_signal_to_the_child(argv0: None) -> None:
    sys.argv[:] = ['/srv/bin/example-service', '-s', 'settings']

    def wait() -> int:
        os.kill(os.getpid(), signal.SIGTERM)  # forwarded to the child instead of ending us
        return -signal.SIGTERM

    with (
        mock.patch('pysoa.server.autoreload.subprocess') as subprocess_module,
        mock.patch.dict(os.environ, {'PYSOA_RELOADER_WRAPPER_BIN': 'coverage run --append'}),
    ):
        subprocess_module.Popen.return_value.wait.side_effect = wait
        assert ScriptedReloader('example_service.standalone', None).restart_with_reloader() == -signal.SIGTERM

    subprocess_module.Popen.assert_called_once()
    assert subprocess_module.Popen.call_args.args[0] == ['coverage', 'run', '--append', *sys.argv]
    subprocess_module.Popen.return_value.terminate.assert_called_once_with()


def test_the_reloader_exits_like_its_child() -> None:
    reloader = ScriptedReloader('x', None)
    function = mock.MagicMock()
    with (
        mock.patch.dict(os.environ, {}, clear=False) as environment,
        mock.patch.object(reloader, 'restart_with_reloader', return_value=15),
    ):
        environment.pop('PYSOA_RELOADER_RUN_MAIN', None)
        with pytest.raises(SystemExit) as caught:
            reloader.main(function, ('a',), {'b': 'c'})
    assert caught.value.code == 15
    assert not function.called

    with (
        mock.patch.dict(os.environ, {}, clear=False) as environment,
        mock.patch.object(reloader, 'restart_with_reloader', return_value=-21),
        mock.patch('pysoa.server.autoreload.os.kill') as kill,
    ):
        environment.pop('PYSOA_RELOADER_RUN_MAIN', None)
        reloader.main(function)
    kill.assert_called_once_with(os.getpid(), 21)


@pytest.mark.parametrize(('reload', 'expected_code'), [(False, 0), (True, NEED_RELOAD_EXIT_CODE)])
def test_the_watched_child_runs_the_function_and_exits_with_the_reload_code(reload: bool, expected_code: int) -> None:
    reloader = ScriptedReloader('x', None)
    seen: list[tuple[Any, ...]] = []

    def serve(*args: Any, **kwargs: Any) -> None:
        seen.append((args, kwargs))
        reloader.shutting_down_for_reload = reload

    with (
        mock.patch.dict(os.environ, {'PYSOA_RELOADER_RUN_MAIN': 'true'}),
        mock.patch.object(reloader, 'watch_files') as watch_files,
        mock.patch.object(reloader, 'stop_watching') as stop_watching,
    ):
        with pytest.raises(SystemExit) as caught:
            reloader.main(serve, ('a',), {'b': 'c'})
    assert caught.value.code == expected_code
    assert seen == [(('a',), {'b': 'c'})]
    watch_files.assert_called_once_with()
    stop_watching.assert_called_once_with()


def test_an_exception_in_the_watched_child_propagates() -> None:
    reloader = ScriptedReloader('x', None)
    with (
        mock.patch.dict(os.environ, {'PYSOA_RELOADER_RUN_MAIN': 'true'}),
        mock.patch.object(reloader, 'watch_files'),
        mock.patch.object(reloader, 'stop_watching') as stop_watching,
    ):
        with pytest.raises(ZeroDivisionError):
            reloader.main(lambda: 1 / 0)
    stop_watching.assert_called_once_with()


def _touch(path: Path, content: str, mtime: float) -> None:
    path.write_text(content)
    os.utime(path, (mtime, mtime))


def test_the_polling_reloader_notices_modification_times(tmp_path: Path) -> None:
    first, second = tmp_path / 'first.py', tmp_path / 'second.py'
    _touch(first, 'a = 1', 1_000_000)
    _touch(second, 'b = 1', 1_000_000)
    reloader = _PollingReloader('x', ['pysoa'])
    with mock.patch.object(reloader, 'get_watch_file_names', return_value=[str(first), str(second)]):
        assert reloader.code_changed() is False
        assert reloader.code_changed() is False
        _touch(first, 'a = 2', 1_000_010)
        assert reloader.code_changed() is True
        assert reloader.code_changed() is False
        _touch(second, 'b = 2', 1_000_020)
        assert reloader.code_changed() is True
        second.unlink()
        assert reloader.code_changed() is False  # the first call after a change only takes note
        with mock.patch.object(reloader, 'get_watch_file_names', return_value=[str(first)]):
            assert reloader.code_changed() is False


@pytest.mark.skipif(not pysoa.server.autoreload.USE_PY_INOTIFY, reason='needs Linux inotify')
def test_the_inotify_reloader_blocks_until_a_file_changes_or_watching_stops(tmp_path: Path) -> None:
    watched = tmp_path / 'watched.py'
    watched.write_text('a = 1')
    reloader = _PyInotifyReloader('x', ['pysoa'])
    reloader.watching = True
    results: list[bool] = []

    def check() -> threading.Thread:
        thread = threading.Thread(target=lambda: results.append(reloader.code_changed()))
        thread.start()
        thread.join(0.3)
        assert thread.is_alive(), 'code_changed returned before anything changed'
        return thread

    with mock.patch.object(reloader, 'get_watch_file_names', return_value=[str(watched)]):
        thread = check()
        with watched.open('a') as handle:
            handle.write('\nb = 2')
        thread.join(5)
        assert results == [True]

        thread = check()
        reloader.stop_watching()
        thread.join(5)
        assert results == [True, False]
