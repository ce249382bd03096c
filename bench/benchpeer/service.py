"""The benchmark service; start it with `python -m benchpeer.service -s benchpeer.settings`.

`BENCH_SERVICE` names the service; `BENCH_PROFILE`, when set, is a file that receives a cProfile dump of
the whole process when it stops.
"""

import cProfile
import os
from typing import Any

try:
    from pysoa.schema import fields  # this project (Conformity not needed)
except ImportError:  # PySOA 1.4.9, in its own venv, runs this same file
    from conformity import fields

from pysoa.server.action.base import Action
from pysoa.server.middleware import ServerMiddleware
from pysoa.server.server import Server
from pysoa.server.standalone import simple_main

from .payloads import large_payload, small_response


class SmallAction(Action):
    """A small request and response, both validated by Conformity schemas."""

    request_schema = fields.Dictionary(
        {
            'user_id': fields.Integer(),
            'name': fields.UnicodeString(),
            'email': fields.UnicodeString(),
            'tags': fields.List(fields.UnicodeString()),
            'score': fields.Float(),
            'active': fields.Boolean(),
        }
    )
    response_schema = fields.Dictionary(
        {
            'user_id': fields.Integer(),
            'greeting': fields.UnicodeString(),
            'tags': fields.List(fields.UnicodeString()),
            'ok': fields.Boolean(),
        }
    )

    def run(self, request: Any) -> dict[str, Any]:
        return small_response(request.body)


class LargeAction(Action):
    """Answers a string of the requested size."""

    request_schema = fields.Dictionary({'size': fields.Integer(gte=0)})

    def run(self, request: Any) -> dict[str, Any]:
        return {'data': large_payload(request.body['size'])}


class NoOpServerMiddleware(ServerMiddleware):
    """Wraps jobs and actions and does nothing else: the cost of one real middleware layer."""

    def job(self, process_job: Any) -> Any:
        def handler(request: Any) -> Any:
            return process_job(request)

        return handler

    def action(self, process_action: Any) -> Any:
        def handler(request: Any) -> Any:
            return process_action(request)

        return handler


_PROFILE_PATH = os.environ.get('BENCH_PROFILE')
_profiler = cProfile.Profile() if _PROFILE_PATH else None


def _dump_profile() -> None:
    global _profiler
    profiler, _profiler = _profiler, None
    if profiler is not None and _PROFILE_PATH:
        profiler.disable()
        profiler.dump_stats(_PROFILE_PATH)


class BenchServer(Server):
    """The benchmark service; under `BENCH_PROFILE`, profiles from `setup` to `teardown` (the request loop)."""

    service_name = os.environ.get('BENCH_SERVICE', 'bench')
    action_class_map = {'small': SmallAction, 'large': LargeAction}

    def setup(self) -> None:
        super().setup()
        if _profiler is not None:
            _profiler.enable()

    def teardown(self) -> None:
        _dump_profile()
        super().teardown()


def main() -> None:
    """Run the server (and write the profile even if `teardown` was never reached)."""
    try:
        simple_main(lambda: BenchServer)
    finally:
        _dump_profile()


if __name__ == '__main__':
    main()
