"""`python -m tests.concurrent_service -s tests.concurrent_service.settings [--fork N]`.

`CONCURRENT_ROLE=callee` runs the `callee` service instead, which the `trace` action calls.
"""

import os

from pysoa.server.standalone import simple_main


def _get_server_class() -> type:
    from tests.concurrent_service.server import CalleeServer, ConcurrentServer

    return CalleeServer if os.environ.get('CONCURRENT_ROLE') == 'callee' else ConcurrentServer


if __name__ == '__main__':
    simple_main(_get_server_class)
