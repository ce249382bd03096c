"""The Redis Gateway engine shared by the client and server transports: options, then envelope, then backend.

`send_message` encodes `(request_id, meta, body)` (`envelope`) and pushes the elements in one round trip
(`backend`); `receive_message` pops one element (and, on the client, the rest of a chunked response) and
decodes it. What happens here is the orchestration: back-off while a queue is full, metrics, and the
mapping of Redis failures to transport errors (transient ones are `MessageSendError` / `MessageReceiveError`).
"""

import logging
import time
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, cast

import redis

from pysoa.common.backoff import jittered_backoff
from pysoa.common.logging import RecursivelyCensoredDictWrapper
from pysoa.common.metrics import MetricsRecorder, noop_metrics
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import (
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageTooLarge,
)
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient, CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.registry import SHARED_BACKENDS, backend_class_for, shared_backend
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient  # noqa: F401  # 1.x patch point
from pysoa.common.transport.redis_gateway.backend.standard import StandardRedisClient  # noqa: F401  # 1.x patch point
from pysoa.common.transport.redis_gateway.constants import (
    QUEUE_NAME_PREFIX,
    REDIS_BACKEND_TYPE_STANDARD,
    RESPONSE_QUEUE_SPECIFIER,
    ProtocolVersion,
)
from pysoa.common.transport.redis_gateway.envelope import (
    Envelope,
    InvalidEnvelopeError,
    MessageExpiredError,
    UnreadableMessageError,
    decode_request,
    decode_response,
    encode,
    expiry_times,
    reply_version,
    wire_envelope,
)
from pysoa.common.transport.redis_gateway.framing import SUPPORTED_HEADERS_RE
from pysoa.common.transport.redis_gateway.options import (
    ClientTransportOptions,
    OptionAttribute,
    ServerTransportOptions,
    TransportOptions,
)
from pysoa.common.transport.redis_gateway.serializers import SerializerChoice

__all__ = ('RedisTransportClientCore', 'RedisTransportCore', 'RedisTransportServerCore')

_logger = logging.getLogger(__name__)
_oversized_message_logger = logging.getLogger('pysoa.transport.oversized_message')


