"""The worker-side cost of the job log per call, in process (no Redis): it prints figures and asserts nothing.

    PYTHONPATH=. .venv/bin/python bench/job_log_cost.py [--calls 5000]

A server with the mock transport handles the same small job (one action, a ~100-byte body, request and response
schemas) again and again, its logs going through a real `StreamHandler` with the default JSON formatter and the
context filter (into memory). Three set-ups: the job logger at WARNING (logs nothing: the floor), at INFO with the
server's default settings, and at INFO with `request_log_success_level` and `request_log_error_level` at INFO (the
1.x default: whole bodies at INFO). The added cost of each is its time per call minus the floor's. CPU time of
this process, best of three rounds.
"""

import argparse
import io
import logging
import time
from typing import Any

from pysoa.common.logging import JSONFormatter, PySOALogContextFilter
from pysoa.common.transport.base import ReceivedMessage
from pysoa.schema import fields
from pysoa.server.action.base import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest


class GetUser(Action):
    request_schema = fields.Dictionary({'user_id': fields.Integer(), 'fields': fields.List(fields.UnicodeString())})
    response_schema = fields.Dictionary({'user_id': fields.Integer(), 'name': fields.UnicodeString()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {'user_id': request.body['user_id'], 'name': 'Ada Lovelace'}


class BenchServer(Server):
    service_name = 'bench'
    action_class_map = {'get_user': GetUser}


JOB = {
    'control': {'continue_on_error': False},
    'context': {'switches': [], 'correlation_id': '1f6c2b0e9a7d4c3b', 'caller': 'bench.py'},
    'actions': [{'action': 'get_user', 'body': {'user_id': 42, 'fields': ['name', 'email', 'created']}}],
}
META = {'client_version': [2, 0, 0], 'reply_to': 'service.bench.abc!000000000001'}


def per_call_microseconds(settings: dict[str, Any], level: int, calls: int) -> float:
    server = BenchServer(
        ServerSettings({'transport': {'path': 'pysoa.test.mock_transport:MockServerTransport'}, **settings})
    )
    transport: Any = server.transport
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(PySOALogContextFilter())
    job_logger = logging.getLogger('pysoa.server.job')
    job_logger.addHandler(handler)
    job_logger.setLevel(level)
    job_logger.propagate = False
    best = float('inf')
    try:
        for _ in range(3):
            started = time.process_time()
            for request_id in range(calls):
                transport.incoming.append(ReceivedMessage(request_id, dict(META), JOB))
                server.handle_next_request()
                transport.sent.clear()
            best = min(best, time.process_time() - started)
            sink.seek(0)
            sink.truncate()
    finally:
        job_logger.removeHandler(handler)
    return best / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--calls', type=int, default=5000)
    calls = parser.parse_args().calls
    floor = per_call_microseconds({}, logging.WARNING, calls)
    default = per_call_microseconds({}, logging.INFO, calls)
    bodies = {'request_log_success_level': 'INFO', 'request_log_error_level': 'INFO'}
    at_info = per_call_microseconds(bodies, logging.INFO, calls)
    print(f'job logger at WARNING (floor):                 {floor:8.1f} us per call')
    print(f'INFO, default settings:                        {default:8.1f} us per call (+{default - floor:.1f})')
    print(f'INFO, request_log_*_level INFO (1.x bodies):   {at_info:8.1f} us per call (+{at_info - floor:.1f})')


if __name__ == '__main__':
    main()
