"""The pre-forked worker pool behind `--fork N`: start N server processes, respawn crashed ones, stop them all.

The parent process never serves requests. One monitor thread per worker starts the worker process,
waits for it, and respawns it when it dies, unless the pool is stopping, respawning is off, or
the worker keeps crashing (`RespawnPolicy`; a worker that exits with status 0 was asked to stop, one that exits
with status 3 was stopped by harakiri: their respawn is neither a crash nor counted as one). When the slots end
without a stop signal and a worker had failed, the parent exits 1 (`pysoa.server.exit_status`). The parent's main
thread only handles signals and waits for the monitors:

- the first SIGINT, SIGTERM or SIGHUP asks every worker to stop gracefully (SIGTERM) and stops respawning;
- a different signal within a second of the previous one is a duplicate (Ctrl+C reaches the parent and its
  workers at once; the file watcher sends SIGHUP then SIGTERM) and is ignored;
- a second signal is forwarded again (a worker exits at once on a second signal); workers still alive
  5 seconds later, or at a third signal, are killed.
"""

import collections
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Protocol

from pysoa.server.exit_status import FAILURE_EXIT_STATUS, HARAKIRI_EXIT_STATUS, STOPPED_EXIT_STATUS

__all__ = ('RespawnPolicy', 'WorkerPool', 'cap_worker_count', 'use_fork_start_method')

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DUPLICATE_SIGNAL_WINDOW_SECONDS = 1.0
WORKERS_PER_CPU_LIMIT = 5
FORCED_EXIT_GRACE_SECONDS = 5.0


class ForkableServer(Protocol):
    """What the pool needs from a server class: a hook run once before forking, and the worker entry point."""

    @classmethod
    def pre_fork(cls) -> None:
        """Called once in the parent before the first worker is forked."""

    @classmethod
    def main(cls, forked_process_id: int | None = None) -> None:
        """Run one server process (the body of each worker)."""


# Forking while another thread holds a lock (stdout's, say) leaves that lock held forever in the child, so
# the parent's threads never write while one of them forks.
_fork_lock = threading.Lock()


def _say(message: str) -> None:
    # The parent has no logging configuration of its own (workers configure logging), so it writes plainly.
    with _fork_lock:
        sys.stdout.write(message + '\n')
        sys.stdout.flush()


def use_fork_start_method() -> None:
    """Make workers plain forks of the parent (unless the program chose a start method itself).

    Forking is what `Server.pre_fork` is for: workers inherit what the parent prepared. Newer Pythons
    default to other start methods, which would re-import the service in each worker instead.
    """
    if multiprocessing.get_start_method(allow_none=True) is None and 'fork' in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method('fork')


def cap_worker_count(requested: int) -> int:
    """`requested`, capped at five workers per CPU (with a warning), as more only adds contention."""
    cpu_count = multiprocessing.cpu_count()
    limit = cpu_count * WORKERS_PER_CPU_LIMIT
    if requested > limit:
        _say(
            f'WARNING: Number of requested process forks ({requested}) is greater than five times the number of CPU '
            f'cores available ({cpu_count} cores). Capping number of forks at {limit}.'
        )
        return limit
    return requested


class RespawnPolicy:
    """Decides whether a crashed worker may be respawned: not after 3 respawns in 15 s, nor after 8 in 60 s."""

    def __init__(self, limits: Sequence[tuple[int, float]] = ((3, 15.0), (8, 60.0))) -> None:
        self._windows = [(collections.deque[float](maxlen=count), seconds) for count, seconds in limits]

    def refusal(self, now: float) -> str | None:
        """None (and the respawn is recorded) when a respawn at `now` is allowed, else the reason it is not."""
        for respawns, seconds in self._windows:
            if len(respawns) == respawns.maxlen and now - respawns[0] < seconds:
                return f'it has crashed too many times ({respawns.maxlen}) in the last {seconds:g} seconds'
        for respawns, _ in self._windows:
            respawns.append(now)
        return None


