"""Makes the calls described by a JSON plan on stdin and prints their results as JSON on stdout.

Run with `python -m peer.client`. The plan::

    {"redis": "host:port", "service": "...", "protocol_version": 3, "serializer": "msgpack" | "json",
     "context": {...}, "switches": [...], "correlation_id": "...",
     "calls": [{"action": "echo", "body": {...}}, {"actions": [...], "continue_on_error": true}, ...]}

A string "$samples" anywhere in a body is replaced by `sample_values()`, so the extension types travel from
this client. Each result holds the described action bodies and errors, or the exception the call raised.
"""

import json
import sys
from typing import Any

import pysoa
from pysoa.client.client import Client

from .values import describe, sample_values

_SERIALIZERS = {
    'msgpack': 'pysoa.common.serializer:MsgpackSerializer',
    'json': 'pysoa.common.serializer:JSONSerializer',
}


def _expand(value: Any) -> Any:
    if value == '$samples':
        return sample_values()
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def _error(error: Any) -> dict[str, Any]:
    return {
        'code': error.code,
        'message': error.message,
        'field': error.field,
        'variables': error.variables,
        'denied_permissions': error.denied_permissions,
        'is_caller_error': error.is_caller_error,
        'has_traceback': bool(error.traceback),
    }


def make_client(plan: dict[str, Any]) -> Client:
    """A client for the plan's service, with the plan's protocol version and serializer."""
    host, port = plan['redis'].rsplit(':', 1)
    kwargs: dict[str, Any] = {
        'backend_type': 'redis.standard',
        'backend_layer_kwargs': {'hosts': [(host, int(port))]},
        'protocol_version': plan.get('protocol_version', 3),
        'default_serializer_config': {'path': _SERIALIZERS[plan.get('serializer', 'msgpack')]},
        'receive_timeout_in_seconds': plan.get('receive_timeout', 10),
    }
    return Client(
        {
            plan['service']: {
                'transport': {
                    'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
                    'kwargs': kwargs,
                },
            }
        }
    )


def run_call(client: Client, plan: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    """Make one job request and describe what came back."""
    actions = call.get('actions') or [{'action': call['action'], 'body': call.get('body', {})}]
    actions = [{'action': a['action'], 'body': _expand(a.get('body', {}))} for a in actions]
    try:
        response = client.call_actions(
            plan['service'],
            actions,
            raise_job_errors=False,
            raise_action_errors=False,
            continue_on_error=call.get('continue_on_error', False),
            switches=plan.get('switches'),
            correlation_id=plan.get('correlation_id'),
            context=plan.get('context'),
        )
    except Exception as exception:  # the test wants to see any failure, by type
        return {'exception': type(exception).__name__, 'message': str(exception)}
    return {
        'job_errors': [_error(e) for e in response.errors],
        'actions': [
            {'action': r.action, 'errors': [_error(e) for e in r.errors], 'body': describe(r.body)}
            for r in response.actions
        ],
    }


def main() -> None:
    """Read the plan, run every call in order, print the results."""
    plan = json.load(sys.stdin)
    client = make_client(plan)
    results = [run_call(client, plan, call) for call in plan['calls']]
    output = {'implementation': pysoa.__version__, 'results': results, 'samples': describe(sample_values())}
    json.dump(output, sys.stdout)


if __name__ == '__main__':
    main()
