"""`python -m tests.alo_service -s tests.alo_service.settings [--fork N]`."""

from pysoa.server.standalone import simple_main


def _get_server_class() -> type:
    from tests.alo_service.server import CrashingEchoServer

    return CrashingEchoServer


if __name__ == '__main__':
    simple_main(_get_server_class)
