"""The echo service's `Server` subclass: its name and its actions."""

from examples.echo_service import __version__, actions
from pysoa.server import Server
from pysoa.server.action.status import StatusActionFactory
from pysoa.server.settings import ServerSettings

__all__ = ('EchoServer',)


class EchoServer(Server):
    """The `echo` service."""

    service_name = 'echo'
    action_class_map = {
        'echo': actions.EchoAction,
        'square': actions.SquareAction,
        'divide': actions.DivideAction,
        'large': actions.LargeAction,
        'sleep': actions.SleepAction,
        'whoami': actions.WhoAmIAction,
        'status': StatusActionFactory(__version__),
    }

    def __init__(self, settings: ServerSettings, forked_process_id: int | None = None) -> None:
        super().__init__(settings, forked_process_id)
        actions.worker_number = forked_process_id
