"""The schemas that every incoming job request is validated against (protocol §1), and the check
that runs them.

A well-formed request, the common case, is checked by hand; the schema runs only to describe what is wrong.
"""

from pysoa.common.errors import Error
from pysoa.schema.fields import Boolean, Dictionary, Integer, List, SchemalessDictionary, UnicodeString
from pysoa.schema.types import Error as SchemaError

__all__ = (
    'ActionRequestSchema',
    'ContextHeaderSchema',
    'ControlHeaderSchema',
    'JobRequestSchema',
    'job_request_errors',
)

ActionRequestSchema = Dictionary(
    {
        'action': UnicodeString(description='The name of the action to run'),
        'body': SchemalessDictionary(key_type=UnicodeString(), description='The arguments of the action'),
    },
    optional_keys=('body',),
)
"""One action request: its name and (optionally) its body."""

ControlHeaderSchema = Dictionary(
    {
        'continue_on_error': Boolean(description='Whether to run the remaining actions after one fails'),
        'suppress_response': Boolean(description='Whether to process the job without sending a response'),
    },
    allow_extra_keys=True,
    optional_keys=('suppress_response',),
)
"""The control header: how the server runs the job."""

ContextHeaderSchema = Dictionary(
    {
        'caller': UnicodeString(description='Free-form information about the caller, for logs and metrics'),
        'calling_service': UnicodeString(
            description='The service that sent this request from inside one of its own requests (set automatically)',
        ),
        'correlation_id': UnicodeString(
            description='An identifier shared by all the requests that serve one logical operation',
        ),
        'switches': List(Integer(), description='The switches active for this request'),
    },
    allow_extra_keys=True,
    optional_keys=('caller', 'calling_service'),
)
"""The context header: information that travels with the request and into the requests it causes."""

JobRequestSchema = Dictionary(
    {
        'control': ControlHeaderSchema,
        'context': ContextHeaderSchema,
        'actions': List(ActionRequestSchema, min_length=1, description='The actions to run, in order'),
    },
)
"""A whole job request."""

_JOB_KEYS = frozenset(('control', 'context', 'actions'))
_ACTION_KEYS = frozenset(('action', 'body'))
_OPTIONAL_CONTEXT_STRINGS = ('caller', 'calling_service')


def _control_looks_valid(control: object) -> bool:
    if not isinstance(control, dict) or type(control.get('continue_on_error')) is not bool:
        return False
    return 'suppress_response' not in control or type(control['suppress_response']) is bool


def _context_looks_valid(context: object) -> bool:
    if not isinstance(context, dict) or not isinstance(context.get('correlation_id'), str):
        return False
    switches = context.get('switches')
    if not isinstance(switches, list) or any(type(switch) is not int for switch in switches):
        return False
    return all(isinstance(context[key], str) for key in _OPTIONAL_CONTEXT_STRINGS if key in context)


def _action_looks_valid(action: object) -> bool:
    if not isinstance(action, dict) or not action.keys() <= _ACTION_KEYS or not isinstance(action.get('action'), str):
        return False
    if 'body' not in action:
        return True
    body = action['body']
    return isinstance(body, dict) and all(type(key) is str for key in body)


def _looks_valid(job: object) -> bool:
    # The common case, checked by hand: the schema below runs only to say what is wrong.
    if type(job) is not dict or job.keys() != _JOB_KEYS:
        return False
    actions = job['actions']
    return (
        _control_looks_valid(job['control'])
        and _context_looks_valid(job['context'])
        and isinstance(actions, list)
        and bool(actions)
        and all(_action_looks_valid(action) for action in actions)
    )


def job_request_errors(job: object) -> list[Error]:
    """The errors that make `job` an invalid job request (empty when it is valid).

    These are never the caller's fault: only a broken client library sends a malformed job.
    """
    if _looks_valid(job):
        return []
    problems: list[SchemaError] = JobRequestSchema.errors(job) or []
    return [Error(code=p.code, message=p.message, field=p.pointer, is_caller_error=False) for p in problems]
