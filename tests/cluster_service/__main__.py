"""`python -m tests.cluster_service -s tests.cluster_service.settings [--fork N]`."""

import os

from pysoa.server.standalone import simple_main


def _get_server_class() -> type:
    from tests.alo_service.server import CrashingEchoServer

    # Several services of one code, each on its own queue (and so its own hash slot).
    return type('ClusterEchoServer', (CrashingEchoServer,), {'service_name': os.environ['CLUSTER_SERVICE_NAME']})


if __name__ == '__main__':
    simple_main(_get_server_class)
