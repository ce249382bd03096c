"""The process loop of one worker: start-up, signals, harakiri, heartbeat, back-off on transport errors, shutdown.

`Server.run` hands its server to a `Worker`, which supervises the process around the request loop and never
looks inside a request: each turn of the loop arms harakiri and calls `server.handle_next_request()`, which
receives, serves and answers one request (or idles). Order of events::

    start-up log, setup(), startup metrics, heartbeat file, SIGINT/SIGTERM and SIGALRM handlers
    loop until shutting_down: arm harakiri, handle_next_request(), publish metrics
        (with the `concurrency` setting above 1: `pysoa.server.concurrent_worker` runs the loop instead)
        a transient transport error (Redis down, frozen, failing over): back off (jittered, exponential, capped)
        and try again, for as long as it lasts; the worker never gives up on the transport
    teardown(), shutdown metrics, event loop thread, Django caches, heartbeat file, handlers restored
    an error nothing handled: SystemExit(1) after the clean-up, so a supervisor sees a failure (a requested
    shutdown returns; `Server.main` exits 3 when harakiri asked for it: `pysoa.server.exit_status`)
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pysoa.common.backoff import jittered_backoff
from pysoa.common.transport.description import describe_transport
from pysoa.common.transport.errors import TransientPySOATransportError
from pysoa.server.errors import HarakiriInterrupt
from pysoa.server.exit_status import FAILURE_EXIT_STATUS
from pysoa.server.harakiri import Harakiri
from pysoa.server.heartbeat import HeartbeatFile
from pysoa.server.signals import ShutdownSignalHandler
from pysoa.version import __version__

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('BACK_OFF_ATTEMPT_CAP', 'ERROR_AFTER_SECONDS', 'FAILURE_EXIT_STATUS', 'Worker', 'sleep_unless')

BACK_OFF_ATTEMPT_CAP = 3
"""The back-off grows for this many failures in a row, then stays at 2 to 2.25 seconds: once Redis is back, a
worker serves again within that time."""

ERROR_AFTER_SECONDS = 10.0
"""A transport outage is logged at WARNING until it has lasted this long, then at ERROR while it lasts."""


class HarakiriTimer(Protocol):
    """What the loop needs of the harakiri timer: to re-arm it before each request."""

    def arm(self) -> None:
        """Start (or restart) the countdown for the next request."""


def sleep_unless(stopping: Callable[[], bool], seconds: float) -> None:
    """Sleep `seconds`, in short naps, returning early as soon as `stopping()` is true."""
    deadline = time.monotonic() + seconds
    while not stopping():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(remaining, 0.1))


class Worker:
    """Supervises one server in its process; the server keeps the request path and its override points."""

    def __init__(self, server: 'Server') -> None:
        self.server = server
        harakiri = server.settings['harakiri']
        self.signals = ShutdownSignalHandler(server.request_shutdown, server.logger)
        self.harakiri = Harakiri(
            harakiri['timeout'],
            harakiri['shutdown_grace'],
            server.request_shutdown,
            server.logger,
            server.metrics,
        )
        self.heartbeat: HeartbeatFile | None = None

    def beat(self) -> None:
        """Touch the heartbeat file, if there is one (it throttles itself)."""
        if self.heartbeat is not None:
            self.heartbeat.update()

    def run(self) -> None:
        """`Server.run`: serve until asked to stop (signal, harakiri), then clean up.

        Raises SystemExit(FAILURE_EXIT_STATUS) after the clean-up when an error nobody handled ended the loop. After
        harakiri it returns, as in 1.x; the process entry point (`Server.main`) then exits with HARAKIRI_EXIT_STATUS.
        """
        server = self.server
        concurrency = server.settings.get('concurrency', 1)
        concurrent = None
        if concurrency > 1:
            from pysoa.server.concurrent_worker import ConcurrentWorker

            concurrent = ConcurrentWorker(server, concurrency)
            concurrent.check()  # before `setup`: a worker that cannot serve concurrently says so at once
        server.logger.info(
            'Service "%s" server starting up, pysoa version %s, listening on %s.',
            server.service_name,
            __version__,
            describe_transport(server.transport),
        )
        server.setup()
        server.metrics.counter('server.worker.startup').increment()
        server._set_busy_metrics(False)
        server.metrics.publish_all()

        if server.settings['heartbeat_file']:
            self.heartbeat = HeartbeatFile(server.settings['heartbeat_file'], server._forked_process_id, server.logger)
            self.heartbeat.create()

        if threading.current_thread() is threading.main_thread():
            # Signal handlers can only be installed from the main thread (tests may run a server elsewhere).
            # The server's methods are installed, so that a subclass overriding them is heard.
            self.signals.install(server.handle_shutdown_signal)
            if concurrent is None:  # a concurrent worker times each job itself (`job_harakiri`)
                self.harakiri.install(server.harakiri)

        failed = False
        try:
            if concurrent is None:
                self.loop(self.harakiri)
            else:
                concurrent.run()
        except HarakiriInterrupt:
            server.metrics.counter('server.error.harakiri', harakiri_level='server').increment()
            server.logger.error('Harakiri interrupt occurred outside of action or job handling')
        except Exception:
            failed = True
            server.metrics.counter('server.error.unknown').increment()
            server.logger.exception('Unhandled server error; shutting down')
        finally:
            # A pending harakiri alarm stays armed through shutdown: it kills a worker whose teardown hangs.
            try:
                self.shut_down()
            finally:
                self.harakiri.restore()
                self.signals.restore()
        if failed:
            # Nobody asked this worker to stop: a supervisor that restarts failed processes must see a failure.
            raise SystemExit(FAILURE_EXIT_STATUS)

    @property
    def stopped_by_harakiri(self) -> bool:
        """Whether harakiri, not a signal or an idle timeout, ended this worker's loop."""
        return self.harakiri.triggered

    def loop(self, harakiri: HarakiriTimer) -> None:
        """Handle requests until the server is shutting down, backing off while the transport fails."""
        server = self.server
        outage = _Outage(server.logger)
        while not server.shutting_down:
            harakiri.arm()
            try:
                server.handle_next_request()
                outage.over()
            except TransientPySOATransportError as error:
                delay = outage.failed(error)
                # Through the server: the pause is a seam that tests replace on the instance.
                server._sleep_unless_shutting_down(delay)
            finally:
                server.metrics.publish_all()

    def shut_down(self) -> None:
        """Run `teardown`, then release what the worker holds; every step runs even if `teardown` fails."""
        server = self.server
        try:
            server.teardown()
        finally:
            server.metrics.counter('server.worker.shutdown').increment()
            server._set_busy_metrics(False, False)
            server.metrics.publish_all()
            server.logger.info('Server shutting down')
            server._coroutine_runner.stop()
            if server.use_django:
                from pysoa.server.django.integration import close_caches

                server.logger.info('Closing all Django caches')
                close_caches(shutdown=True)
            if self.heartbeat is not None:
                self.heartbeat.delete()
                self.heartbeat = None
            close = getattr(server.transport, 'close', None)  # a 1.x transport may not derive from ServerTransport
            if callable(close):
                close()
            server.logger.info('Server shutdown complete')


