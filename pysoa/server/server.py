"""`Server`: the base class of a service, and the request loop of one worker process.

A request's path through a worker::

    run()                                   signals, harakiri, heartbeat, transient-error back-off
      handle_next_request()                 receive, log, send or suppress, acknowledge
        process_job(job dict)               validate, build the client, job middleware
          execute_job(EnrichedJobRequest)   each action: action middleware -> action instance

Process supervision lives in `signals`, `harakiri` and `heartbeat`; wire conversion in `wire`;
Django in `pysoa.server.django.integration`. Call order of the hooks a subclass may override::

    main -> initialize -> __init__ -> run -> setup
         -> loop: perform_idle_actions (no request) | perform_pre_request_actions, process_job,
                  send, perform_post_request_actions
         -> teardown
"""

import argparse
import importlib
import logging
import logging.config
import math
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any, ClassVar, TypeVar, cast

from pysoa.client.client import Client
from pysoa.common.constants import (
    ERROR_CODE_ACTION_TIMEOUT,
    ERROR_CODE_JOB_TIMEOUT,
    ERROR_CODE_RESPONSE_NOT_SERIALIZABLE,
    ERROR_CODE_RESPONSE_TOO_LARGE,
    ERROR_CODE_SERVER_ERROR,
    ERROR_CODE_UNKNOWN,
)
from pysoa.common.errors import Error
from pysoa.common.logging import PySOALogContextFilter, RecursivelyCensoredDictWrapper
from pysoa.common.metrics import MetricsRecorder, Timer
from pysoa.common.serializer.errors import InvalidField
from pysoa.common.transport.base import ServerTransport
from pysoa.common.transport.errors import (
    InvalidMessageError,
    MessageReceiveTimeout,
    MessageTooLarge,
    TransientPySOATransportError,
)
from pysoa.common.types import ActionResponse, Context, JobResponse
from pysoa.common.wire import JobResponseDict, client_version_of, job_response_to_dict
from pysoa.server.errors import ActionError, HarakiriInterrupt, JobError
from pysoa.server.harakiri import Harakiri
from pysoa.server.heartbeat import HeartbeatFile
from pysoa.server.internal.event_loop import AsyncEventLoopThread
from pysoa.server.middleware import ServerMiddleware, ServerMiddlewareActionTask, ServerMiddlewareJobTask
from pysoa.server.schemas import job_request_errors
from pysoa.server.settings import ServerSettings
from pysoa.server.signals import ShutdownSignalHandler
from pysoa.server.types import (
    ActionType,
    EnrichedActionRequest,
    EnrichedJobRequest,
    IntrospectionActionType,
    RequestSwitchSet,
)
from pysoa.version import __version__

__all__ = (
    'HarakiriInterrupt',
    'Server',
    'ServerMiddlewareActionTask',
    'ServerMiddlewareJobTask',
)

_MT = TypeVar('_MT', ServerMiddlewareActionTask, ServerMiddlewareJobTask)
_RT = TypeVar('_RT', JobResponse, ActionResponse)

# Back-off after transient transport errors: give up after this many in a row.
_MAX_TRANSIENT_FAILURES = 5
_FID_MARKERS = ('{{fid}}', '[[fid]]', '%%fid%%')


def _replace_fid(data: dict[Any, Any], fid: str) -> None:
    for key, value in data.items():
        if isinstance(value, str):
            for marker in _FID_MARKERS:
                value = value.replace(marker, fid)
            data[key] = value
        elif isinstance(value, dict):
            _replace_fid(value, fid)


def _as_message(response: JobResponseDict) -> dict[str, Any]:
    # The transport seam takes any message dict (requests and responses alike); a TypedDict is one at run time.
    return cast('dict[str, Any]', response)