class RedisTransportCore:
    """Sends and receives framed messages on Redis lists; the client and server cores specialize it.

    Its settings are `options`; the 1.x attribute names (`receive_timeout_in_seconds`, ...) read them.
    """

    SUPPORTED_HEADERS_RE = SUPPORTED_HEADERS_RE
    EXPONENTIAL_BACK_OFF_FACTOR = 4.0
    QUEUE_NAME_PREFIX = QUEUE_NAME_PREFIX
    GLOBAL_QUEUE_SPECIFIER = RESPONSE_QUEUE_SPECIFIER

    _backend_layer_cache: ClassVar[dict[tuple[str, Hashable], BaseRedisClient]] = SHARED_BACKENDS
    options_class: ClassVar[type[TransportOptions]] = TransportOptions
    is_server: ClassVar[bool] = False
    _metric_prefix: ClassVar[str] = 'transport.redis_gateway.'
    chunk_messages_larger_than_bytes: int = -1
    protocol_version: ProtocolVersion = ProtocolVersion.VERSION_3

    backend_type = OptionAttribute[str]()
    backend_layer_kwargs = OptionAttribute[dict[str, Any]]()
    log_messages_larger_than_bytes = OptionAttribute[int]()
    maximum_message_size_in_bytes = OptionAttribute[int]()
    message_expiry_in_seconds = OptionAttribute[int]()
    queue_capacity = OptionAttribute[int]()
    queue_full_retries = OptionAttribute[int]()
    receive_timeout_in_seconds = OptionAttribute[int]()
    default_serializer_config = OptionAttribute[dict[str, Any]]()

    def __init__(
        self,
        backend_type: str = REDIS_BACKEND_TYPE_STANDARD,
        *,
        metrics: MetricsRecorder = noop_metrics,
        service_name: str = '',
        **options: Any,  # the transport's keyword arguments: see `options.py` (unknown ones raise TypeError)
    ) -> None:
        if not isinstance(service_name, str):
            raise ValueError('service_name must be a str')
        self.options = self.options_class(backend_type=backend_type, **options)
        self.metrics = metrics
        self.service_name = service_name
        self._backend_layer: BaseRedisClient | None = None
        self._serializers = SerializerChoice(self.options.default_serializer_config, service_name)
        self._message_size_metric = self._metric_prefix + 'send.message_size'

    @property
    def backend_layer(self) -> BaseRedisClient:
        """The backend (standard hosts or Sentinel), created on first use and shared by equal settings."""
        if self._backend_layer is None:
            self._backend_layer = shared_backend(self.backend_type, self.backend_layer_kwargs, self._create_backend)
        return self._backend_layer

    def _create_backend(self) -> BaseRedisClient:
        backend_class = backend_class_for(self.backend_type)
        # PySOA 1.x's tests patch `StandardRedisClient` or `SentinelRedisClient` in this module (imported for that
        # alone), so the class is looked up here by name, where a patch is seen.
        create = cast(Callable[..., BaseRedisClient], globals().get(backend_class.__name__, backend_class))
        return create(**self.backend_layer_kwargs)

    @property
    def default_serializer(self) -> Serializer:
        """The serializer for messages this side originates, and for received messages without a content type."""
        return self._serializers.default

    def send_message(
        self,
        queue_name: str,
        request_id: int,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        """Send one message to `queue_name` (without the `pysoa:` prefix).

        Sets `meta['__expiry__']`. `meta['serializer']` and `meta['protocol_version']` (as a server finds
        them in a received request's meta) select the format of the reply and are not transmitted.
        Raises InvalidMessageError, MessageTooLarge, MessageSendError; serializer errors pass through.
        """
        if request_id is None:
            raise InvalidMessageError('No request ID')
        now = time.time()
        expires_at, redis_expiry = expiry_times(now, message_expiry_in_seconds, self.message_expiry_in_seconds)
        meta['__expiry__'] = expires_at
        serializer = meta.get('serializer') or self.default_serializer
        version = reply_version(meta, self.protocol_version)
        elements = self._encode(wire_envelope(request_id, meta, body), serializer, version)
        queue_key = self.QUEUE_NAME_PREFIX + queue_name
        connection = self._get_redis_connection(True, queue_key)
        self._push(queue_name, queue_key, elements, redis_expiry, connection, expires_at)

    def _encode(self, message: Envelope, serializer: Serializer, version: ProtocolVersion) -> bytes | list[bytes]:
        size_metric = self.metrics.histogram(self._message_size_metric)
        try:
            encoded = encode(
                message,
                serializer,
                version,
                maximum_size=self.maximum_message_size_in_bytes,
                chunk_size=self.chunk_messages_larger_than_bytes,
            )
        except MessageTooLarge as error:
            size_metric.set(error.message_size_in_bytes)
            self._count('send.error.message_too_large')
            raise
        size_metric.set(encoded.size)
        if 0 < self.log_messages_larger_than_bytes < encoded.size:
            self._log_oversized_message(message, encoded.size)
        if isinstance(encoded.elements, list):
            self.metrics.histogram(self._metric_prefix + 'send.chunk_count').set(len(encoded.elements))
        return encoded.elements

    def _log_oversized_message(self, message: Envelope, size: int) -> None:
        _oversized_message_logger.warning(
            'Oversized message sent for PySOA service %s',
            self.service_name,
            extra={
                'data': {
                    'message': RecursivelyCensoredDictWrapper(cast(dict[str, Any], message)),
                    'serialized_length_in_bytes': size,
                    'threshold': self.log_messages_larger_than_bytes,
                },
            },
        )

    def _push(
        self,
        queue_name: str,
        queue_key: str,
        elements: bytes | list[bytes],
        redis_expiry: int,
        connection: redis.Redis,
        expires_at: float,
    ) -> None:
        """Push the elements, retrying a full queue with jittered exponential back-off until the message expires."""
        for attempt in range(self.queue_full_retries + 1):
            if self._push_once(queue_key, elements, redis_expiry, connection):
                return
            if attempt == self.queue_full_retries:
                break
            delay = jittered_backoff(attempt, self.EXPONENTIAL_BACK_OFF_FACTOR)
            if time.time() + delay >= expires_at:
                break  # waiting longer would only deliver a message nobody will accept
            self._count('send.queue_full_retry')
            self._count(f'send.queue_full_retry.retry_{attempt + 1}')
            time.sleep(delay)
        self._count('send.error.redis_queue_full')
        raise MessageSendError(f'Redis queue {queue_name} was full after {self.queue_full_retries} retries')

    def _push_once(self, queue_key: str, elements: bytes | list[bytes], expiry: int, connection: redis.Redis) -> bool:
        try:
            return self.backend_layer.push(connection, queue_key, elements, expiry=expiry, capacity=self.queue_capacity)
        except redis.ResponseError as error:
            self._reset_backend()
            self._count('send.error.response')
            raise MessageSendError(f'Redis error sending message for service {self.service_name}', *error.args)
        except Exception as error:
            self._reset_backend()
            self._count('send.error.unknown')
            if not isinstance(error, redis.RedisError | OSError):
                _logger.exception('Unknown error sending message in Redis transport core')
            raise MessageSendError(
                f'Unknown error sending message for service {self.service_name}', type(error).__name__, *error.args
            )

    def receive_message(self, queue_name: str, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        """Receive one message from `queue_name` (without the `pysoa:` prefix), blocking up to the timeout.

        The returned meta also holds `serializer` and `protocol_version`, the format the message came in.
        Raises MessageReceiveTimeout (nothing arrived, or the message had expired), MessageReceiveError,
        InvalidMessageError (undecodable, or a bad envelope: then an InvalidEnvelopeError).
        """
        queue_key = self.QUEUE_NAME_PREFIX + queue_name
        timeout = receive_timeout_in_seconds or self.receive_timeout_in_seconds
        connection = self._get_redis_connection(False, queue_key)
        element = self._pop(connection, queue_key, timeout)
        try:
            return self._decode(element, lambda: self._pop(connection, queue_key, timeout))
        except MessageExpiredError as error:
            self._count('receive.error.message_expired')
            # Nobody waits for it any more (protocol §4), but a backlog that makes requests expire must show.
            _logger.warning(
                'Discarding message %r for service %s: expired %.3f seconds ago',
                error.request_id,
                self.service_name,
                error.late_by,
            )
            raise
        except UnreadableMessageError:
            self._count('receive.error.invalid_message')
            raise
        except InvalidEnvelopeError as error:
            if error.reason:
                self._count(f'receive.error.{error.reason}')
            raise

    def _decode(self, element: bytes, read_next: Callable[[], bytes]) -> ReceivedMessage:
        """A received response (this side sent the request), its other chunks from `read_next`."""
        return decode_response(element, read_next, self._serializers.for_content_type, self.service_name, time.time())

    def _pop(self, connection: redis.Redis, queue_key: str, timeout: float) -> bytes:
        try:
            element = self.backend_layer.pop(connection, queue_key, timeout)
        except Exception as error:
            self._reset_backend()
            self._count('receive.error.unknown')
            raise MessageReceiveError(
                f'Unknown error receiving message for service {self.service_name}', type(error).__name__, *error.args
            )
        if element is None:
            raise MessageReceiveTimeout(f'No message received for service {self.service_name}')
        if not isinstance(element, bytes):
            raise InvalidMessageError(f'Invalid message for service {self.service_name}: not bytes')
        return element

    def _get_redis_connection(self, for_send: bool, queue_key: str) -> redis.Redis:
        try:
            return self.backend_layer.get_connection(queue_key)
        except CannotGetConnectionError as error:
            direction = 'send' if for_send else 'receive'
            self._count(f'{direction}.error.connection')
            raise (MessageSendError if for_send else MessageReceiveError)(f'Cannot get connection: {error.args[0]}')

    def _reset_backend(self) -> None:
        """After a Redis error, make the backend look its servers up again (Sentinel: the master may have moved)."""
        if self._backend_layer is not None:
            self._backend_layer.reset_clients()

    def _count(self, name: str) -> None:
        self.metrics.counter(self._metric_prefix + name).increment()


class RedisTransportClientCore(RedisTransportCore):
    """The client side: sends requests in `protocol_version` (default 3) and reassembles chunked responses."""

    options_class = ClientTransportOptions
    options: ClientTransportOptions
    is_server = False
    _metric_prefix = 'client.transport.redis_gateway.'
    protocol_version = OptionAttribute[ProtocolVersion]()


class RedisTransportServerCore(RedisTransportCore):
    """The server side: larger default limits, optional chunking of responses to version 3 clients."""

    options_class = ServerTransportOptions
    options: ServerTransportOptions
    is_server = True
    _metric_prefix = 'server.transport.redis_gateway.'
    chunk_messages_larger_than_bytes = OptionAttribute[int]()

    def _decode(self, element: bytes, read_next: Callable[[], bytes]) -> ReceivedMessage:
        """A received request: never chunked, and salvaged when unreadable so that its sender can be told."""
        return decode_request(element, self._serializers.for_content_type, self.service_name, time.time())
