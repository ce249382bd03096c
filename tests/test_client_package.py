"""The client's public surface: the names, import paths and signatures that 1.x code relies on."""

import inspect
from typing import Any

import pytest

import pysoa.client
import pysoa.client.client
import pysoa.client.errors
import pysoa.client.expander
import pysoa.client.middleware
import pysoa.client.settings
from pysoa.client import Client
from pysoa.client.errors import (
    CallActionError,
    CallJobError,
    ImproperlyConfigured,
    InvalidExpansionKey,
    PySOAClientError,
)
from pysoa.common.errors import Error, PySOAError
from pysoa.common.types import ActionResponse

CALL_OPTIONS = ['expansions', 'raise_job_errors', 'raise_action_errors']
REQUEST_OPTIONS = ['switches', 'correlation_id']
HEADERS = ['context', 'control_extra']

# Parameter names in 1.4.9 order (self omitted), with the defaults 1.x documents.
SIGNATURES: dict[str, list[str]] = {
    'call_action': ['service_name', 'action', 'body', *CALL_OPTIONS, 'timeout', *REQUEST_OPTIONS, *HEADERS],
    'call_actions': [
        'service_name', 'actions', *CALL_OPTIONS, 'timeout', *REQUEST_OPTIONS, 'continue_on_error', *HEADERS,
    ],
    'call_actions_parallel': [
        'service_name', 'actions', *CALL_OPTIONS, 'catch_transport_errors', 'timeout', *REQUEST_OPTIONS, *HEADERS,
    ],
    'call_jobs_parallel': [
        'jobs', *CALL_OPTIONS, 'catch_transport_errors', 'timeout', *REQUEST_OPTIONS, 'continue_on_error', *HEADERS,
    ],
    'send_request': [
        'service_name', 'actions', *REQUEST_OPTIONS, 'continue_on_error', *HEADERS,
        'message_expiry_in_seconds', 'suppress_response',
    ],
    'get_all_responses': ['service_name', 'receive_timeout_in_seconds'],
}  # fmt: skip
SIGNATURES.update({f'{name}_future': SIGNATURES[name] for name in list(SIGNATURES)[:4]})
SIGNATURES.update({f'{name}_async': SIGNATURES[name] for name in list(SIGNATURES)[:4]})

DEFAULTS: dict[str, Any] = {
    'body': None,
    'expansions': None,
    'raise_job_errors': True,
    'raise_action_errors': True,
    'catch_transport_errors': False,
    'timeout': None,
    'switches': None,
    'correlation_id': None,
    'continue_on_error': False,
    'context': None,
    'control_extra': None,
    'message_expiry_in_seconds': None,
    'suppress_response': False,
    'receive_timeout_in_seconds': None,
}


@pytest.mark.parametrize('method', sorted(SIGNATURES))
def test_method_parameters_match_1x(method: str) -> None:
    parameters = list(inspect.signature(getattr(Client, method)).parameters.values())[1:]

    assert [p.name for p in parameters] == SIGNATURES[method]
    for parameter in parameters:
        if parameter.name in DEFAULTS:
            assert parameter.default == DEFAULTS[parameter.name], parameter.name
        else:
            assert parameter.default is inspect.Parameter.empty, parameter.name


def test_constructor_parameters_match_1x() -> None:
    parameters = inspect.signature(Client).parameters

    assert list(parameters) == ['config', 'expansion_config', 'settings_class', 'context']
    assert [p.default for p in list(parameters.values())[1:]] == [None, None, None]


def test_import_paths() -> None:
    assert pysoa.client.Client is pysoa.client.client.Client
    assert pysoa.client.__all__ == ('Client',)
    for module in (
        pysoa.client.client,
        pysoa.client.errors,
        pysoa.client.expander,
        pysoa.client.middleware,
        pysoa.client.settings,
    ):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value.__doc__, f'{module.__name__}.{name} has no docstring'
    assert pysoa.client.client.ServiceHandler.__module__ == 'pysoa.client.handler'
    assert pysoa.client.client.FutureSOAResponse is Client.FutureResponse


def test_error_aliases_and_hierarchy() -> None:
    assert Client.JobError is Client.CallJobError is CallJobError
    assert Client.CallActionError is CallActionError
    assert Client.ImproperlyConfigured is ImproperlyConfigured
    assert Client.InvalidExpansionKey is InvalidExpansionKey
    for error in (CallActionError, CallJobError, ImproperlyConfigured, InvalidExpansionKey):
        assert issubclass(error, PySOAClientError)
    assert issubclass(PySOAClientError, PySOAError)


def test_error_attributes_and_messages() -> None:
    errors = [Error(code='A', message='first')]
    job_error = CallJobError(errors)
    action = ActionResponse(action='do', errors=errors)
    action_error = CallActionError([action])

    assert job_error.errors is errors
    assert CallJobError().errors == []
    assert str(job_error).startswith('Error executing job:\n') and 'first' in str(job_error)
    assert action_error.actions == [action]
    assert str(action_error).startswith('Error calling action(s):\ndo: ')
