"""Dispatch: from a received job to its `JobResponse`, through the job middleware, each action's middleware and the
action, with every exception turned into the response that reports it.

What the `Server` override points (`process_job`, `execute_job`, `handle_unhandled_exception`) do by default
lives here. The server's methods delegate to its `Dispatcher`, and the dispatcher calls back through the server
(`server.execute_job`, `server.handle_job_exception`, ...), so an override on a subclass or an instance still
takes effect. Who is blamed for what:

- a malformed job, a `JobError`: the job answers with those errors;
- an unknown action name in the job: the caller's error (`UNKNOWN`, field `action`);
- an `ActionError`: that action answers with its errors;
- harakiri during an action or the job: `ACTION_TIMEOUT` or `JOB_TIMEOUT`, the service's error;
- anything else: `SERVER_ERROR` with the message and traceback, the service's error.
"""

import logging
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pysoa.common.constants import (
    ERROR_CODE_ACTION_TIMEOUT,
    ERROR_CODE_JOB_TIMEOUT,
    ERROR_CODE_SERVER_ERROR,
    ERROR_CODE_UNKNOWN,
)
from pysoa.common.errors import Error
from pysoa.common.logging import PySOALogContextFilter, RecursivelyCensoredDictWrapper
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.server.action_metrics import ActionCall
from pysoa.server.errors import ActionError, HarakiriInterrupt, JobError
from pysoa.server.middleware import ServerMiddlewareActionTask
from pysoa.server.request_state import bind_deadline
from pysoa.server.schemas import job_request_errors
from pysoa.server.types import ActionType, EnrichedActionRequest, EnrichedJobRequest, RequestSwitchSet

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = (
    'Dispatcher',
    'call_local_action',
    'local_failure',
    'server_error_response',
    'unknown_action_error',
)

_RT = TypeVar('_RT', JobResponse, ActionResponse)

_JOB_TIMEOUT_MESSAGE = 'The service job ran for too long and had to be interrupted (probably a middleware issue).'


def unknown_action_error(name: str, is_caller_error: bool) -> Error:
    """The error for an action name that this server does not know."""
    return Error(
        code=ERROR_CODE_UNKNOWN,
        message=f'The action "{name}" was not found on this server.',
        field='action',
        is_caller_error=is_caller_error,
    )


def server_error_response(
    exception: BaseException,
    response_type: type[_RT],
    variables: Mapping[str, object] | None,
    metrics: MetricsRecorder,
    logger: logging.Logger,
    redaction: type[RecursivelyCensoredDictWrapper] | None = None,
    send_traceback: bool = True,
    **kwargs: Any,
) -> _RT:
    """Log `exception` and return a `response_type` carrying a SERVER_ERROR with its message and traceback.

    What goes back to the caller (message, traceback, variables) is censored first with `redaction`'s rule (a
    server passes its `logging_dict_wrapper_class`); the traceback is left out when `send_traceback` is false.
    """
    try:
        error_text = str(exception)
    except Exception:
        metrics.counter('server.error.error_formatting_failure').increment()
        error_text = 'Error formatting error'
    if redaction is not None:
        error_text = redaction.redact_text(error_text)
    logger.error('Unhandled exception: %s', error_text, exc_info=exception)
    traceback_text: str | None = None
    if send_traceback:
        traceback_text = ''.join(traceback.format_exception(type(exception), exception, exception.__traceback__))
        traceback_text = redaction.redact_text(traceback_text) if redaction is not None else traceback_text

    formatted_variables: dict[str, str] | None = None
    if variables is not None:
        try:
            formatted_variables = {key: repr(value) for key, value in variables.items()}
        except Exception:
            metrics.counter('server.error.variable_formatting_failure').increment()
            formatted_variables = {'error': 'Error formatting variables'}
        if redaction is not None:
            formatted_variables = _redacted_variables(formatted_variables, redaction)

    error = Error(
        code=ERROR_CODE_SERVER_ERROR,
        message=f'Internal server error: {error_text}',
        traceback=traceback_text,
        variables=formatted_variables,
        is_caller_error=False,
    )
    return response_type(errors=[error], **kwargs)


def _redacted_variables(variables: dict[str, str], redaction: type[RecursivelyCensoredDictWrapper]) -> dict[str, str]:
    sensitive, censored = redaction.sensitive_keys(), redaction.CENSORED_STRING
    return {key: censored if sensitive[key] else redaction.redact_text(text) for key, text in variables.items()}


def _instantiate(action_type: ActionType, server: 'Server') -> ServerMiddlewareActionTask:
    action: ServerMiddlewareActionTask = action_type(server.settings)
    return action