def _deadline_of(meta: dict[str, Any]) -> float | None:
    """The request's `__expiry__` (Unix seconds) when it has a usable one."""
    expiry = meta.get('__expiry__')
    if isinstance(expiry, int | float) and not isinstance(expiry, bool) and expiry > 0 and math.isfinite(expiry):
        return float(expiry)
    return None


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
        self._client_routing: Mapping[str, Any] | None = self.validate_client_routing(settings)
        self._forked_process_id = forked_process_id
        self._apply_fid_to_metrics_config()

        metrics_config = settings['metrics']
        self.metrics: MetricsRecorder = metrics_config['object'](**metrics_config.get('kwargs', {}))
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

        self._middleware: list[ServerMiddleware] = [m['object'](**m.get('kwargs', {})) for m in settings['middleware']]
        # Built once: the job stack does not depend on the request (actions get a fresh stack, see execute_job).
        self._middleware_job_wrapper = self.make_middleware_stack(
            [m.job for m in self._middleware],
            self._run_execute_job,
        )
        self._action_middleware = [m.action for m in self._middleware]

        self.request_log_success_level: int = logging.getLevelName(settings['request_log_success_level'])
        self.request_log_error_level: int = logging.getLevelName(settings['request_log_error_level'])
        self.logging_dict_wrapper_class: type[RecursivelyCensoredDictWrapper] = RecursivelyCensoredDictWrapper
        if settings['extra_fields_to_redact']:
            self.logging_dict_wrapper_class = type(
                'ServerCensoredDictWrapper',
                (RecursivelyCensoredDictWrapper,),
                {
                    'SENSITIVE_FIELDS': frozenset(
                        RecursivelyCensoredDictWrapper.SENSITIVE_FIELDS | set(settings['extra_fields_to_redact']),
                    ),
                },
            )

        self._default_status_action_class: ActionType | None = None
        self._idle_timer: Timer | None = None
        self._heartbeat: HeartbeatFile | None = None
        self._skip_django_database_cleanup = False
        # The `__expiry__` of the request being handled: the per-job client's calls must not outlive it.
        self._request_deadline: float | None = None
        self._shutdown_signals = ShutdownSignalHandler(self.request_shutdown, self.logger)
        self._harakiri = Harakiri(
            settings['harakiri']['timeout'],
            settings['harakiri']['shutdown_grace'],
            self.request_shutdown,
            self.logger,
            self.metrics,
        )
        self._coroutine_runner = AsyncEventLoopThread(
            [m['object'](**m.get('kwargs', {})) for m in settings['coroutine_middleware']],
        )
        self._run_coroutine = self._coroutine_runner.run_coroutine

    # ----- construction helpers -----

    def _apply_fid_to_metrics_config(self) -> None:
        config = self.settings['metrics'].get('kwargs', {}).get('config', {})
        publishers = config.get('publishers') if isinstance(config, dict) else None
        if not publishers:
            return
        fid = 'main' if self._forked_process_id is None else str(self._forked_process_id)
        for publisher in publishers:
            if config.get('version') == 1:
                _replace_fid(publisher, fid)
            elif isinstance(publisher.get('kwargs'), dict):
                _replace_fid(publisher['kwargs'], fid)

    def make_client(self, context: Context, extra_context: Context | None = None, **kwargs: Any) -> Client:
        """A client for actions to call other services, carrying `context` (copied) with `calling_service` set.

        Subclasses may pass `extra_context` (merged over the copy) and client constructor keyword arguments.
        While a request is being handled, the client's calls also end by that request's `__expiry__`.
        """
        context = dict(context)
        if extra_context:
            context.update(extra_context)
        context['calling_service'] = self.service_name
        return self._bind_deadline(self.client_class(self._validated_client_routing(), context=context, **kwargs))

    def _bind_deadline(self, client: Client) -> Client:
        # Deadline propagation: see pysoa.client.handler. No request being handled, no deadline.
        if self._request_deadline is not None and isinstance(client, Client):
            client._deadline = self._request_deadline
        return client

    def _validated_client_routing(self) -> Mapping[str, Any]:
        routing = self._client_routing
        if routing is None:
            routing = self._client_routing = self.validate_client_routing(self.settings)
        return routing

    @classmethod
    def validate_client_routing(cls, settings: Mapping[str, Any]) -> Mapping[str, Any]:
        """Validate `settings['client_routing']` with the client's settings class and return the validated routing.

        Raises `ImproperlyConfigured` naming the setting and the service, so that a mistake in it stops the server
        at start-up instead of failing every job.
        """
        raw: Mapping[str, Any] = settings.get('client_routing') or {}
        settings_class = getattr(cls.client_class, 'settings_class', None)
        if settings_class is None:
            return raw
        routing: dict[str, Any] = {}
        for name, config in raw.items():
            try:
                routing[name] = settings_class(config)
            except settings_class.ImproperlyConfigured as error:
                raise settings_class.ImproperlyConfigured(
                    f"Invalid setting 'client_routing': {name}: {error}",
                ) from error
        return routing

    @staticmethod
    def make_middleware_stack(middleware: Sequence[Callable[[_MT], _MT]], base: _MT) -> _MT:
        """Chain `middleware` (outermost first) around `base` and return the outermost callable."""
        for wrap in reversed(middleware):
            base = wrap(base)
        return base

    # ----- one request -----

    def handle_next_request(self) -> None:
        """Receive one request (or idle when none comes), process it, send the response and acknowledge it."""
        if self._idle_timer is None:
            self._idle_timer = self.metrics.timer('server.idle_time')
            self._idle_timer.start()

        try:
            request_id, meta, job_request = self.transport.receive_request_message()
        except MessageReceiveTimeout:
            self._idle()
            return
        except InvalidMessageError as e:
            # The transport popped something it could not read: that message is gone, the next one may be fine.
            self.metrics.counter('server.error.invalid_message').increment()
            self.logger.error('Discarding a request that the transport could not read: %s', e)
            self._idle()
            return
        if request_id is None and meta is None and job_request is None:
            self._idle()
            return

        self._idle_timer.stop()
        self._idle_timer = None
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
            self._handle_request(request_id, meta, job_request)
        finally:
            PySOALogContextFilter.clear_logging_request_context()
            self.perform_post_request_actions()
            self._set_busy_metrics(False)

    def _idle(self) -> None:
        assert self._idle_timer is not None
        self._idle_timer.stop()
        self.perform_idle_actions()
        self._set_busy_metrics(False)
        self._idle_timer.start()

    def _handle_request(self, request_id: int, meta: dict[str, Any], job_request: Any) -> None:
        context = job_request.get('context') if isinstance(job_request, dict) else None
        self._set_logging_context(request_id, context if isinstance(context, dict) else {})

        request_for_logging: Any = None
        if self.job_logger.isEnabledFor(self.request_log_success_level):
            request_for_logging = self._censored(job_request)
            self.job_logger.log(self.request_log_success_level, 'Job request: %s', request_for_logging)

        client_version = client_version_of(meta)
        self._request_deadline = _deadline_of(meta)
        try:
            self.perform_pre_request_actions()
            job_response = self.process_job(job_request)
        except Exception as e:
            # process_job answers every error itself; this is a failing pre-request hook or an overridden process_job.
            self.metrics.counter('server.error.unhandled_error').increment()
            job_response = self.handle_job_exception(e)
        finally:
            self._request_deadline = None

        try:
            response_message = job_response_to_dict(job_response, client_version)
        except Exception as e:
            self.metrics.counter('server.error.response_conversion_failure').increment()
            job_response = self.handle_job_exception(e, variables={'job_response': job_response})
            response_message = job_response_to_dict(job_response, client_version)

        suppress = isinstance(job_request, dict) and bool(
            isinstance(job_request.get('control'), dict) and job_request['control'].get('suppress_response', False),
        )
        if not suppress:
            try:
                job_response, response_message = self._send_response(
                    request_id,
                    meta,
                    job_request,
                    job_response,
                    response_message,
                    client_version,
                )
            except (InvalidMessageError, MessageTooLarge) as e:
                # No usable reply queue in the meta, or even the error response is too large: nobody can be told.
                self.metrics.counter('server.error.response_not_sent').increment()
                self.logger.error('Could not send the response to request %r: %s', request_id, e)
        self.transport.acknowledge_request_message(request_id, meta)
        self._log_response(job_request, request_for_logging, job_response, response_message)

    def _send_response(
        self,
        request_id: int,
        meta: dict[str, Any],
        job_request: Any,
        job_response: JobResponse,
        response_message: JobResponseDict,
        client_version: tuple[int, ...],
    ) -> tuple[JobResponse, JobResponseDict]:
        try:
            self.transport.send_response_message(request_id, meta, _as_message(response_message))
            return job_response, response_message
        except MessageTooLarge as e:
            self.metrics.counter('server.error.response_too_large').increment()
            job_response = self.handle_job_error_code(
                ERROR_CODE_RESPONSE_TOO_LARGE,
                'Could not send the response because it was too large',
                self._censored(job_request),
                self._censored(response_message),
                extra={'serialized_length_in_bytes': e.message_size_in_bytes},
            )
        except InvalidField:
            self.metrics.counter('server.error.response_not_serializable').increment()
            job_response = self.handle_job_error_code(
                ERROR_CODE_RESPONSE_NOT_SERIALIZABLE,
                'Could not send the response because it failed to serialize',
                self._censored(job_request),
                self._censored(response_message),
            )
        response_message = job_response_to_dict(job_response, client_version)
        self.transport.send_response_message(request_id, meta, _as_message(response_message))
        return job_response, response_message

    def _censored(self, message: Any) -> RecursivelyCensoredDictWrapper:
        return self.logging_dict_wrapper_class(message if isinstance(message, dict) else {})

    def _log_response(
        self,
        job_request: Any,
        request_for_logging: Any,
        job_response: JobResponse,
        response_message: JobResponseDict,
    ) -> None:
        job_logger = self.job_logger
        if not (
            job_logger.isEnabledFor(self.request_log_success_level)
            or job_logger.isEnabledFor(self.request_log_error_level)
        ):
            return  # the common case in production: no need to look for errors
        failed = bool(job_response.errors) or any(a.errors for a in job_response.actions)
        level = self.request_log_error_level if failed else self.request_log_success_level
        if not job_logger.isEnabledFor(level):
            return
        if failed and request_for_logging is None:
            # The request was not logged at the success level; the error level shows it with its response.
            self.job_logger.log(level, 'Job request: %s', self._censored(job_request))
        self.job_logger.log(level, 'Job response: %s', self._censored(response_message))

    @staticmethod
    def _set_logging_context(request_id: int, context: dict[Any, Any]) -> None:
        # Keys become keyword arguments: they must be strings, and the request id wins over a context key.
        values = {k if type(k) is str else str(k): v for k, v in context.items()}
        values['request_id'] = request_id
        PySOALogContextFilter.set_logging_request_context(**values)

    def process_job(self, job_request: dict[str, Any]) -> JobResponse:
        """Validate the job request dict, run it through the job middleware and return the `JobResponse`."""
        try:
            errors = job_request_errors(job_request)
            if errors:
                # Only a broken client sends a malformed job; say what is wrong, besides answering it.
                self.logger.error(
                    'Invalid job request: %s',
                    '; '.join(f'{e.field or "(job)"}: {e.message}' for e in errors),
                )
                raise JobError(errors, set_is_caller_error_to=None)

            context = job_request['context']
            # Bound here too, for a `make_client` override that does not call this class's.
            client = self._bind_deadline(self.make_client(context))
            enriched = EnrichedJobRequest(
                control=job_request['control'],
                context=context,
                actions=job_request['actions'],
                client=client,
                run_coroutine=self._run_coroutine,
            )
            job_response = self._middleware_job_wrapper(enriched)
            if 'correlation_id' in context:
                job_response.context['correlation_id'] = context['correlation_id']
            return job_response
        except HarakiriInterrupt:
            self.metrics.counter('server.error.harakiri', harakiri_level='job').increment()
            return JobResponse(
                errors=[
                    Error(
                        code=ERROR_CODE_JOB_TIMEOUT,
                        message='The service job ran for too long and had to be interrupted (probably a middleware '
                        'issue).',
                        is_caller_error=False,
                    ),
                ],
            )
        except JobError as e:
            self.metrics.counter('server.error.job_error').increment()
            return JobResponse(errors=e.errors)
        except Exception as e:
            self.metrics.counter('server.error.unhandled_error').increment()
            return self.handle_job_exception(e)

    def _run_execute_job(self, job_request: EnrichedJobRequest) -> JobResponse:
        # Looked up on each call so that patching or overriding `execute_job` on the instance takes effect.
        return self.execute_job(job_request)

    def execute_job(self, job_request: EnrichedJobRequest) -> JobResponse:
        """Run the job's actions in order, each through the action middleware, and collect their responses."""
        job_response = JobResponse()
        switches = RequestSwitchSet(job_request.context['switches'])
        continue_on_error = job_request.control.get('continue_on_error', False)
        for simple_request in job_request.actions:
            action_request = self.request_class(
                action=simple_request.action,
                body=simple_request.body,
                switches=switches,
                context=job_request.context,
                control=job_request.control,
                client=job_request.client,
                run_coroutine=job_request.run_coroutine,
            )
            action_request._server = self
            action_response, interrupted = self._execute_action(action_request)
            job_response.actions.append(action_response)
            if interrupted or (action_response.errors and not continue_on_error):
                break
        return job_response

    def _resolve_action(self, name: str) -> Callable[[EnrichedActionRequest], ActionResponse] | None:
        if name in self.action_class_map:
            action: Callable[[EnrichedActionRequest], ActionResponse] = self.action_class_map[name](self.settings)
            return action
        if name == 'introspect':
            # Read from the class: a plain function stored there must not become a bound method.
            custom = type(self).introspection_action
            if custom is not None:
                return custom(self)
            from pysoa.server.action.introspection import IntrospectionAction

            return IntrospectionAction(server=self)
        if name == 'status':
            if self._default_status_action_class is None:
                self._default_status_action_class = self._make_default_status_action_class()
            status_action: Callable[[EnrichedActionRequest], ActionResponse] = self._default_status_action_class(
                self.settings,
            )
            return status_action
        return None

    def _make_default_status_action_class(self) -> ActionType:
        from pysoa.server.action.status import StatusActionFactory

        package = sys.modules.get(type(self).__module__.split('.')[0])
        version = getattr(type(self), 'service_version', None) or getattr(package, '__version__', None) or 'unknown'
        build = getattr(package, '__build__', None) or None
        return StatusActionFactory(str(version), str(build) if build else None)

    def _execute_action(self, action_request: EnrichedActionRequest) -> tuple[ActionResponse, bool]:
        name = action_request.action
        PySOALogContextFilter.set_logging_action_name(name)
        try:
            action = self._resolve_action(name)
            if action is None:
                error = Error(
                    code=ERROR_CODE_UNKNOWN,
                    message=f'The action "{name}" was not found on this server.',
                    field='action',
                    is_caller_error=True,
                )
                return ActionResponse(action=name, errors=[error]), False
            if self._action_middleware:
                # Per request, as in PySOA 1.x: middleware may look at the action instance it wraps.
                action = self.make_middleware_stack(self._action_middleware, action)
            return action(action_request), False
        except HarakiriInterrupt:
            self.metrics.counter('server.error.harakiri', harakiri_level='action').increment()
            error = Error(
                code=ERROR_CODE_ACTION_TIMEOUT,
                message=f'The action "{name}" ran for too long and had to be interrupted.',
                is_caller_error=False,
            )
            return ActionResponse(action=name, errors=[error]), True
        except ActionError as e:
            return ActionResponse(action=name, errors=e.errors), False
        except JobError:
            # A job error raised by an action is deliberate: it answers for the whole job.
            raise
        except Exception as e:
            self.metrics.counter('server.error.unhandled_error').increment()
            return self.handle_unhandled_exception(e, ActionResponse, action=name), False
        finally:
            PySOALogContextFilter.clear_logging_action_name()

    # ----- error responses -----

    def handle_unhandled_exception(
        self,
        exception: BaseException,
        response_type: type[_RT],
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> _RT:
        """Log `exception` and return a `response_type` carrying a SERVER_ERROR with its message and traceback."""
        try:
            error_text = str(exception)
        except Exception:
            self.metrics.counter('server.error.error_formatting_failure').increment()
            error_text = 'Error formatting error'
        traceback_text = ''.join(traceback.format_exception(type(exception), exception, exception.__traceback__))
        self.logger.error('Unhandled exception: %s', error_text, exc_info=exception)

        formatted_variables: dict[str, Any] | None = None
        if variables is not None:
            try:
                formatted_variables = {key: repr(value) for key, value in variables.items()}
            except Exception:
                self.metrics.counter('server.error.variable_formatting_failure').increment()
                formatted_variables = {'error': 'Error formatting variables'}

        error = Error(
            code=ERROR_CODE_SERVER_ERROR,
            message=f'Internal server error: {error_text}',
            traceback=traceback_text,
            variables=formatted_variables,
            is_caller_error=False,
        )
        return response_type(errors=[error], **kwargs)

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
        data: dict[str, Any] = {'request': request_for_logging, 'response': response_for_logging}
        if extra:
            data.update(extra)
        self.logger.error(message, exc_info=True, extra={'data': data})
        return JobResponse(errors=[Error(code=code, message=message, is_caller_error=False)])

    # ----- lifecycle hooks -----

    def setup(self) -> None:
        """Runs once before the loop starts (cache warming, ...). Overrides must call `super().setup()`."""

    def teardown(self) -> None:
        """Runs once after the loop ends. Overrides must call `super().teardown()`."""

    def perform_pre_request_actions(self) -> None:
        """Runs before each request is processed. Overrides must call super; prefer middleware."""
        if self.use_django:
            from pysoa.server.django.integration import reset_queries

            reset_queries()
        self._close_old_django_connections()

    def perform_post_request_actions(self) -> None:
        """Runs after each request is answered. Overrides must call super; prefer middleware."""
        self._close_old_django_connections()
        if self.use_django:
            from pysoa.server.django.integration import close_caches

            close_caches()
        if self._heartbeat is not None:
            self._heartbeat.update()

    def perform_idle_actions(self) -> None:
        """Runs when a receive times out with no request. Overrides must call super."""
        self._close_old_django_connections()
        if self._heartbeat is not None:
            self._heartbeat.update()

    def _close_old_django_connections(self) -> None:
        if self.use_django and not self._skip_django_database_cleanup:
            from pysoa.server.django.integration import close_old_connections

            close_old_connections()

    def _set_busy_metrics(self, busy: bool, running: bool = True) -> None:
        self.metrics.gauge('server.worker.running').set(1 if running else 0)
        self.metrics.gauge('server.worker.busy').set(1 if busy else 0)

    def handle_shutdown_signal(self, signal_number: int, stack_frame: FrameType | None) -> None:
        """The SIGINT/SIGTERM handler `run` installs: stop after this job; a second signal exits at once."""
        self._shutdown_signals.handle(signal_number, stack_frame)

    def harakiri(self, signal_number: int, stack_frame: FrameType | None) -> None:
        """The SIGALRM handler `run` installs: interrupt the running job, or exit if already interrupted."""
        self._harakiri.handle(signal_number, stack_frame)

    def request_shutdown(self) -> None:
        """Ask the loop to stop after the current request (what SIGINT and SIGTERM do)."""
        self.shutting_down = True

    # ----- the loop -----

    def run(self) -> None:
        """Serve requests until asked to stop (signal, harakiri, too many transport errors), then clean up."""
        self.logger.info(
            'Service "%s" server starting up, pysoa version %s, listening on transport %s.',
            self.service_name,
            __version__,
            self.transport,
        )
        self.setup()
        self.metrics.counter('server.worker.startup').increment()
        self._set_busy_metrics(False)
        self.metrics.publish_all()

        if self.settings['heartbeat_file']:
            self._heartbeat = HeartbeatFile(self.settings['heartbeat_file'], self._forked_process_id, self.logger)
            self._heartbeat.create()

        harakiri = self._harakiri
        signals = self._shutdown_signals
        if threading.current_thread() is threading.main_thread():
            # Signal handlers can only be installed from the main thread (tests may run a server elsewhere).
            signals.install(self.handle_shutdown_signal)
            harakiri.install(self.harakiri)

        try:
            self._loop(harakiri)
        except HarakiriInterrupt:
            self.metrics.counter('server.error.harakiri', harakiri_level='server').increment()
            self.logger.error('Harakiri interrupt occurred outside of action or job handling')
        except Exception:
            self.metrics.counter('server.error.unknown').increment()
            self.logger.exception('Unhandled server error; shutting down')
        finally:
            # A pending harakiri alarm stays armed through shutdown: it kills a worker whose teardown hangs.
            try:
                self._shut_down()
            finally:
                harakiri.restore()
                signals.restore()

    def _loop(self, harakiri: Harakiri) -> None:
        transient_failures = 0
        while not self.shutting_down:
            harakiri.arm()
            try:
                self.handle_next_request()
                if transient_failures > 0:
                    transient_failures -= 1
            except TransientPySOATransportError as error:
                if transient_failures > _MAX_TRANSIENT_FAILURES:
                    self.logger.exception('Too many errors receiving message from transport; shutting down!')
                    return
                delay = (2**transient_failures + random.random()) / 4.0
                # The error is named so that an operator can tell "Redis down" from "wrong password"; once the
                # back-off reaches seconds the trouble is lasting, hence a warning.
                self.logger.log(
                    logging.WARNING if delay >= 2 else logging.INFO,
                    'Transient error from the transport (%s: %s), sleeping %.2f seconds and continuing.',
                    type(error).__name__,
                    error,
                    delay,
                )
                self._sleep_unless_shutting_down(delay)
                transient_failures += 1
            finally:
                self.metrics.publish_all()

    def _sleep_unless_shutting_down(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.shutting_down:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.1))

    def _shut_down(self) -> None:
        try:
            self.teardown()
        finally:
            self.metrics.counter('server.worker.shutdown').increment()
            self._set_busy_metrics(False, False)
            self.metrics.publish_all()
            self.logger.info('Server shutting down')
            self._coroutine_runner.stop()
            if self.use_django:
                from pysoa.server.django.integration import close_caches

                self.logger.info('Closing all Django caches')
                close_caches(shutdown=True)
            if self._heartbeat is not None:
                self._heartbeat.delete()
                self._heartbeat = None
            self.logger.info('Server shutdown complete')

    # ----- process entry point -----

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
        parser = argparse.ArgumentParser(description=f'Server for the {cls.service_name} SOA service')
        parser.add_argument('-d', '--daemon', action='store_true', help='run the server process as a daemon')
        if not cls.use_django:
            parser.add_argument('-s', '--settings', help='the settings module to use', required=True)
        parser.add_argument(
            '--log-format',
            choices=('json', 'text'),
            default=None,
            help='the format of the default console log handler (default: json)',
        )
        options, _ = parser.parse_known_args(sys.argv[1:])

        settings = cls._load_settings(getattr(options, 'settings', None))
        if not cls.service_name:
            raise AttributeError('Server subclass must set service_name')

        PySOALogContextFilter.set_service_name(cls.service_name)
        logging_config = settings['logging']
        if options.log_format == 'text' and 'console' in logging_config.get('handlers', {}):
            logging_config['handlers']['console']['formatter'] = 'console'
        logging.config.dictConfig(logging_config)

        if options.daemon:
            pid = os.fork()
            if pid > 0:
                print(f'PID={pid}')
                sys.exit()

        server = cls.initialize(settings)(settings, forked_process_id)
        server.run()

    @classmethod
    def _load_settings(cls, settings_module_name: str | None) -> ServerSettings:
        if cls.use_django:
            from pysoa.server.django.integration import get_django_server_settings

            return cls.settings_class(get_django_server_settings())

        assert settings_module_name is not None
        try:
            module = importlib.import_module(settings_module_name)
        except ImportError as e:
            raise ValueError(f'Cannot import settings module `{settings_module_name}`: {e}')
        settings_dict = getattr(module, 'SOA_SERVER_SETTINGS', None)
        if settings_dict is None:
            settings_dict = getattr(module, 'settings', None)
        if settings_dict is None:
            raise ValueError(
                'Cannot find `SOA_SERVER_SETTINGS` or `settings` variable in settings module '
                f'`{settings_module_name}`.',
            )
        return cls.settings_class(settings_dict)
