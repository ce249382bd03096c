"""`python -m tests.library_service -s tests.library_service.settings [--fork N]`."""

from pysoa.server.standalone import simple_main


def _get_server_class() -> type:
    from tests.library_service.server import LibraryEchoServer

    return LibraryEchoServer


if __name__ == '__main__':
    simple_main(_get_server_class)