class Dispatcher:
    """Runs jobs and actions for one server; built once, with the job middleware stack it reuses for every job."""

    def __init__(self, server: 'Server') -> None:
        self._server = server
        # Built once: the job stack does not depend on the request (actions get a fresh stack, see `run_action`).
        self._job_stack = server.make_middleware_stack([m.job for m in server._middleware], self._execute_job)
        self._action_middleware = [m.action for m in server._middleware]
        self._status_action_class: ActionType | None = None

    def _execute_job(self, job_request: EnrichedJobRequest) -> JobResponse:
        # Looked up on each call so that patching or overriding `execute_job` on the instance takes effect.
        return self._server.execute_job(job_request)

    def process_job(self, job_request: dict[str, Any]) -> JobResponse:
        """`Server.process_job`: validate the job, build its client and run it through the job middleware."""
        server = self._server
        try:
            errors = job_request_errors(job_request)
            if errors:
                # Only a broken client sends a malformed job; say what is wrong, besides answering it.
                server.metrics.counter('server.job.request_invalid').increment()
                server.logger.error(
                    'Invalid job request: %s',
                    '; '.join(f'{e.field or "(job)"}: {e.message}' for e in errors),
                )
                raise JobError(errors, set_is_caller_error_to=None)

            context = job_request['context']
            enriched = EnrichedJobRequest(
                control=job_request['control'],
                context=context,
                actions=job_request['actions'],
                # Bound here too, for a `make_client` override that does not call `Server.make_client`.
                client=bind_deadline(server.make_client(context)),
                run_coroutine=server._run_coroutine,
            )
            job_response = self._job_stack(enriched)
            if 'correlation_id' in context:
                job_response.context['correlation_id'] = context['correlation_id']
            return job_response
        except HarakiriInterrupt:
            server.metrics.counter('server.error.harakiri', harakiri_level='job').increment()
            error = Error(code=ERROR_CODE_JOB_TIMEOUT, message=_JOB_TIMEOUT_MESSAGE, is_caller_error=False)
            return JobResponse(errors=[error])
        except JobError as e:
            server.metrics.counter('server.error.job_error').increment()
            return JobResponse(errors=e.errors)
        except Exception as e:
            server.metrics.counter('server.error.unhandled_error').increment()
            return server.handle_job_exception(e)

    def execute_job(self, job_request: EnrichedJobRequest) -> JobResponse:
        """`Server.execute_job`: run the job's actions in order and collect their responses."""
        server = self._server
        job_response = JobResponse()
        switches = RequestSwitchSet(job_request.context['switches'])
        continue_on_error = job_request.control.get('continue_on_error', False)
        for simple_request in job_request.actions:
            action_request = server.request_class(
                action=simple_request.action,
                body=simple_request.body,
                switches=switches,
                context=job_request.context,
                control=job_request.control,
                client=job_request.client,
                run_coroutine=job_request.run_coroutine,
            )
            action_request._server = server
            action_response, interrupted = self.run_action(action_request)
            job_response.actions.append(action_response)
            if interrupted or (action_response.errors and not continue_on_error):
                break
        return job_response

    def resolve_action(self, name: str) -> ServerMiddlewareActionTask | None:
        """A fresh instance of the action `name`: mapped, or the built-in `introspect` or `status`; else None."""
        server = self._server
        if name in server.action_class_map:
            return _instantiate(server.action_class_map[name], server)
        if name == 'introspect':
            # Read from the class: a plain function stored there must not become a bound method.
            custom = type(server).introspection_action
            if custom is not None:
                return custom(server)
            from pysoa.server.action.introspection import IntrospectionAction

            return IntrospectionAction(server=server)
        if name == 'status':
            if self._status_action_class is None:
                from pysoa.server.action.status import make_default_status_action_class

                self._status_action_class = make_default_status_action_class(type(server))
            return _instantiate(self._status_action_class, server)
        return None

    def run_action(self, action_request: EnrichedActionRequest) -> tuple[ActionResponse, bool]:
        """Run one action through the action middleware: its response, and whether harakiri interrupted it."""
        name = action_request.action
        known = name in self._server.action_class_map or name in ('introspect', 'status')
        call = ActionCall.start(self._server.metrics, name, known)
        try:
            response, interrupted = self._run_action(action_request)
        except JobError as e:
            call.finish(e.errors)
            raise
        call.finish(response.errors)
        return response, interrupted

    def _run_action(self, action_request: EnrichedActionRequest) -> tuple[ActionResponse, bool]:
        server = self._server
        name = action_request.action
        PySOALogContextFilter.set_logging_action_name(name)
        try:
            action = self.resolve_action(name)
            if action is None:
                return ActionResponse(action=name, errors=[unknown_action_error(name, is_caller_error=True)]), False
            if self._action_middleware:
                # Per request, as in PySOA 1.x: middleware may look at the action instance it wraps.
                action = server.make_middleware_stack(self._action_middleware, action)
            return action(action_request), False
        except HarakiriInterrupt:
            server.metrics.counter('server.error.harakiri', harakiri_level='action').increment()
            message = f'The action "{name}" ran for too long and had to be interrupted.'
            error = Error(code=ERROR_CODE_ACTION_TIMEOUT, message=message, is_caller_error=False)
            return ActionResponse(action=name, errors=[error]), True
        except ActionError as e:
            return ActionResponse(action=name, errors=e.errors), False
        except JobError:
            # A job error raised by an action is deliberate: it answers for the whole job.
            raise
        except Exception as e:
            server.metrics.counter('server.error.unhandled_error').increment()
            return server.handle_unhandled_exception(e, ActionResponse, action=name), False
        finally:
            PySOALogContextFilter.clear_logging_action_name()


def call_local_action(
    server: 'Server',
    request: EnrichedActionRequest,
    raise_action_errors: bool,
    is_caller_error: bool,
) -> ActionResponse:
    """`EnrichedActionRequest.call_local_action`: run a mapped action of `server` in process, without middleware."""
    action_type = server.action_class_map.get(request.action)
    if action_type is None:
        # Not the caller's error: the name comes from this service's own code, not from the request it serves.
        return local_failure(request.action, raise_action_errors, unknown_action_error(request.action, False))
    action = _instantiate(action_type, server)
    try:
        response = action(request)
    except ActionError as e:
        if raise_action_errors:
            raise
        return ActionResponse(action=request.action, errors=e.errors)
    if raise_action_errors and response.errors:
        raise ActionError(response.errors, set_is_caller_error_to=is_caller_error)
    return response


def local_failure(action: str, raise_action_errors: bool, error: Error) -> ActionResponse:
    """The failure of a local call before the action ran: raised as an `ActionError`, or returned."""
    if raise_action_errors:
        raise ActionError([error], set_is_caller_error_to=None)
    return ActionResponse(action=action, errors=[error])
