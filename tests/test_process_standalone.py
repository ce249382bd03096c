"""The command line of `simple_main`: the double-import trap, running in-process, forking, respawning, the watcher.

Processes are replaced by mocks here; tests/test_process_*.py run real workers over Redis.
"""

import datetime
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from unittest import mock

import freezegun
import pytest

import pysoa.server
from pysoa.server.forking import RespawnPolicy


def _forget_standalone() -> None:
    sys.modules.pop('pysoa.server.standalone', None)
    if hasattr(pysoa.server, 'standalone'):
        delattr(pysoa.server, 'standalone')


def _import_standalone(interpreter_arguments: list[str], path_0: str) -> ModuleType:
    _forget_standalone()
    previous = sys.path[0]
    sys.path[0] = path_0
    try:
        with mock.patch('pysoa.utils.get_python_interpreter_arguments', return_value=interpreter_arguments):
            return importlib.import_module('pysoa.server.standalone')
    finally:
        sys.path[0] = previous


@pytest.fixture
def standalone() -> Iterator[ModuleType]:
    """The module, imported as under `python -m`; forgotten afterwards so that other imports start afresh."""
    try:
        yield _import_standalone(['python', '-m', 'service_module'], '/srv/project')
    finally:
        _forget_standalone()


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


@pytest.fixture
def argv() -> Iterator[list[str]]:
    saved = sys.argv
    sys.argv = ['/srv/project/example_service/standalone.py']
    try:
        yield sys.argv
    finally:
        sys.argv = saved


def test_running_a_script_by_path_triggers_the_double_import_trap() -> None:
    try:
        with pytest.raises(SystemExit) as caught:
            _import_standalone(['python', '/srv/project/example_service/standalone.py'], '/srv/project/example_service')
        assert caught.value.code == 99
    finally:
        _forget_standalone()


@pytest.mark.parametrize(
    ('arguments', 'path_0'),
    [
        (['python', '-m', 'example_service'], '/srv/project'),
        (['python', '-c', 'import example_service'], ''),
        (['/venv/bin/python', '/venv/bin/example-service'], '/venv/bin'),
        (['/venv/bin/python', '/venv/bin/pytest'], '/srv/project/tests'),
    ],
)
def test_modules_and_entry_points_do_not_trigger_the_trap(arguments: list[str], path_0: str) -> None:
    try:
        assert _import_standalone(arguments, path_0).simple_main is not None
    finally:
        _forget_standalone()


def test_without_arguments_the_server_runs_in_this_process(standalone: ModuleType, argv: list[str]) -> None:
    server_getter = mock.MagicMock()
    argv += ['-s', 'example_service.settings']

    standalone.simple_main(server_getter)

    server_getter.assert_called_once_with()
    server_getter.return_value.main.assert_called_once_with()


@pytest.mark.parametrize(
    ('extra', 'watched', 'forks'),
    [
        (['--use-file-watcher'], None, 0),
        (['--use-file-watcher', 'example,pysoa, conformity'], ['example', 'pysoa', 'conformity'], 0),
        (['--use-file-watcher', '-f', '5'], None, 5),
        (['--use-file-watcher', 'pysoa', '--fork', '5'], ['pysoa'], 5),
    ],
)
def test_the_file_watcher_wraps_the_runner(
    standalone: ModuleType, argv: list[str], extra: list[str], watched: list[str] | None, forks: int
) -> None:
    server_getter = mock.MagicMock()
    argv += extra

    with mock.patch('pysoa.server.autoreload.get_reloader') as get_reloader:
        standalone.simple_main(server_getter)

    assert server_getter.return_value.main.called is False
    (module_name, watch_modules), kwargs = get_reloader.call_args
    assert module_name in ('', 'pytest', 'pytest.__main__')
    assert watch_modules == watched
    assert kwargs == {'signal_forks': forks > 1}
    (function, (args, server_class)), _ = get_reloader.return_value.main.call_args
    assert args.fork_processes == forks
    assert server_class is server_getter.return_value
    assert function is standalone._run_server


@pytest.mark.parametrize(('cpus', 'expected'), [(2, 10), (1, 5)])
def test_forking_starts_one_worker_per_fork_capped_at_five_per_cpu(
    standalone: ModuleType, argv: list[str], restore_signals: None, cpus: int, expected: int
) -> None:
    server_getter = mock.MagicMock()
    argv += ['-f', '10', '--no-respawn']
    processes = [mock.MagicMock() for _ in range(expected)]

    with (
        mock.patch('multiprocessing.cpu_count', return_value=cpus),
        mock.patch('multiprocessing.Process', side_effect=processes) as process_class,
    ):
        standalone.simple_main(server_getter)

    server_class = server_getter.return_value
    server_class.pre_fork.assert_called_once_with()
    assert server_class.main.called is False  # only the workers run it
    calls = sorted(process_class.call_args_list, key=lambda c: c.kwargs['args'])
    assert [c.kwargs for c in calls] == [
        {'target': server_class.main, 'name': f'pysoa-worker-{i}', 'args': (i,)} for i in range(1, expected + 1)
    ]
    for process in processes:
        process.start.assert_called_once_with()
        process.join.assert_called_once_with()
        assert process.terminate.called is False  # --no-respawn: a dead worker just stays dead


