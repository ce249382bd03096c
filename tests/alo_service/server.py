"""The echo service plus `crash` (the worker kills itself mid-request) and `count` (records each run in a file)."""

import os
import signal
import time
from typing import Any

from examples.echo_service.server import EchoServer
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.types import EnrichedActionRequest

__all__ = ('CrashingEchoServer',)


def _record(name: str) -> None:
    runs = os.environ.get('ALO_RUNS_FILE')
    if runs:
        with open(runs, 'a') as file:
            # `ALO_RUNS_TIMES`: "label pid@time", to tell when a run happened (the failover tests print it).
            worker = f'{os.getpid()}@{time.time():.3f}' if os.environ.get('ALO_RUNS_TIMES') else str(os.getpid())
            file.write(f'{name} {worker}\n')


class CrashAction(Action):
    """Record the run, then die as a segfault or the OOM killer would: no answer, no clean-up."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        _record('crash')
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError('unreachable')


class CountAction(Action):
    """Record the run with its label, and say which worker ran it and how often the request was delivered."""

    request_schema = fields.Dictionary({'label': fields.UnicodeString()})
    response_schema = fields.Dictionary({'label': fields.UnicodeString(), 'pid': fields.Integer()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        _record(request.body['label'])
        # `ALO_COUNT_SECONDS`: a little work, so that requests queue up and are in flight when Redis fails over.
        time.sleep(float(os.environ.get('ALO_COUNT_SECONDS', '0')))
        return {'label': request.body['label'], 'pid': os.getpid()}


class CrashingEchoServer(EchoServer):
    """The echo service with the two actions above."""

    action_class_map = {**EchoServer.action_class_map, 'crash': CrashAction, 'count': CountAction}
