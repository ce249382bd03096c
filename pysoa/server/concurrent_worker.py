"""The request loop of a worker that serves up to `concurrency` jobs at once (the setting; docs/concurrency.rst).

The worker's main thread runs an asyncio event loop. One receiver task takes a request from Redis only when a
slot is free (so a full worker leaves the queue to idle workers) with redis-py's asyncio client
(`redis_gateway.async_server`: standard hosts, Sentinel or Redis Cluster), and starts a task for each job. A job's
task runs the request's whole path, `Server._serve_received` (job log, Django hooks, middleware, dispatch, reply), on
one of `concurrency` job threads, so every override point, middleware and sync action works unchanged; what would
block on Redis or on a coroutine comes back to the loop:

- the coroutine of an `async def run` action (`request.run_coroutine`) runs as a task on this loop, under the
  job's harakiri deadline (`job_harakiri`); its job thread only waits for it, so N async jobs overlap on the loop;
- the reply and the acknowledgement go through `_LoopBridge`, the server's transport while the loop runs, whose
  blocking methods await the asyncio transport on the loop.

A sync action runs on its job thread: the pool is bounded by `concurrency`, so N sync jobs overlap as threads do
(a CPU-bound one holds the GIL). Per-request state lives in context variables (`request_state`, the logging
context, the job deadline), copied into each job's thread and from there into its coroutine, so concurrent jobs
never see each other's. Django's database connections belong to the thread that opened them, so the Django hooks
(which run on the job's thread, before and after its job) close that job thread's connections as they do in a
blocking worker. On shutdown the receiver stops taking requests and the loop waits for every job in flight.
"""

import asyncio
import concurrent.futures
import contextvars
import inspect
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.common.transport.errors import TransientPySOATransportError
from pysoa.common.transport.redis_gateway.async_server import AsyncHeldRequest, AsyncRedisServerTransport
from pysoa.common.transport.redis_gateway.delivery import IN_FLIGHT_META_KEY
from pysoa.common.transport.redis_gateway.server import RedisServerTransport
from pysoa.server.internal import job_greenlets
from pysoa.server.internal.job_greenlets import LoopTaskFuture, greenlet_or_thread, in_job_greenlet, wait_on_loop
from pysoa.server.job_harakiri import JobWatchdog, guarded, set_job_deadline
from pysoa.server.worker import _Outage

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ('ConcurrentWorker', 'concurrency_refusal')

_POLL_SECONDS = 1.0
"""The longest a receive waits before the loop looks again at whether it is shutting down."""


_BATCH = 32
"""The most requests taken in one receive (when that many slots are free and that many are queued)."""


def _release(slots: asyncio.Semaphore, count: int) -> None:
    for _ in range(count):
        slots.release()


def concurrency_refusal(settings: Mapping[str, Any]) -> str | None:
    """Why these server settings cannot serve with their `concurrency` above 1; None when they can (or it is 1)."""
    concurrency = settings.get('concurrency', 1)
    if not isinstance(concurrency, int) or concurrency <= 1:
        return None  # 1, or not validated settings (which the server's own validation then reports)
    transport = settings.get('transport', {})
    transport_class = transport.get('object')
    if not (isinstance(transport_class, type) and issubclass(transport_class, RedisServerTransport)):
        return _needs_redis(concurrency, getattr(transport_class, '__name__', repr(transport_class)))
    return None  # every Redis backend (standard, Sentinel, Cluster) has its asyncio side (`async_rings`)


def _needs_redis(concurrency: int, transport_name: str) -> str:
    return (
        f'Setting concurrency={concurrency} needs the Redis transport '
        f'(pysoa.common.transport.redis_gateway.server:RedisServerTransport), not {transport_name}; '
        'set concurrency to 1 to serve one job at a time'
    )


