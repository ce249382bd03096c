"""The Conformity schemas that every incoming job request is validated against (protocol §1)."""

from conformity.fields import Boolean, Dictionary, Integer, List, SchemalessDictionary, UnicodeString

__all__ = (
    'ActionRequestSchema',
    'ContextHeaderSchema',
    'ControlHeaderSchema',
    'JobRequestSchema',
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