class _Outage:
    """Transient transport errors: how long to back off after each, and the log lines while they last.

    The back-off grows with each failure and shrinks by one step with each success, so a transport that fails
    every other time (one Redis of several down) still backs off; the outage itself ends at the first success.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._attempt = 0
        self._in_a_row = 0
        self._since = 0.0

    def failed(self, error: Exception) -> float:
        """Record one more failure; return the seconds to wait before trying again."""
        now = time.monotonic()
        if self._in_a_row == 0:
            self._since = now
        delay = jittered_backoff(min(self._attempt, BACK_OFF_ATTEMPT_CAP))
        self._attempt += 1
        self._in_a_row += 1
        lasted = now - self._since
        # The error is named so that an operator can tell "Redis down" from "wrong password".
        self._logger.log(
            logging.ERROR if lasted >= ERROR_AFTER_SECONDS else logging.WARNING,
            'Transient error from the transport (%s: %s), %d in a row over %.1f seconds; '
            'sleeping %.2f seconds and trying again.',
            type(error).__name__,
            error,
            self._in_a_row,
            lasted,
            delay,
        )
        return delay

    def over(self) -> None:
        """The transport answered: log how long the outage lasted, if there was one."""
        self._attempt = max(self._attempt - 1, 0)
        if self._in_a_row:
            lasted = time.monotonic() - self._since
            self._logger.warning(
                'The transport works again after %d errors in a row over %.1f seconds.', self._in_a_row, lasted
            )
            self._in_a_row = 0