class _LoopBridge(ServerTransport):
    """The server's transport while a concurrent loop runs: job threads reply through the asyncio transport."""

    def __init__(
        self, blocking: ServerTransport, transport: AsyncRedisServerTransport, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(blocking.service_name, blocking.metrics, blocking.instance_index)
        self.blocking = blocking
        self._transport = transport
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        # `core`, options and whatever else callers read of the real transport.
        return getattr(self.blocking, name)

    def _wait(self, coroutine: Coroutine[Any, Any, None]) -> None:
        if in_job_greenlet():
            wait_on_loop(coroutine)
        else:
            asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def receive_request_message(self) -> ReceivedMessage:
        """Not for job threads: the loop receives."""
        raise RuntimeError('A concurrent worker receives requests on its event loop, not from a job thread')

    def send_response_message(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Send the response on the loop and wait for it (raises what the asyncio transport raises)."""
        self._wait(self._transport.send(request_id, meta, body))

    def acknowledge_request_message(self, request_id: int, meta: dict[str, Any]) -> None:
        """Acknowledge the request on the loop and wait for it (at-least-once delivery: nothing to do otherwise)."""
        if isinstance(meta, dict) and isinstance(meta.get(IN_FLIGHT_META_KEY), AsyncHeldRequest):
            self._wait(self._transport.acknowledge(meta))


class ConcurrentWorker:
    """Serves the jobs of one server, up to `concurrency` at once, until it is shutting down (see the module)."""

    def __init__(self, server: 'Server', concurrency: int) -> None:
        self.server = server
        self.concurrency = concurrency
        self.logger = logging.getLogger('pysoa.server.concurrent')
        harakiri = server.settings['harakiri']
        self._timeout: float = harakiri['timeout']
        self._watchdog = JobWatchdog(harakiri['shutdown_grace'], server.logger, server.metrics)
        self._jobs: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_actions: dict[object, bool] = {}
        self._transport: AsyncRedisServerTransport | None = None

    def check(self) -> AsyncRedisServerTransport:
        """The asyncio transport of the server's transport; `ImproperlyConfigured` when it cannot serve concurrently."""
        server = self.server
        problem = concurrency_refusal(server.settings)
        transport = server.transport
        if problem is None and not isinstance(transport, RedisServerTransport):
            problem = _needs_redis(self.concurrency, type(transport).__name__)
        if problem is not None:
            raise server.settings_class.ImproperlyConfigured(problem)
        assert isinstance(transport, RedisServerTransport)
        self._transport = AsyncRedisServerTransport(transport)
        return self._transport

    def run(self) -> None:
        """Serve until the server is shutting down, then wait for the jobs in flight."""
        transport = self._transport or self.check()
        transport.start()
        asyncio.run(self._serve(transport))

    def _run_coroutine(self, coroutine: Coroutine[Any, Any, Any]) -> 'concurrent.futures.Future[Any]':
        # `request.run_coroutine`: the coroutine runs as a task on the loop, in a copy of the job's context.
        assert self._loop is not None
        server = self.server
        guarded_coroutine = guarded(server._coroutine_runner.wrap(coroutine), server.logger)
        if in_job_greenlet():
            return LoopTaskFuture(self._loop.create_task(guarded_coroutine, context=contextvars.copy_context()))
        return asyncio.run_coroutine_threadsafe(guarded_coroutine, self._loop)

    def _runs_on_loop(self, job_request: object) -> bool:
        """Whether every action of the job is an `async def run` (then the job runs in a greenlet on the loop)."""
        if not job_greenlets.AVAILABLE or self.server.use_django:
            return False  # Django's connections are per thread, and refuse to be used from an event loop's thread
        actions = job_request.get('actions') if isinstance(job_request, dict) else None
        if not isinstance(actions, list) or not actions:
            return False
        return all(isinstance(action, dict) and self._is_async(action.get('action')) for action in actions)

    def _is_async(self, name: object) -> bool:
        known = self._async_actions.get(name)
        if known is None:
            action_type = self.server.action_class_map.get(name) if isinstance(name, str) else None
            known = self._async_actions[name] = inspect.iscoroutinefunction(getattr(action_type, 'run', None))
        return known

    async def _serve(self, transport: AsyncRedisServerTransport) -> None:
        server = self.server
        loop = self._loop = asyncio.get_running_loop()
        threads = concurrent.futures.ThreadPoolExecutor(self.concurrency, thread_name_prefix='pysoa-job')
        # Nested calls of async actions run in the loop's default executor until the client is native asyncio.
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(self.concurrency, 'pysoa-async-call'))
        blocking, run_coroutine = server.transport, server._run_coroutine
        server.transport = _LoopBridge(blocking, transport, loop)
        server._run_coroutine = self._run_coroutine
        self._watchdog.start()
        self.logger.info('Serving up to %d jobs at once', self.concurrency)
        try:
            try:
                await self._receive_until_shutdown(transport, threads)
            finally:
                # Also when receiving failed for good: the jobs taken are answered before the worker stops.
                if self._jobs:
                    self.logger.info('Shutting down: waiting for %d job(s) in flight', len(self._jobs))
                    await asyncio.gather(*self._jobs, return_exceptions=True)
        finally:
            server.transport, server._run_coroutine = blocking, run_coroutine
            # Every job is done unless the loop was stopped by force (a second signal): then a job thread still
            # running is left to finish, and the watchdog to end it if it outlives its deadline.
            threads.shutdown(wait=False, cancel_futures=True)
            if not self._watchdog.watching():
                self._watchdog.stop()
            await transport.close()

    async def _receive_until_shutdown(
        self, transport: AsyncRedisServerTransport, threads: concurrent.futures.ThreadPoolExecutor
    ) -> None:
        server = self.server
        slots = asyncio.Semaphore(self.concurrency)
        outage = _Outage(server.logger)
        poll = min(_POLL_SECONDS, float(transport._core.receive_timeout_in_seconds))
        while not server.shutting_down:
            # A slot first: a full worker takes nothing from the queue that an idle worker could serve.
            await slots.acquire()
            free = 1
            while free < _BATCH and not slots.locked():
                await slots.acquire()  # free slots: taken at once, without waiting
                free += 1
            if server.shutting_down:
                _release(slots, free)
                break
            try:
                received = await transport.receive(poll, up_to=free)
                outage.over()
            except TransientPySOATransportError as error:
                _release(slots, free)
                await self._pause(outage.failed(error))
                continue
            _release(slots, free - len(received))
            if not received:
                self._idle()
            for message in received:
                job = asyncio.create_task(self._job(message, threads, slots))
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)

    def _idle(self) -> None:
        server = self.server
        if self._jobs:
            server._worker.beat()  # busy, not idle: the Django idle clean-up is for a worker with nothing to do
        else:
            server.perform_idle_actions()
        server.metrics.publish_all()

    async def _pause(self, seconds: float) -> None:
        # The back-off of an outage, cut short by a shutdown; the jobs in flight go on meanwhile.
        deadline = time.monotonic() + seconds
        while not self.server.shutting_down and (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(remaining, 0.1))

    async def _job(
        self, received: ReceivedMessage, threads: concurrent.futures.ThreadPoolExecutor, slots: asyncio.Semaphore
    ) -> None:
        server = self.server
        deadline = time.monotonic() + self._timeout if self._timeout else None
        set_job_deadline(deadline)  # in this task's context, which the job's greenlet or thread copies
        try:
            if self._runs_on_loop(received.body):
                await job_greenlets.run_in_greenlet(self._watched, received, deadline)
            else:
                context = contextvars.copy_context()
                await asyncio.get_running_loop().run_in_executor(
                    threads, context.run, self._watched, received, deadline
                )
        except TransientPySOATransportError as error:
            # Redis failed under the reply: the receive loop backs off if the outage lasts (at-least-once delivery
            # returns the request to the queue); this job is over.
            server.logger.warning(
                'Could not answer request %r: %s: %s', received.request_id, type(error).__name__, error
            )
        except Exception:
            # The request path answers every error itself; this is a bug in an override, logged, never fatal.
            server.metrics.counter('server.error.unknown').increment()
            server.logger.exception('Unhandled error serving a job')
        finally:
            slots.release()
            server.metrics.publish_all()

    def _watched(self, received: ReceivedMessage, deadline: float | None) -> None:
        # The request path, watched for as long as it really runs: a thread goes on even if its task is cancelled.
        key = greenlet_or_thread()
        if deadline is not None:
            self._watchdog.watch(key, deadline)
        try:
            self.server._serve_received(*received)
        finally:
            self._watchdog.done(key)
