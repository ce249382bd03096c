"""The in-process transport: a client that runs the service's server in its own thread, synchronously.

`LocalClientTransport` builds the server and is also its server transport: sending a request
calls `server.handle_next_request()` at once, which receives that request and leaves its response
in a queue the client then reads. No serialization and no expiry: tests and embedded services use
it to call a service exactly as a remote client would, without Redis.
"""

from collections import deque
from typing import Any

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage, ServerTransport
from pysoa.schema import fields
from pysoa.server.server import Server

__all__ = (
    'LocalClientTransport',
    'LocalClientTransportSchema',
    'LocalServerTransport',
    'LocalServerTransportSchema',
)

LOCAL_SERVER_TRANSPORT_PATH = 'pysoa.common.transport.local:LocalServerTransport'

_server_settings_schema = fields.SchemalessDictionary(
    key_type=fields.UnicodeString(),
    description='The settings of the server (the server validates them itself)',
)


class LocalClientTransportSchema(fields.Dictionary):
    """The constructor arguments of `LocalClientTransport`."""

    contents = {
        'server_class': fields.Any(
            fields.TypePath(base_classes=Server, description='The importable path of the `Server` subclass'),
            fields.TypeReference(base_classes=Server, description='The `Server` subclass itself'),
            description='The server class to run in process, as a class or as a `module:Class` path',
        ),
        'server_settings': fields.Any(
            fields.PythonPath(
                value_schema=_server_settings_schema,
                description='The importable path of the settings dict, as `module.name:VARIABLE`',
            ),
            _server_settings_schema,
            description='The settings of the server, as a dict or as the importable path of one',
        ),
    }
    description = 'The constructor arguments of the local client transport.'


class LocalServerTransportSchema(fields.Dictionary):
    """`LocalServerTransport` takes no constructor arguments."""

    contents = {}
    description = 'The local server transport takes no constructor arguments.'


def _resolve(path: str, what: str) -> object:
    try:
        return fields.PythonPath.resolve_python_path(path)
    except (ValueError, ImportError, AttributeError) as e:
        raise type(e)(f'Could not resolve {what} path {path}: {e!r}')


@fields.ClassConfigurationSchema.provider(LocalClientTransportSchema())
class LocalClientTransport(ClientTransport, ServerTransport):
    """A client transport that runs the service's server in process and hands it each request directly."""

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder,
        server_class: type[Server] | str,
        server_settings: dict[str, Any] | str | None,
    ) -> None:
        """Build the server (`server_class`, a class or `module:Class` path) with `server_settings` (dict or path)."""
        ClientTransport.__init__(self, service_name, metrics)
        self.instance_index = 1

        resolved = _resolve(server_class, 'server class') if isinstance(server_class, str) else server_class
        if not isinstance(resolved, type) or not issubclass(resolved, Server):
            raise TypeError(f'server_class must be a Server subclass, not {resolved!r}')
        server_class = resolved
        if server_class.service_name != service_name:
            raise ValueError(
                f'Server {server_class.__name__} has service name "{server_class.service_name}", '
                f'which does not match "{service_name}"',
            )

        settings_dict: dict[str, Any]
        if isinstance(server_settings, str):
            imported = _resolve(server_settings, 'settings')
            if not isinstance(imported, dict):
                raise TypeError(f'Imported settings path {server_settings} is not a dictionary.')
            settings_dict = imported
        elif server_settings is None:
            settings_dict = {}
        elif isinstance(server_settings, dict):
            settings_dict = server_settings
        else:
            raise TypeError(f'server_settings must be a dict or an import path, not {type(server_settings).__name__}')

        # The server builds its transport from its settings: give it the stub, then take its place.
        settings_dict = dict(settings_dict, transport={'path': LOCAL_SERVER_TRANSPORT_PATH})

        self._current_request: ReceivedMessage | None = None
        self.response_messages: deque[ReceivedMessage] = deque()

        self.server_settings = server_class.settings_class(settings_dict)
        self.server: Server = server_class(self.server_settings)
        self.server.transport = self
        self.server.setup()

    def send_request_message(
        self,
        request_id: int,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: int | None = None,
    ) -> None:
        """Have the server handle the request now, in this thread; the response is queued when this returns."""
        self._current_request = ReceivedMessage(request_id, meta, body)
        try:
            self.server.handle_next_request()
        finally:
            self._current_request = None

    def receive_request_message(self) -> ReceivedMessage:
        """Give the server the request being sent (called from inside `send_request_message`)."""
        request = self._current_request
        if request is None:
            raise RuntimeError('Local server tried to receive message more than once')
        self._current_request = None
        return request

    def send_response_message(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Queue the server's response for the client."""
        self.response_messages.append(ReceivedMessage(request_id, meta, body))

    def receive_response_message(self, receive_timeout_in_seconds: int | None = None) -> ReceivedMessage:
        """The next queued response, or `ReceivedMessage(None, None, None)` at once when none is queued."""
        if self.response_messages:
            return self.response_messages.popleft()
        return ReceivedMessage(None, None, None)


@fields.ClassConfigurationSchema.provider(LocalServerTransportSchema())
class LocalServerTransport(ServerTransport):
    """A placeholder the server builds before `LocalClientTransport` takes its place; it cannot be used."""

    def receive_request_message(self) -> ReceivedMessage:
        """Always raises `TypeError`: this transport is a stub."""
        raise TypeError('The LocalServerTransport cannot be used directly; it is a stub.')

    def send_response_message(self, request_id: int, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Always raises `TypeError`: this transport is a stub."""
        raise TypeError('The LocalServerTransport cannot be used directly; it is a stub.')