class _WorkerMonitor(threading.Thread):
    """Starts one worker slot's process, waits for it, and respawns it as the policy allows."""

    def __init__(self, pool: 'WorkerPool', index: int) -> None:
        super().__init__(name=f'pysoa-worker-monitor-{index}', daemon=True)
        self.pool = pool
        self.index = index
        self.policy = RespawnPolicy()
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._delivered_level = 0
        self.failed = False
        """Whether this slot's last worker ended other than by a stop request (and so the slot may be empty)."""

    def deliver(self, level: int) -> None:
        """Bring the current process up to stop `level` (1, 2: SIGTERM; 3 and more: SIGKILL), once per level."""
        with self._lock:
            process = self._process
            if process is None or self._delivered_level >= level:
                return
            self._delivered_level = level
            if level >= 3:
                process.kill()
                return
            process.terminate()
        if level == 2:
            # A worker that misses or ignores the second SIGTERM (stuck in C code, say) is killed a little later.
            timer = threading.Timer(FORCED_EXIT_GRACE_SECONDS, self.deliver, args=(3,))
            timer.daemon = True
            timer.start()

    def _start_process(self) -> BaseProcess:
        # `multiprocessing.Process` is looked up at call time on purpose: it is the seam tests replace.
        process = multiprocessing.Process(
            target=self.pool.target,
            name=f'pysoa-worker-{self.index}',
            args=(self.index,),
        )
        with _fork_lock:
            process.start()
        with self._lock:
            self._process, self._delivered_level = process, 0
        if self.pool.stop_level:
            self.deliver(self.pool.stop_level)  # a stop signal came while this worker was being started
        return process

    def run(self) -> None:
        """Keep this worker slot filled until the pool stops, respawning is off, or the policy gives up."""
        while not self.pool.stop_level:
            try:
                process = self._start_process()
            except Exception as error:
                _say(f'Server process #{self.index} could not be started: {error!r}')
                self.failed = True
            else:
                process.join()
                with self._lock:
                    self._process = None
                if self.pool.stop_level:
                    return
                code = process.exitcode
                _say(f'Server process #{self.index} (pid {process.pid}) exited with code {code}')
                # Only a known status counts as a failure (1.x tests drive this loop with mock processes, whose
                # exit code is no number; respawning treats them as crashes, as 1.x did, but they fail nothing).
                self.failed = isinstance(code, int) and code != STOPPED_EXIT_STATUS
                if code in (STOPPED_EXIT_STATUS, HARAKIRI_EXIT_STATUS):
                    # Asked to stop (a SIGTERM of its own), or harakiri ended a stuck job: not a crash of the code,
                    # so not counted as one.
                    if not self.pool.respawn:
                        return
                    how = 'exited cleanly' if code == STOPPED_EXIT_STATUS else 'was stopped by harakiri'
                    _say(f'Re-spawning server process #{self.index}, which {how}')
                    continue
            if not self.pool.respawn:
                return
            refusal = self.policy.refusal(time.monotonic())
            if refusal:
                _say(f'Server process #{self.index} not respawned: {refusal}')
                return
            _say(f'Re-spawning failed server process #{self.index}')


class WorkerPool:
    """Runs `count` forked workers of `server_class` until they all exit or a signal stops them."""

    def __init__(self, server_class: type[ForkableServer], count: int, respawn: bool = True) -> None:
        self.server_class = server_class
        self.target: Callable[[int], None] = server_class.main
        self.count = count
        self.respawn = respawn
        self.stop_level = 0
        self.monitors: list[_WorkerMonitor] = []
        self._parent_pid = os.getpid()
        self._handling = threading.Lock()
        self._last_signal: tuple[int, float] | None = None

    def _handle_signal(self, signal_number: int, _frame: FrameType | None) -> None:
        if os.getpid() != self._parent_pid:
            # A freshly forked worker can be signalled before its server installs handlers: act like a plain
            # process would, and let the signal end it.
            signal.signal(signal_number, signal.SIG_DFL)
            os.kill(os.getpid(), signal_number)
            return
        if not self._handling.acquire(blocking=False):
            return  # a signal arriving while we handle one is a duplicate of it
        try:
            now = time.monotonic()
            last = self._last_signal
            self._last_signal = (signal_number, now)
            if last and last[0] != signal_number and now - last[1] < DUPLICATE_SIGNAL_WINDOW_SECONDS:
                return
            self.stop_level += 1
            if self.stop_level == 1:
                _say('Received stop signal; stopping server processes')
            elif self.stop_level == 2:
                _say('Received second stop signal; forcing server processes to exit')
            for monitor in self.monitors:
                monitor.deliver(self.stop_level)
        finally:
            self._handling.release()

    def run(self) -> int:
        """Fork the workers and block until every worker slot is done; restores the signal handlers after.

        Returns the parent's exit status: 0 when a stop signal ended the pool or every slot's last worker exited 0,
        else FAILURE_EXIT_STATUS (workers crashed and were not respawned: a supervisor should restart the service).
        """
        previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        try:
            for number in STOP_SIGNALS:
                signal.signal(number, self._handle_signal)
            self.server_class.pre_fork()
            self.monitors = [_WorkerMonitor(self, index) for index in range(1, self.count + 1)]
            for monitor in self.monitors:
                monitor.start()
            for monitor in self.monitors:
                monitor.join()  # interruptible: signal handlers run in this thread meanwhile
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        if self.stop_level or not any(monitor.failed for monitor in self.monitors):
            return STOPPED_EXIT_STATUS
        return FAILURE_EXIT_STATUS
