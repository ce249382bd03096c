"""The Redis Gateway engine shared by the client and server transports: options, then envelope, then backend.

`send_message` encodes `(request_id, meta, body)` (`envelope`) and pushes the elements in one round trip
(`backend`); `receive_message` pops one element (and, on the client, the rest of a chunked response) and decodes
it. Here is only orchestration: back-off while a queue is full, metrics, and Redis failures as transport errors.

Each call's Redis commands, finding a Sentinel master included, run under one deadline (`direct.time_limit`): a
send has the caller's timeout (the server: `REPLY_SECONDS`), a receive its timeout plus `POP_MARGIN_SECONDS`.
"""

import functools
import time
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, cast

import redis

from pysoa.common.metrics import MetricsRecorder, noop_metrics
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport import errors
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.redis_gateway import constants, envelope, reporting
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient, CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.direct import time_limit
from pysoa.common.transport.redis_gateway.backend.legacy import driven
from pysoa.common.transport.redis_gateway.backend.registry import SHARED_BACKENDS, backend_class_for, shared_backend
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient  # noqa: F401  # 1.x patch point
from pysoa.common.transport.redis_gateway.backend.standard import StandardRedisClient  # noqa: F401  # 1.x patch point
from pysoa.common.transport.redis_gateway.constants import POP_MARGIN_SECONDS, REPLY_SECONDS
from pysoa.common.transport.redis_gateway.failover_resend import FailoverResend
from pysoa.common.transport.redis_gateway.framing import SUPPORTED_HEADERS_RE
from pysoa.common.transport.redis_gateway.options import (
    ClientTransportOptions,
    OptionAttribute,
    OptionAttributes,
    ServerTransportOptions,
    TransportOptions,
)
from pysoa.common.transport.redis_gateway.queue_full import push_while_full, queue_full_error
from pysoa.common.transport.redis_gateway.serializers import SerializerChoice

__all__ = ('RedisTransportClientCore', 'RedisTransportCore', 'RedisTransportServerCore')


