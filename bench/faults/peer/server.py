"""The `faults` service: `work` records each start and each completion of a request, by the caller's unique id.

The records go to a Redis of their own (`FAULTS_EXECUTIONS_URL`), which no fault touches, so the counts survive
whatever happens to the service's Redis: `started` and `completed` (hashes: id -> runs) and `busy:<pid>` (the id a
worker is running right now, which tells the runner which worker to kill mid-request).
"""

import os
import time
from typing import Any

import redis

from pysoa.schema import fields
from pysoa.server import Server
from pysoa.server.action import Action
from pysoa.server.types import EnrichedActionRequest

__all__ = ('FaultsServer', 'WorkAction')

_connection: tuple[int, 'redis.Redis'] | None = None


def executions() -> 'redis.Redis':
    """This process's connection to the executions Redis (a forked worker makes its own)."""
    global _connection
    if _connection is None or _connection[0] != os.getpid():
        _connection = (os.getpid(), redis.Redis.from_url(os.environ['FAULTS_EXECUTIONS_URL'], socket_timeout=5))
    return _connection[1]


class WorkAction(Action):
    """Record the start, work for `seconds`, record the completion, answer with the id and the worker's PID."""

    request_schema = fields.Dictionary({'uid': fields.UnicodeString(), 'seconds': fields.Float()})
    response_schema = fields.Dictionary(
        {'uid': fields.UnicodeString(), 'pid': fields.Integer(), 'delivery_count': fields.Integer()}
    )

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        uid, pid, store = request.body['uid'], os.getpid(), executions()
        with store.pipeline() as pipe:
            pipe.hincrby('started', uid, 1)
            pipe.set(f'busy:{pid}', uid)
            pipe.execute()
        time.sleep(request.body['seconds'])  # the work; a worker killed now has started the request, not completed it
        with store.pipeline() as pipe:
            pipe.hincrby('completed', uid, 1)
            pipe.delete(f'busy:{pid}')
            pipe.execute()
        return {'uid': uid, 'pid': pid, 'delivery_count': request.delivery_count}


class FaultsServer(Server):
    """The `faults` service."""

    service_name = 'faults'
    action_class_map = {'work': WorkAction}
