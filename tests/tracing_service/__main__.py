"""`TRACING_SERVICE=<name> python -m tests.tracing_service -s tests.tracing_service.settings`."""

from pysoa.server.standalone import simple_main


def _get_server_class() -> type:
    from tests.tracing_service.server import server_from_environment

    return server_from_environment()


if __name__ == '__main__':
    simple_main(_get_server_class)
