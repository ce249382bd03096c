"""`python -m bench.faults.peer -s bench.faults.peer.settings [--fork N]`."""

from pysoa.server.standalone import simple_main


def _get_server_class() -> type:
    from bench.faults.peer.server import FaultsServer

    return FaultsServer


if __name__ == '__main__':
    simple_main(_get_server_class)
