"""The process loop of one worker: start-up, signals, harakiri, heartbeat, back-off on transport errors, shutdown.

`Server.run` hands its server to a `Worker`, which supervises the process around the request loop and never
looks inside a request: each turn of the loop arms harakiri and calls `server.handle_next_request()`, which
receives, serves and answers one request (or idles). Order of events::

    start-up log, setup(), startup metrics, heartbeat file, SIGINT/SIGTERM and SIGALRM handlers
    loop until shutting_down: arm harakiri, handle_next_request(), publish metrics
        a transient transport error: back off (jittered, exponential) and go on, or stop after too many in a row
    teardown(), shutdown metrics, event loop thread, Django caches, heartbeat file, handlers restored
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
from pysoa.server.harakiri import Harakiri
from pysoa.server.heartbeat import HeartbeatFile
from pysoa.server.signals import ShutdownSignalHandler
from pysoa.version import __version__

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('MAX_TRANSIENT_FAILURES', 'Worker', 'sleep_unless')

MAX_TRANSIENT_FAILURES = 5
"""After more transient transport errors than this in a row (each success forgives one), the worker stops."""

# Once the back-off reaches this many seconds the trouble is lasting: the log line becomes a warning.
_WARNING_DELAY_SECONDS = 2.0


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
        """`Server.run`: serve until asked to stop (signal, harakiri, too many transport errors), then clean up."""
        server = self.server
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
            self.harakiri.install(server.harakiri)

        try:
            self.loop(self.harakiri)
        except HarakiriInterrupt:
            server.metrics.counter('server.error.harakiri', harakiri_level='server').increment()
            server.logger.error('Harakiri interrupt occurred outside of action or job handling')
        except Exception:
            server.metrics.counter('server.error.unknown').increment()
            server.logger.exception('Unhandled server error; shutting down')
        finally:
            # A pending harakiri alarm stays armed through shutdown: it kills a worker whose teardown hangs.
            try:
                self.shut_down()
            finally:
                self.harakiri.restore()
                self.signals.restore()

    def loop(self, harakiri: HarakiriTimer) -> None:
        """Handle requests until the server is shutting down, backing off after transient transport errors."""
        server = self.server
        transient_failures = 0
        while not server.shutting_down:
            harakiri.arm()
            try:
                server.handle_next_request()
                if transient_failures > 0:
                    transient_failures -= 1
            except TransientPySOATransportError as error:
                if transient_failures > MAX_TRANSIENT_FAILURES:
                    server.logger.exception('Too many errors receiving message from transport; shutting down!')
                    return
                delay = jittered_backoff(transient_failures)
                # The error is named so that an operator can tell "Redis down" from "wrong password".
                server.logger.log(
                    logging.WARNING if delay >= _WARNING_DELAY_SECONDS else logging.INFO,
                    'Transient error from the transport (%s: %s), sleeping %.2f seconds and continuing.',
                    type(error).__name__,
                    error,
                    delay,
                )
                # Through the server: the pause is a seam that tests replace on the instance.
                server._sleep_unless_shutting_down(delay)
                transient_failures += 1
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
            server.logger.info('Server shutdown complete')