class RedisTransportCore(OptionAttributes):
    """Sends and receives framed messages on Redis lists; the client and server cores specialize it.

    Its settings are `options`; the 1.x attribute names (`receive_timeout_in_seconds`, ...) read them.
    """

    SUPPORTED_HEADERS_RE = SUPPORTED_HEADERS_RE
    EXPONENTIAL_BACK_OFF_FACTOR = 4.0
    QUEUE_NAME_PREFIX = constants.QUEUE_NAME_PREFIX
    GLOBAL_QUEUE_SPECIFIER = constants.RESPONSE_QUEUE_SPECIFIER

    _backend_layer_cache: ClassVar[dict[tuple[str, Hashable], BaseRedisClient]] = SHARED_BACKENDS
    options_class: ClassVar[type[TransportOptions]] = TransportOptions
    is_server: ClassVar[bool] = False
    _metric_prefix: ClassVar[str] = 'transport.redis_gateway.'
    chunk_messages_larger_than_bytes: int = -1
    protocol_version: constants.ProtocolVersion = constants.ProtocolVersion.VERSION_3

    def __init__(
        self,
        backend_type: str = constants.REDIS_BACKEND_TYPE_STANDARD,
        *,
        metrics: MetricsRecorder = noop_metrics,
        service_name: str = '',
        **options: Any,  # the transport's keyword arguments: see `options.py` (unknown ones raise TypeError)
    ) -> None:
        if not isinstance(service_name, str):
            raise ValueError(f'service_name must be a str, got {type(service_name).__name__}')
        self.options = self.options_class(backend_type=backend_type, **options)
        self.metrics = metrics
        self.service_name = service_name
        self._backend_layer: BaseRedisClient | None = None
        self._serializers = SerializerChoice(self.options.default_serializer_config, service_name)

    @property
    def backend_layer(self) -> BaseRedisClient:
        """The backend (standard hosts or Sentinel), created on first use and shared by equal settings."""
        if self._backend_layer is None:
            cache = type(self)._backend_layer_cache  # read each time: 1.x tests empty it by assigning a new dict
            kwargs = self.backend_layer_kwargs
            self._backend_layer = shared_backend(self.backend_type, kwargs, self._create_backend, cache)
        return self._backend_layer

    def _create_backend(self) -> BaseRedisClient:
        backend_class = backend_class_for(self.backend_type)
        # By name in this module, where 1.x tests patch `StandardRedisClient` and `SentinelRedisClient`.
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
            raise errors.InvalidMessageError('No request ID')
        started = time.monotonic()  # the whole send, finding a master included, keeps within the caller's time
        elements, redis_expiry = self.encode_message(request_id, meta, body, message_expiry_in_seconds)
        envelope.note_sent_size(meta, elements)
        queue_key = self.QUEUE_NAME_PREFIX + queue_name
        deadline = started + self._send_seconds(message_expiry_in_seconds)
        connection = self._get_redis_connection(True, queue_key, deadline - time.monotonic())
        push = functools.partial(self._push, connection, queue_key, elements, redis_expiry, meta, request_id)
        factor = self.EXPONENTIAL_BACK_OFF_FACTOR  # read here: 1.x tests set it on the instance
        try:
            pushed, attempts = push_while_full(push, deadline, self.queue_full_retries, factor, self._count)
        except Exception as error:
            raise self._failure(error, sending=True)
        if not pushed:
            raise queue_full_error(queue_name, attempts, started, self._count)

    def _send_seconds(self, message_expiry_in_seconds: float | None) -> float:
        """How long a send may take: the caller's timeout (its message's expiry), else the receive timeout."""
        return float(message_expiry_in_seconds or self.receive_timeout_in_seconds)

    def _push(
        self,
        connection: redis.Redis,
        queue_key: str,
        elements: bytes | list[bytes],
        expiry: int,
        meta: dict[str, Any],
        request_id: object,
    ) -> bool:
        # A seam: the at-least-once server core acknowledges the request in the same step; the client core records it.
        backend, capacity = driven(self.backend_layer), self.queue_capacity
        return backend.push(connection, queue_key, elements, expiry=expiry, capacity=capacity)

    def encode_message(
        self, request_id: int, meta: dict[str, Any], body: dict[str, Any], message_expiry_in_seconds: float | None
    ) -> tuple[bytes | list[bytes], int]:
        """The list elements of a message as `send_message` (and the asyncio sides) push it, and the queue's expiry in
        Redis (seconds); sets `meta['__expiry__']`. Raises MessageTooLarge; serializer errors pass through."""
        times = (time.time(), message_expiry_in_seconds, self.message_expiry_in_seconds)
        # A client sends requests: their queue outlives an outage (`REQUEST_QUEUE_SECONDS`); a reply queue does not.
        expires_at, redis_expiry = envelope.expiry_times(*times, request=not self.is_server)
        meta['__expiry__'] = expires_at
        serializer = meta.get('serializer') or self.default_serializer
        version = envelope.reply_version(meta, self.protocol_version)
        signer = envelope.signer_for_message(meta, self.options.signer)
        message = envelope.wire_envelope(request_id, meta, body)
        size = self.metrics.histogram(self._metric_prefix + 'send.message_size')
        try:
            limits = (self.maximum_message_size_in_bytes, self.chunk_messages_larger_than_bytes)
            encoded = envelope.encode(message, serializer, version, *limits, signer=signer)
        except errors.MessageTooLarge as error:
            size.set(error.message_size_in_bytes)
            self._count('send.error.message_too_large')
            raise
        size.set(encoded.size)
        if 0 < (threshold := self.log_messages_larger_than_bytes) < encoded.size:
            reporting.log_oversized_message(message, encoded.size, threshold, self.service_name)
        if isinstance(encoded.elements, list):
            self.metrics.histogram(self._metric_prefix + 'send.chunk_count').set(len(encoded.elements))
        return encoded.elements, redis_expiry

    def receive_message(self, queue_name: str, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        """Receive one message from `queue_name` (without the `pysoa:` prefix), blocking up to the timeout.

        The returned meta also holds `serializer` and `protocol_version`, the format the message came in.
        Raises MessageReceiveTimeout (nothing arrived, or the message had expired), MessageReceiveError,
        InvalidMessageError (undecodable, or a bad envelope: then an InvalidEnvelopeError).
        """
        queue_key = self.QUEUE_NAME_PREFIX + queue_name
        timeout = receive_timeout_in_seconds or self.receive_timeout_in_seconds
        deadline = time.monotonic() + timeout
        connection = self._get_redis_connection(False, queue_key, timeout + POP_MARGIN_SECONDS)
        pop = functools.partial(self._pop, connection, queue_key, max(deadline - time.monotonic(), 0.01))
        try:
            received = self._decode(pop(), pop)
            if received.meta and received.meta.get('signed') is False:
                self._count('receive.unsigned')  # verify-optional mode: traffic that must sign before it is required
            return received
        except (envelope.MessageExpiredError, envelope.UnreadableMessageError, envelope.InvalidEnvelopeError) as error:
            reporting.report_refused_message(error, self.service_name, self._count)
            raise

    def _decode(self, element: object, read_next: Callable[[], object]) -> ReceivedMessage:
        # This side sent the request: what comes is a response, perhaps in chunks (`read_next` pops the others).
        decode = envelope.decode_response
        serializer_for, signer = self._serializers.for_content_type, self.options.signer
        return decode(element, read_next, serializer_for, self.service_name, time.time(), signer=signer)

    def _pop(self, connection: redis.Redis, queue_key: str, timeout: float) -> object:
        try:
            with time_limit(timeout + POP_MARGIN_SECONDS):
                element = driven(self.backend_layer).pop(connection, queue_key, timeout)
        except Exception as error:
            raise self._failure(error, sending=False)
        if element is None:
            raise errors.MessageReceiveTimeout(f'No message received for service {self.service_name}')
        return element

    def _get_redis_connection(self, for_send: bool, queue_key: str, seconds: float) -> redis.Redis:
        try:
            with time_limit(seconds):  # finding the master (Sentinel) counts against the call's time
                return driven(self.backend_layer).get_connection(queue_key)
        except CannotGetConnectionError as error:
            raise reporting.connection_failure(error, for_send, self._count)

    def _failure(self, error: Exception, sending: bool) -> errors.TransientPySOATransportError:
        reset_clients = driven(self.backend_layer).reset_clients
        return reporting.transport_failure(error, sending, self.service_name, self._count, reset_clients)

    def _count(self, name: str) -> None:
        self.metrics.counter(self._metric_prefix + name).increment()


class RedisTransportClientCore(FailoverResend, RedisTransportCore):
    """The client side: sends requests in `protocol_version` (default 3), reassembles chunked responses, and sends
    again a request that a Sentinel failover lost (`FailoverResend`)."""

    options_class = ClientTransportOptions
    options: ClientTransportOptions
    _metric_prefix = 'client.transport.redis_gateway.'
    protocol_version = OptionAttribute[constants.ProtocolVersion]()


class RedisTransportServerCore(RedisTransportCore):
    """The server side: larger default limits, optional chunking of responses to version 3 clients."""

    options_class = ServerTransportOptions
    options: ServerTransportOptions
    is_server = True
    _metric_prefix = 'server.transport.redis_gateway.'
    chunk_messages_larger_than_bytes = OptionAttribute[int]()

    def _send_seconds(self, message_expiry_in_seconds: float | None) -> float:
        return REPLY_SECONDS

    def _decode(self, element: object, read_next: Callable[[], object]) -> ReceivedMessage:
        # A request: never chunked, and salvaged when unreadable so that its sender can be told.
        limit, signer = self.maximum_message_size_in_bytes, self.options.signer
        decode = functools.partial(envelope.decode_request, maximum_size=limit, signer=signer)
        return decode(element, self._serializers.for_content_type, self.service_name, time.time())
