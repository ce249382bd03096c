"""`Server`: the base class of a service, and the path of one request through a worker.

A request's path through a worker::

    run()                                   the process loop: `pysoa.server.worker`
      handle_next_request()                 receive, log, send or suppress, acknowledge (here)
        process_job(job dict)               validate, build the client, job middleware (`pysoa.server.dispatch`)
          execute_job(EnrichedJobRequest)   each action: action middleware -> action instance (dispatch)

The request being served lives in `pysoa.server.request_state`, not on the server; the command line and
settings loading in `pysoa.server.command_line` and `pysoa.server.settings_loader`; Django in
`pysoa.server.django.integration`. Call order of the hooks a subclass may override::

    main -> initialize -> __init__ -> run -> setup
         -> loop: perform_idle_actions (no request) | perform_pre_request_actions, process_job,
                  send, perform_post_request_actions
         -> teardown
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any, ClassVar, TypeVar

from pysoa.client.client import Client
from pysoa.common.errors import Error
from pysoa.common.logging import PySOALogContextFilter, RecursivelyCensoredDictWrapper
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.middleware import build_middleware_stack
from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout
from pysoa.common.types import ActionResponse, Context, JobResponse
from pysoa.server.client_routing import ClientRouting, validate_client_routing
from pysoa.server.dispatch import Dispatcher, server_error_response
from pysoa.server.errors import HarakiriInterrupt
from pysoa.server.internal.event_loop import AsyncEventLoopThread
from pysoa.server.job_log import log_request, log_response
from pysoa.server.metrics_setup import build_metrics_recorder
from pysoa.server.middleware import ServerMiddleware, ServerMiddlewareActionTask, ServerMiddlewareJobTask
from pysoa.server.reply import reply
from pysoa.server.request_state import (
    ServedRequest,
    bind_deadline,
    current_deadline,
    idle_timer,
    serving,
    stop_idle_timer,
)
from pysoa.server.settings import ServerSettings
from pysoa.server.settings_loader import load_server_settings
from pysoa.server.types import ActionType, EnrichedActionRequest, EnrichedJobRequest, IntrospectionActionType
from pysoa.server.worker import HarakiriTimer, Worker, sleep_unless

__all__ = (
    'HarakiriInterrupt',
    'Server',
    'ServerMiddlewareActionTask',
    'ServerMiddlewareJobTask',
)

_MT = TypeVar('_MT', ServerMiddlewareActionTask, ServerMiddlewareJobTask)
_RT = TypeVar('_RT', JobResponse, ActionResponse)

_NOTHING_RECEIVED = ReceivedMessage(None, None, None)


class Server:
    """Base class of a service: set `service_name` and `action_class_map`, then run `main()`.

    Class attributes:

    - `service_name`: the name clients call the service by (required).
    - `action_class_map`: action name -> action class (or any callable taking the settings and returning
      a callable from request to response). `introspect` is always available and `status` is added when
      the map has none; the default status action reports the class's `service_version` attribute, else
      the `__version__` of the server's top-level package, else `'unknown'`.
    - `settings_class`, `request_class`, `client_class`: the classes used for settings, action requests and
      the client given to actions.
    - `use_django`: take settings from Django's `SOA_SERVER_SETTINGS` and manage Django connections.
    - `introspection_action`: replaces the built-in introspection action when set.
    """

    settings_class: ClassVar[type[ServerSettings]] = ServerSettings
    request_class: ClassVar[type[EnrichedActionRequest]] = EnrichedActionRequest
    client_class: ClassVar[type[Client]] = Client

    use_django: ClassVar[bool] = False
    service_name: ClassVar[str | None] = None
    action_class_map: ClassVar[Mapping[str, ActionType]] = {}
    introspection_action: ClassVar[IntrospectionActionType | None] = None

    def __init__(self, settings: ServerSettings, forked_process_id: int | None = None) -> None:
        """Build the server from validated settings; `forked_process_id` numbers the worker (1..N) when forked."""
        if not self.service_name:
            raise AttributeError('Server subclass must set service_name')
        if not isinstance(settings, ServerSettings):
            settings = self.settings_class(settings)

        self.settings = settings
        # Validated now, so that a mistake in it stops the server at start-up rather than failing every job.
        self._client_routing: ClientRouting | None = self.validate_client_routing(settings)
        self._forked_process_id = forked_process_id
        self.metrics: MetricsRecorder = build_metrics_recorder(settings['metrics'], forked_process_id)
        transport_config = settings['transport']
        self.transport: ServerTransport = transport_config['object'](
            self.service_name,
            self.metrics,
            forked_process_id or 1,
            **transport_config.get('kwargs', {}),
        )

        self.shutting_down = False
        self.logger = logging.getLogger('pysoa.server')
        self.job_logger = logging.getLogger('pysoa.server.job')

        self.request_log_success_level: int = logging.getLevelName(settings['request_log_success_level'])
        self.request_log_error_level: int = logging.getLevelName(settings['request_log_error_level'])
        self.logging_dict_wrapper_class: type[RecursivelyCensoredDictWrapper] = (
            RecursivelyCensoredDictWrapper.with_sensitive_fields(settings['extra_fields_to_redact'])
        )
        self._skip_django_database_cleanup = False

        self._coroutine_runner = AsyncEventLoopThread(
            [m['object'](**m.get('kwargs', {})) for m in settings['coroutine_middleware']],
        )
        self._run_coroutine = self._coroutine_runner.run_coroutine
        self._middleware: list[ServerMiddleware] = [m['object'](**m.get('kwargs', {})) for m in settings['middleware']]
        self._dispatcher = Dispatcher(self)
        self._worker = Worker(self)

    def make_client(self, context: Context, extra_context: Context | None = None, **kwargs: Any) -> Client:
        """A client for actions to call other services, carrying `context` (copied) with `calling_service` set.

        Subclasses may pass `extra_context` (merged over the copy) and client constructor keyword arguments.
        While a request is being handled, the client's calls also end by that request's `__expiry__`.
        """
        context = dict(context)
        if extra_context:
            context.update(extra_context)
        context['calling_service'] = self.service_name
        return bind_deadline(self.client_class(self._validated_client_routing(), context=context, **kwargs))

    @property
    def _request_deadline(self) -> float | None:
        # Kept readable for tests written when the deadline was an attribute; it lives in `request_state` now.
        return current_deadline()

    def _validated_client_routing(self) -> ClientRouting:
        routing = self._client_routing
        if routing is None:
            routing = self._client_routing = self.validate_client_routing(self.settings)
        return routing

    @classmethod
    def validate_client_routing(cls, settings: Mapping[str, Any]) -> ClientRouting:
        """Validate `settings['client_routing']` with the client's settings class and return the validated routing.

        Raises `ImproperlyConfigured` naming the setting and the service, so that a mistake in it stops the server
        at start-up instead of failing every job.
        """
        return validate_client_routing(cls.client_class, settings)

    @staticmethod
    def make_middleware_stack(middleware: Sequence[Callable[[_MT], _MT]], base: _MT) -> _MT:
        """Chain `middleware` (outermost first) around `base` and return the outermost callable."""
        return build_middleware_stack(middleware, base)

    def handle_next_request(self) -> None:
        """Receive one request (or idle when none comes), process it, send the response and acknowledge it."""
        timer = idle_timer(self, self.metrics)
        request_id, meta, job_request = self._receive()
        if request_id is None and meta is None and job_request is None:
            timer.stop()
            self.perform_idle_actions()
            self._set_busy_metrics(False)
            timer.start()
            return

        stop_idle_timer(self)
        self._serve_received(request_id, meta, job_request)

    def _serve_received(self, request_id: int | None, meta: dict[str, Any] | None, job_request: Any) -> None:
        # The rest of a request's path once received; a concurrent worker runs it on one of its job threads.
        self._set_busy_metrics(True)
        if request_id is None or not isinstance(meta, dict):
            # Without a request id the client cannot match a response, and without meta we cannot address one.
            self.metrics.counter('server.error.invalid_message').increment()
            self.logger.error(
                'Discarding a received message that has no request_id or no meta: request_id=%r meta=%r',
                request_id,
                meta,
            )
            if isinstance(meta, dict):
                # Acknowledged all the same: redelivering a message that cannot be answered would not help.
                self.transport.acknowledge_request_message(request_id, meta)  # type: ignore[arg-type]  # may be None
            self._set_busy_metrics(False)
            return

        try:
            self._handle_request(ServedRequest.received(request_id, meta), job_request)
        finally:
            PySOALogContextFilter.clear_logging_request_context()
            self.perform_post_request_actions()
            self._set_busy_metrics(False)

    def _receive(self) -> ReceivedMessage:
        try:
            return self.transport.receive_request_message()
        except MessageReceiveTimeout:
            return _NOTHING_RECEIVED
        except InvalidMessageError as e:
            # The transport popped something it could not read: that message is gone, the next one may be fine.
            self.metrics.counter('server.error.invalid_message').increment()
            self.logger.error('Discarding a request that the transport could not read: %s', e)
            return _NOTHING_RECEIVED

    def _handle_request(self, request: ServedRequest, job_request: Any) -> None:
        job_log = log_request(self, request, job_request)
        with serving(request):
            try:
                self.perform_pre_request_actions()
                job_response = self.process_job(job_request)
            except Exception as e:
                # process_job answers every error itself: this is a failing pre-request hook or an overridden one.
                self.metrics.counter('server.error.unhandled_error').increment()
                job_response = self.handle_job_exception(e)
        job_response, response_message = reply(self, request, job_request, job_response)
        self.transport.acknowledge_request_message(request.request_id, request.meta)
        log_response(self, job_log, job_response, response_message)

    def process_job(self, job_request: dict[str, Any]) -> JobResponse:
        """Validate the job request dict, run it through the job middleware and return the `JobResponse`."""
        return self._dispatcher.process_job(job_request)

    def execute_job(self, job_request: EnrichedJobRequest) -> JobResponse:
        """Run the job's actions in order, each through the action middleware, and collect their responses."""
        return self._dispatcher.execute_job(job_request)

    def handle_unhandled_exception(
        self,
        exception: BaseException,
        response_type: type[_RT],
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> _RT:
        """Log `exception`; return a `response_type` with a SERVER_ERROR: its message and traceback, censored."""
        send, redaction = bool(self.settings.get('send_traceback_to_callers', True)), self.logging_dict_wrapper_class
        metrics, logger = self.metrics, self.logger
        return server_error_response(exception, response_type, variables, metrics, logger, redaction, send, **kwargs)

    def handle_job_exception(self, exception: BaseException, variables: dict[str, Any] | None = None) -> JobResponse:
        """The job response for an exception nothing else caught: a logged SERVER_ERROR."""
        return self.handle_unhandled_exception(exception, JobResponse, variables=variables)

    def handle_job_error_code(
        self,
        code: str,
        message: str,
        request_for_logging: RecursivelyCensoredDictWrapper,
        response_for_logging: RecursivelyCensoredDictWrapper,
        extra: dict[str, Any] | None = None,
    ) -> JobResponse:
        """Log a known failure (with the censored request and response) and return a job response with `code`."""
        data: dict[str, object] = {'request': request_for_logging, 'response': response_for_logging}
        if extra:
            data.update(extra)
        self.logger.error(message, exc_info=True, extra={'data': data})
        return JobResponse(errors=[Error(code=code, message=message, is_caller_error=False)])

    def setup(self) -> None:
        """Runs once before the loop starts (cache warming, ...). Overrides must call `super().setup()`."""

    def teardown(self) -> None:
        """Runs once after the loop ends. Overrides must call `super().teardown()`."""

    def perform_pre_request_actions(self) -> None:
        """Runs before each request is processed. Overrides must call super; prefer middleware."""
        if self.use_django:
            from pysoa.server.django.integration import before_request

            before_request(close_connections=not self._skip_django_database_cleanup)

    def perform_post_request_actions(self) -> None:
        """Runs after each request is answered. Overrides must call super; prefer middleware."""
        if self.use_django:
            from pysoa.server.django.integration import after_request

            after_request(close_connections=not self._skip_django_database_cleanup)
        self._worker.beat()

    def perform_idle_actions(self) -> None:
        """Runs when a receive times out with no request. Overrides must call super."""
        if self.use_django and not self._skip_django_database_cleanup:
            from pysoa.server.django.integration import close_old_connections

            close_old_connections()
        self._worker.beat()

    def _set_busy_metrics(self, busy: bool, running: bool = True) -> None:
        self.metrics.gauge('server.worker.running').set(1 if running else 0)
        self.metrics.gauge('server.worker.busy').set(1 if busy else 0)

    def handle_shutdown_signal(self, signal_number: int, stack_frame: FrameType | None) -> None:
        """The SIGINT/SIGTERM handler `run` installs: stop after this job; a second signal exits at once."""
        self._worker.signals.handle(signal_number, stack_frame)

    def harakiri(self, signal_number: int, stack_frame: FrameType | None) -> None:
        """The SIGALRM handler `run` installs: interrupt the running job, or exit if already interrupted."""
        self._worker.harakiri.handle(signal_number, stack_frame)

    def request_shutdown(self) -> None:
        """Ask the loop to stop after the current request (what SIGINT and SIGTERM do)."""
        self.shutting_down = True

    def run(self) -> None:
        """Serve requests until asked to stop (signal, harakiri, too many transport errors), then clean up."""
        self._worker.run()

    def _loop(self, harakiri: HarakiriTimer) -> None:
        # The request loop without the rest of `run` (tests drive it with a stand-in for the harakiri timer).
        self._worker.loop(harakiri)

    def _sleep_unless_shutting_down(self, seconds: float) -> None:
        # The back-off pause of the loop; tests replace it on the instance to record the delays.
        sleep_unless(lambda: self.shutting_down, seconds)

    @classmethod
    def pre_fork(cls) -> None:
        """Called once in the parent process before workers are forked (with `--fork`); never again."""

    @classmethod
    def initialize(cls, settings: ServerSettings) -> type['Server']:
        """Called with the settings just before the server is built; may return a replacement class."""
        return cls

    @classmethod
    def main(cls, forked_process_id: int | None = None) -> None:
        """Command-line entry point: parse `-s/--settings` and `-d/--daemon`, configure logging, build and run.

        `--log-format text` switches the default JSON log lines to plain text.
        """
        from pysoa.server.command_line import run_server_process

        run_server_process(cls, forked_process_id)

    @classmethod
    def _load_settings(cls, settings_module_name: str | None) -> ServerSettings:
        # The command line loads settings through the class (a subclass may take them from elsewhere).
        return load_server_settings(cls, settings_module_name)