def test_respawn_policy_gives_up_after_three_respawns_in_15_seconds_or_eight_in_60() -> None:
    policy = RespawnPolicy()
    assert [policy.refusal(t) for t in (0.0, 1.0, 2.0)] == [None, None, None]
    assert policy.refusal(3.0) is not None and '15 seconds' in (policy.refusal(3.0) or '')
    assert policy.refusal(15.5) is None  # the oldest of the last three is now 15.5 s old

    policy = RespawnPolicy()
    assert [policy.refusal(6.0 * i) for i in range(1, 9)] == [None] * 8
    refusal = policy.refusal(54.0)
    assert refusal is not None and '60 seconds' in refusal
    assert policy.refusal(67.0) is None


class _Monitors:
    """The worker monitor threads, as each first asks for a process: a test can wait for one to be done."""

    def __init__(self) -> None:
        self.threads: dict[int, threading.Thread] = {}
        self.seen = {index: threading.Event() for index in (1, 2, 3)}

    def saw(self, index: int) -> None:
        self.threads.setdefault(index, threading.current_thread())
        self.seen[index].set()

    def join(self, *indexes: int) -> None:
        """Wait until the monitors of these worker slots are done (the policy gave up on them)."""
        for index in indexes:
            assert self.seen[index].wait(timeout=10)
            self.threads[index].join(timeout=10)
            assert not self.threads[index].is_alive()


def test_crashing_workers_are_respawned_until_the_policy_gives_up_and_a_signal_stops_the_rest(
    standalone: ModuleType, argv: list[str], restore_signals: None
) -> None:
    """Worker 1 lives (its joins advance the clock 20 s), worker 2 dies at once, worker 3 every 6 s."""
    server_getter = mock.MagicMock()
    argv += ['-f', '3']
    created: dict[int, list[mock.MagicMock]] = {1: [], 2: [], 3: []}
    monitors = _Monitors()

    freezer = freezegun.freeze_time()
    # Monitor threads must see the frozen clock too (freezegun ignores calls made under `threading` by default).
    freezer.ignore = tuple(set(freezer.ignore) - {'threading'})
    with freezer as frozen:

        def make_process(target: object, name: str, args: tuple[int]) -> mock.MagicMock:
            index = args[0]
            process = mock.MagicMock(name=name)
            created[index].append(process)
            monitors.saw(index)
            if index == 1:
                if len(created[1]) == 1:
                    monitors.join(2, 3)  # workers 2 and 3 exhaust their respawns first
                if len(created[1]) < 5:
                    process.join.side_effect = lambda: frozen.tick(datetime.timedelta(seconds=20))
                else:
                    # The handler runs in the main thread and terminates this process; its join returns after that.
                    terminated = threading.Event()
                    process.terminate.side_effect = lambda: terminated.set()

                    def stop_everything() -> None:
                        os.kill(os.getpid(), signal.SIGTERM)
                        assert terminated.wait(timeout=10)

                    process.join.side_effect = stop_everything
            elif index == 3:
                if len(created[3]) == 1:
                    monitors.join(2)  # after worker 2's quick deaths
                process.join.side_effect = lambda: frozen.tick(datetime.timedelta(seconds=6))
            return process

        with (
            mock.patch('multiprocessing.cpu_count', return_value=2),
            mock.patch('multiprocessing.Process', side_effect=make_process),
        ):
            standalone.simple_main(server_getter)

    assert len(created[2]) == 4  # 3 respawns within 15 s, then given up
    assert len(created[3]) == 9  # 8 respawns within 60 s, then given up
    assert len(created[1]) == 5  # 20 s apart: respawned until the signal came
    for processes in created.values():
        for process in processes:
            process.start.assert_called_once_with()
            process.join.assert_called_once_with()
    terminated = [p for processes in created.values() for p in processes if p.terminate.called]
    assert terminated == [created[1][-1]]  # only the one alive when the signal came
    created[1][-1].terminate.assert_called_once_with()


def test_django_main_needs_a_settings_module(standalone: ModuleType, argv: list[str]) -> None:
    with mock.patch.dict(os.environ, clear=False) as environment:
        environment.pop('DJANGO_SETTINGS_MODULE', None)
        with pytest.raises(SystemExit) as caught:
            standalone.django_main(mock.MagicMock())
    assert caught.value.code == 2  # argparse: -s/--settings is required


def test_a_worker_that_cannot_be_started_counts_as_a_crash(
    standalone: ModuleType, argv: list[str], restore_signals: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv += ['--fork', '2']

    with (
        mock.patch('multiprocessing.cpu_count', return_value=2),
        mock.patch('multiprocessing.Process', side_effect=OSError('fork failed')),
    ):
        with pytest.raises(SystemExit) as exit_info:  # it would never return if failed starts were retried forever
            standalone.simple_main(mock.MagicMock())

    assert exit_info.value.code == 1  # no worker left, and nobody asked for that: the parent reports a failure
    output = capsys.readouterr().out
    for index in (1, 2):
        assert output.count(f'Server process #{index} could not be started') == 4  # then 3 respawns in 15 s
        assert f'Server process #{index} not respawned: it has crashed too many times (3)' in output
