"""ShutdownSignalHandler: the first SIGINT/SIGTERM asks for a graceful stop, a second one always forces the exit."""

import logging
import signal
import subprocess
import sys
import textwrap
import types

import pytest

from pysoa.server import signals as signals_module
from pysoa.server.signals import ShutdownSignalHandler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(signals_module, 'time', types.SimpleNamespace(monotonic=clock.monotonic))
    return clock


def make_handler() -> tuple[ShutdownSignalHandler, list[str]]:
    requests: list[str] = []
    return ShutdownSignalHandler(lambda: requests.append('shutdown'), logging.getLogger('test.signals')), requests


@pytest.mark.parametrize('signal_number', [signal.SIGTERM, signal.SIGINT])
def test_first_signal_requests_shutdown_and_the_same_signal_again_forces_exit(
    clock: Clock, signal_number: signal.Signals
) -> None:
    handler, requests = make_handler()

    handler.handle(signal_number, None)
    assert requests == ['shutdown'] and handler.received

    clock.now += 0.001
    with pytest.raises(SystemExit) as exiting:
        handler.handle(signal_number, None)
    assert exiting.value.code == 1
    assert requests == ['shutdown']


def test_a_different_signal_right_after_the_first_is_a_duplicate_but_only_once(clock: Clock) -> None:
    handler, requests = make_handler()

    handler.handle(signal.SIGINT, None)
    clock.now += 0.01
    handler.handle(signal.SIGTERM, None)  # Ctrl+C: SIGINT from the terminal, SIGTERM forwarded by the supervisor
    assert requests == ['shutdown']

    clock.now += 0.01
    with pytest.raises(SystemExit):
        handler.handle(signal.SIGINT, None)


def test_a_different_signal_a_second_later_forces_exit(clock: Clock) -> None:
    handler, _ = make_handler()

    handler.handle(signal.SIGINT, None)
    clock.now += 1.5
    with pytest.raises(SystemExit):
        handler.handle(signal.SIGTERM, None)


def test_a_signal_arriving_while_the_handler_runs_is_not_dropped(clock: Clock) -> None:
    handler: ShutdownSignalHandler | None = None

    def request_shutdown() -> None:
        # Python runs a signal that arrives during a handler as a nested call of the handler.
        assert handler is not None
        handler.handle(signal.SIGTERM, None)

    handler = ShutdownSignalHandler(request_shutdown, logging.getLogger('test.signals'))

    with pytest.raises(SystemExit):
        handler.handle(signal.SIGTERM, None)


NESTED_SIGNAL_SCRIPT = textwrap.dedent(
    """
    import logging, os, signal
    from pysoa.server.signals import ShutdownSignalHandler

    class SignalAgainWhileLogging(logging.Handler):
        fired = False

        def emit(self, record):
            print(record.getMessage(), flush=True)
            if not self.fired:
                self.fired = True
                # Delivered before kill returns, so it interrupts the handler of the first signal.
                os.kill(os.getpid(), signal.SIGTERM)

    logger = logging.getLogger('worker')
    logger.addHandler(SignalAgainWhileLogging())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = ShutdownSignalHandler(lambda: print('shutdown requested', flush=True), logger)
    handler.install()
    os.kill(os.getpid(), signal.SIGTERM)
    print('still running', flush=True)
    """
)


def test_a_real_second_sigterm_during_the_handler_forces_the_exit() -> None:
    result = subprocess.run(
        [sys.executable, '-c', NESTED_SIGNAL_SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert 'shutdown requested' in result.stdout
    assert 'forcing shutdown' in result.stdout
    assert 'still running' not in result.stdout


def test_install_and_restore_put_the_previous_handlers_back() -> None:
    handler, _ = make_handler()
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    handler.install()
    try:
        assert signal.getsignal(signal.SIGTERM) == handler.handle
        assert signal.getsignal(signal.SIGINT) == handler.handle
    finally:
        handler.restore()

    assert {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)} == before
