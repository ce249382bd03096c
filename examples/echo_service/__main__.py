"""`python -m examples.echo_service -s examples.echo_service.settings [--fork N] [--use-file-watcher]`."""

from pysoa.server.standalone import simple_main


def _get_server_class() -> type:
    from examples.echo_service.server import EchoServer

    return EchoServer


if __name__ == '__main__':
    simple_main(_get_server_class)
