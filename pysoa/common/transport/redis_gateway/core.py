"""The Redis Gateway engine shared by the client and server transports.

`send_message` turns `(request_id, meta, body)` into framed bytes and pushes them onto a queue in one
round trip; `receive_message` pops one element (and, on the client, the rest of a chunked response)
and turns it back. Everything between the transport classes and Redis happens here: serialization,
framing, size limits, chunking, expiry, queue-full back-off, and the mapping of Redis failures to
transport errors (transient ones are `MessageSendError` / `MessageReceiveError`).
"""

import logging
import math
import random
import threading
import time
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information
import redis

from pysoa.common.logging import RecursivelyCensoredDictWrapper
from pysoa.common.metrics import MetricsRecorder, noop_metrics
from pysoa.common.serializer.base import Serializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import (
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageTooLarge,
)
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient, CannotGetConnectionError
from pysoa.common.transport.redis_gateway.backend.direct import execute_command, supports_direct_commands
from pysoa.common.transport.redis_gateway.backend.sentinel import SentinelRedisClient
from pysoa.common.transport.redis_gateway.backend.standard import (
    DEFAULT_REDIS_PORT,
    REDIS_URL_SYNTAX,
    StandardRedisClient,
    check_connection_kwargs,
)
from pysoa.common.transport.redis_gateway.constants import (
    DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT,
    DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER,
    DEFAULT_MESSAGE_EXPIRY_IN_SECONDS,
    DEFAULT_QUEUE_CAPACITY,
    DEFAULT_QUEUE_FULL_RETRIES,
    DEFAULT_RECEIVE_TIMEOUT_IN_SECONDS,
    MINIMUM_CHUNKED_MESSAGE_BYTES,
    QUEUE_NAME_PREFIX,
    REDIS_BACKEND_TYPE_SENTINEL,
    REDIS_BACKEND_TYPE_STANDARD,
    REDIS_BACKEND_TYPES,
    RESPONSE_QUEUE_SPECIFIER,
    ProtocolFeature,
    ProtocolVersion,
)
from pysoa.common.transport.redis_gateway.framing import (
    SUPPORTED_HEADERS_RE,
    frame_chunks,
    frame_message,
    locate_payload,
)

__all__ = ('InvalidEnvelopeError', 'RedisTransportClientCore', 'RedisTransportCore', 'RedisTransportServerCore')

_logger = logging.getLogger(__name__)
_oversized_message_logger = logging.getLogger('pysoa.transport.oversized_message')

_LOCAL_META_KEYS = frozenset({'serializer', 'protocol_version'})
"""Meta keys that describe how a message travelled; they stay in the process and never go on the wire."""

try:
    from pymetrics.instruments import TimerResolution

    TIMER_KWARGS: dict[str, Any] = {'resolution': TimerResolution.MICROSECONDS}
except ImportError:  # pymetrics is optional; other recorders take no resolution
    TIMER_KWARGS = {}


class InvalidEnvelopeError(InvalidMessageError):
    """A message decoded but its envelope is wrong; carries what is known so the sender can be told."""

    def __init__(self, message: str, request_id: Any = None, meta: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.meta = meta


def _to_hashable(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple(sorted((str(key), _to_hashable(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_to_hashable(item) for item in value)
    hash(value)  # raises TypeError for anything else that cannot be a cache key
    return value  # type: ignore[no-any-return]


def _resolve_serializer_config(config: Mapping[str, Any]) -> Serializer:
    """Instantiate a serializer from `{'object': class}` (validated settings) or `{'path': 'module:Class'}`."""
    serializer_class = config.get('object')
    if serializer_class is None:
        path = config.get('path')
        if not path:
            raise ValueError("default_serializer_config needs an 'object' or a 'path'")
        from conformity.fields import PythonPath

        serializer_class = PythonPath.resolve_python_path(path)
    serializer: Serializer = serializer_class(**(config.get('kwargs') or {}))
    return serializer


class RedisTransportCore:
    """Sends and receives framed messages on Redis lists; the client and server cores specialize it."""

    SUPPORTED_HEADERS_RE = SUPPORTED_HEADERS_RE
    EXPONENTIAL_BACK_OFF_FACTOR = 4.0
    QUEUE_NAME_PREFIX = QUEUE_NAME_PREFIX
    GLOBAL_QUEUE_SPECIFIER = RESPONSE_QUEUE_SPECIFIER

    # Backends hold connection pools; transports with identical backend settings share one (even across services).
    _backend_layer_cache: ClassVar[dict[tuple[str, Hashable], BaseRedisClient]] = {}
    _backend_layer_cache_lock: ClassVar[threading.Lock] = threading.Lock()

    is_server: ClassVar[bool] = False
    _metric_prefix: ClassVar[str] = 'transport.redis_gateway.'
    chunk_messages_larger_than_bytes: int = -1
    protocol_version: ProtocolVersion = ProtocolVersion.VERSION_3

    def __init__(
        self,
        backend_type: str = REDIS_BACKEND_TYPE_STANDARD,
        *,
        backend_layer_kwargs: dict[str, Any] | None = None,
        log_messages_larger_than_bytes: int = DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT,
        maximum_message_size_in_bytes: int = DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT,
        message_expiry_in_seconds: int = DEFAULT_MESSAGE_EXPIRY_IN_SECONDS,
        metrics: MetricsRecorder = noop_metrics,
        queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
        queue_full_retries: int = DEFAULT_QUEUE_FULL_RETRIES,
        receive_timeout_in_seconds: int = DEFAULT_RECEIVE_TIMEOUT_IN_SECONDS,
        default_serializer_config: Mapping[str, Any] | None = None,
        service_name: str = '',
    ) -> None:
        if not backend_type or backend_type not in REDIS_BACKEND_TYPES:
            raise ValueError(f'backend_type must be one of {REDIS_BACKEND_TYPES}, got {backend_type!r}')
        if not isinstance(service_name, str):
            raise ValueError('service_name must be a str')
        self.backend_type = backend_type
        self.backend_layer_kwargs = self._normalize_backend_layer_kwargs(backend_type, backend_layer_kwargs or {})
        if backend_type == REDIS_BACKEND_TYPE_STANDARD:
            # The backend is built on first use; a mistake in its settings must stop the transport now instead.
            check_connection_kwargs(
                self.backend_layer_kwargs.get('hosts'),
                self.backend_layer_kwargs.get('connection_kwargs'),
            )
        self.log_messages_larger_than_bytes = int(log_messages_larger_than_bytes)
        self.maximum_message_size_in_bytes = int(maximum_message_size_in_bytes)
        self.message_expiry_in_seconds = int(message_expiry_in_seconds)
        self.metrics = metrics
        self.queue_capacity = int(queue_capacity)
        self.queue_full_retries = int(queue_full_retries)
        self.receive_timeout_in_seconds = int(receive_timeout_in_seconds)
        self.default_serializer_config = dict(
            default_serializer_config or {'object': MsgpackSerializer, 'kwargs': {}},
        )
        self.service_name = service_name
        self._backend_layer: BaseRedisClient | None = None
        self._default_serializer: Serializer | None = None
        self._serializers_by_mime_type: dict[str, Serializer] = {}
        self._message_size_metric = self._metric_name('send.message_size')

    @staticmethod
    def _normalize_backend_layer_kwargs(backend_type: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Fold the `redis_port` and `redis_db` shortcuts into `hosts` and `connection_kwargs` (a new dict).

        Module constants rather than `StandardRedisClient` attributes are used, so that this still works when
        the client class is replaced by a mock.
        """
        normalized = dict(kwargs)
        redis_port = normalized.pop('redis_port', None)
        redis_db = normalized.pop('redis_db', None)
        if normalized.get('hosts'):
            if isinstance(normalized['hosts'], (str, bytes)):
                raise ValueError("backend_layer_kwargs['hosts'] must be a list of hosts, not a string")
            hosts: list[Any] = []
            for host in normalized['hosts']:
                if isinstance(host, str) and not REDIS_URL_SYNTAX.match(host):
                    if redis_port is not None:
                        host = (host, redis_port)
                    elif backend_type != REDIS_BACKEND_TYPE_SENTINEL:
                        host = (host, DEFAULT_REDIS_PORT)
                elif isinstance(host, list) and len(host) == 2:
                    host = tuple(host)
                hosts.append(host)
            normalized['hosts'] = hosts
        if redis_db is not None:
            normalized['connection_kwargs'] = {**(normalized.get('connection_kwargs') or {}), 'db': redis_db}
        return normalized

    @property
    def backend_layer(self) -> BaseRedisClient:
        """The backend (standard hosts or Sentinel), created on first use and shared by equal settings."""
        backend = self._backend_layer
        if backend is None:
            try:
                cache_key: tuple[str, Hashable] | None = (self.backend_type, _to_hashable(self.backend_layer_kwargs))
            except TypeError:  # settings holding unhashable objects just do not share a backend
                cache_key = None
            with self._backend_layer_cache_lock:
                backend = self._backend_layer_cache.get(cache_key) if cache_key else None
                if backend is None:
                    backend = self._create_backend_layer()
                    if cache_key:
                        self._backend_layer_cache[cache_key] = backend
            self._backend_layer = backend
        return backend

    def _create_backend_layer(self) -> BaseRedisClient:
        kwargs = dict(self.backend_layer_kwargs)
        if self.backend_type == REDIS_BACKEND_TYPE_SENTINEL:
            return SentinelRedisClient(**kwargs)
        return StandardRedisClient(**kwargs)

    @property
    def default_serializer(self) -> Serializer:
        """The serializer for messages this side originates, and for received messages without a content type."""
        if self._default_serializer is None:
            self._default_serializer = _resolve_serializer_config(self.default_serializer_config)
        return self._default_serializer

    def _serializer_for(self, mime_type: str | None) -> Serializer:
        if mime_type is None:
            return self.default_serializer
        serializer = self._serializers_by_mime_type.get(mime_type)
        if serializer is None:
            default = self.default_serializer
            if getattr(default, 'mime_type', None) == mime_type:
                serializer = default
            elif mime_type in Serializer.all_supported_mime_types:
                serializer = Serializer.resolve_serializer(mime_type)
            else:
                # An unknown content type is read with the default serializer, as 1.x peers do; a peer that sends
                # one is misconfigured, so say so (when its payload is not what the default reads, an error follows).
                _logger.warning(
                    'Unknown content type %r in a message for service %s; reading it as %s',
                    mime_type,
                    self.service_name,
                    default.mime_type,
                )
                return default
            self._serializers_by_mime_type[mime_type] = serializer
        return serializer

    # ---- sending

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
        if message_expiry_in_seconds:
            expires_at = now + message_expiry_in_seconds
            redis_expiry = math.ceil(message_expiry_in_seconds) + 10
        else:
            expires_at = now + self.message_expiry_in_seconds
            redis_expiry = self.message_expiry_in_seconds
        meta['__expiry__'] = expires_at

        protocol_version = meta.get('protocol_version') or self.protocol_version
        if not isinstance(protocol_version, ProtocolVersion):
            protocol_version = ProtocolVersion(protocol_version)
        serializer = meta.get('serializer') or self.default_serializer
        if _LOCAL_META_KEYS.isdisjoint(meta):
            wire_meta = meta
        else:
            wire_meta = {key: value for key, value in meta.items() if key not in _LOCAL_META_KEYS}

        elements = self._serialize_check_and_chunk_message(
            protocol_version,
            {'request_id': request_id, 'meta': wire_meta, 'body': body},
            serializer,
        )
        queue_key = self.QUEUE_NAME_PREFIX + queue_name
        connection = self._get_redis_connection(True, queue_key)
        self._push(queue_name, queue_key, elements, redis_expiry, connection, expires_at)

    def _serialize_check_and_chunk_message(
        self,
        protocol_version: ProtocolVersion,
        message: dict[str, Any],
        serializer: Serializer,
    ) -> bytes | list[bytes]:
        """Serialize and frame a message: one element, or (server, v3 client) a list of chunks to push together."""
        serialized = serializer.dict_to_blob(message)
        size = len(serialized)
        self.metrics.histogram(self._message_size_metric).set(size)

        if size > self.maximum_message_size_in_bytes:
            self._count('send.error.message_too_large')
            raise MessageTooLarge(size, 'Message exceeds maximum message size')

        if 0 < self.log_messages_larger_than_bytes < size:
            self._log_oversized_message(message, size)

        if self.is_server and 0 < self.chunk_messages_larger_than_bytes < size:
            if not ProtocolFeature.CHUNKED_RESPONSES.supported_in(protocol_version):
                self._count('send.error.message_too_large')
                raise MessageTooLarge(size, 'Message exceeds chunking threshold but client does not support chunking')
            chunks = frame_chunks(serialized, serializer.mime_type, self.chunk_messages_larger_than_bytes)
            self.metrics.histogram(self._metric_name('send.chunk_count')).set(len(chunks))
            return chunks

        return frame_message(serialized, serializer.mime_type, protocol_version)

    def _log_oversized_message(self, message: dict[str, Any], size: int) -> None:
        _oversized_message_logger.warning(
            'Oversized message sent for PySOA service %s',
            self.service_name,
            extra={
                'data': {
                    'message': RecursivelyCensoredDictWrapper(message),
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
        """Run the send script, retrying a full queue with jittered exponential back-off until the message expires."""
        backend = self.backend_layer
        for attempt in range(self.queue_full_retries + 1):
            try:
                backend.send_message_to_queue(
                    queue_key=queue_key,
                    message=elements,
                    expiry=redis_expiry,
                    capacity=self.queue_capacity,
                    connection=connection,
                )
                return
            except redis.ResponseError as error:
                if 'queue full' not in str(error):
                    self._reset_backend()
                    self._count('send.error.response')
                    raise MessageSendError(f'Redis error sending message for service {self.service_name}', *error.args)
            except Exception as error:
                self._reset_backend()
                self._count('send.error.unknown')
                if not isinstance(error, (redis.RedisError, OSError)):
                    _logger.exception('Unknown error sending message in Redis transport core')
                raise MessageSendError(
                    f'Unknown error sending message for service {self.service_name}',
                    type(error).__name__,
                    *error.args,
                )
            if attempt == self.queue_full_retries:
                break
            delay = (2**attempt + random.random()) / self.EXPONENTIAL_BACK_OFF_FACTOR
            if time.time() + delay >= expires_at:
                break  # waiting longer would only deliver a message nobody will accept
            self._count('send.queue_full_retry')
            self._count(f'send.queue_full_retry.retry_{attempt + 1}')
            time.sleep(delay)
        self._count('send.error.redis_queue_full')
        raise MessageSendError(f'Redis queue {queue_name} was full after {self.queue_full_retries} retries')

    # ---- receiving

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
        version, headers, offset = self._locate_payload(element)
        serializer = self._serializer_for(headers.get('content-type'))
        chunked_request = self.is_server and ('chunk-count' in headers or 'chunk-id' in headers)
        if 'chunk-count' in headers and not self.is_server:
            payload = self._receive_remaining_chunks(connection, queue_key, timeout, headers, element, offset)
        else:
            payload = element[offset:] if offset else element

        try:
            message = serializer.blob_to_dict(payload)
        except Exception as error:
            self._count('receive.error.invalid_message')
            text = f'Invalid message for service {self.service_name}: {error}'
            if self.is_server:
                self._raise_with_salvaged_envelope(text, serializer, payload, version, error)
            raise InvalidMessageError(text) from error
        received = self._open_envelope(message, serializer, version)
        if chunked_request:
            raise InvalidEnvelopeError(
                f'Unsupported chunked request for service {self.service_name}: only responses may be chunked',
                received.request_id,
                received.meta,
            )
        return received

    def _raise_with_salvaged_envelope(
        self,
        text: str,
        serializer: Serializer,
        payload: bytes,
        version: ProtocolVersion,
        error: Exception,
    ) -> None:
        """Raise InvalidEnvelopeError when an unreadable MessagePack request still shows who to answer; else return.

        An unknown extension type (sent by a newer peer, say) spoils the whole decoding, yet the envelope
        around it is fine: reading it with extension types left as they are lets the sender be told.
        """
        if not isinstance(serializer, MsgpackSerializer):
            return
        try:
            envelope = msgpack.unpackb(payload, raw=False, strict_map_key=False, unicode_errors='surrogatepass')
        except Exception:
            return
        if not isinstance(envelope, dict) or not isinstance(envelope.get('meta'), dict):
            return
        meta = envelope['meta']
        meta['serializer'] = serializer
        meta['protocol_version'] = version
        raise InvalidEnvelopeError(text, envelope.get('request_id'), meta) from error

    def _open_envelope(self, message: Any, serializer: Serializer, version: ProtocolVersion) -> ReceivedMessage:
        if not isinstance(message, dict):
            raise InvalidMessageError(f'Invalid message for service {self.service_name}: not a map')
        meta = message.get('meta')
        if meta is None:
            meta = {}
        elif not isinstance(meta, dict):
            raise InvalidMessageError(f'Invalid message for service {self.service_name}: meta is not a map')
        meta['serializer'] = serializer
        meta['protocol_version'] = version

        request_id = message.get('request_id')
        expiry = meta.get('__expiry__')
        if expiry:
            if not isinstance(expiry, (int, float)) or isinstance(expiry, bool):
                raise InvalidEnvelopeError(
                    f'Invalid message for service {self.service_name}: bad __expiry__ {expiry!r}', request_id, meta
                )
            now = time.time()
            if expiry < now:
                self._count('receive.error.message_expired')
                # Nobody waits for it any more (protocol §4), but a backlog that makes requests expire must show.
                _logger.warning(
                    'Discarding message %r for service %s: expired %.3f seconds ago',
                    request_id,
                    self.service_name,
                    now - expiry,
                )
                raise MessageReceiveTimeout(f'Message expired for service {self.service_name}')

        if request_id is None:
            self._count('receive.error.no_request_id')
            raise InvalidEnvelopeError(f'No request ID for service {self.service_name}', None, meta)
        body = message.get('body')
        if not isinstance(body, dict):
            self._count('receive.error.invalid_body')
            raise InvalidEnvelopeError(
                f'Invalid message body for service {self.service_name}: expected a map, got {type(body).__name__}',
                request_id,
                meta,
            )
        return ReceivedMessage(request_id, meta, body)

    def _locate_payload(self, element: bytes) -> tuple[ProtocolVersion, dict[str, str], int]:
        try:
            return locate_payload(element)
        except ValueError as error:
            self._count('receive.error.invalid_message')
            raise InvalidMessageError(f'Invalid message framing for service {self.service_name}: {error}') from error

    def _receive_remaining_chunks(
        self,
        connection: redis.Redis,
        queue_key: str,
        timeout: float,
        first_headers: dict[str, str],
        first: bytes,
        first_offset: int,
    ) -> bytes:
        """Pop the chunks that follow the `first` element and join the payloads; any inconsistency is invalid.

        The payloads are only views of the received elements until the join, which copies each byte once.
        """
        service = self.service_name
        if 'chunk-id' not in first_headers:
            raise InvalidMessageError(f'Invalid chunked response missing chunk ID for service {service}')
        try:
            chunk_id, chunk_count = int(first_headers['chunk-id']), int(first_headers['chunk-count'])
        except ValueError:
            raise InvalidMessageError(f'Invalid chunked response with non-numeric chunk headers for service {service}')
        if chunk_id != 1 or chunk_count < 1:
            raise InvalidMessageError(
                f'Invalid chunked response has incorrect chunk ID {chunk_id} expected 1 of {chunk_count} for service '
                f'{service}.'
            )
        parts = [memoryview(first)[first_offset:]]
        while len(parts) < chunk_count:
            expected = len(parts) + 1
            element = self._pop(connection, queue_key, timeout)
            _, headers, offset = self._locate_payload(element)
            if 'chunk-count' not in headers or 'chunk-id' not in headers:
                raise InvalidMessageError(
                    f'Invalid chunked response missing chunk headers expecting chunk {expected} of {chunk_count} '
                    f'for service {service}.'
                )
            if headers['chunk-count'] != str(chunk_count):
                raise InvalidMessageError(
                    f'Invalid chunked response has different chunk count {headers["chunk-count"]} expecting chunk '
                    f'{expected} of {chunk_count} for service {service}.'
                )
            if headers['chunk-id'] != str(expected):
                raise InvalidMessageError(
                    f'Invalid chunked response has incorrect chunk ID {headers["chunk-id"]} expected {expected} of '
                    f'{chunk_count} for service {service}.'
                )
            parts.append(memoryview(element)[offset:])
        return b''.join(parts)

    def _pop(self, connection: redis.Redis, queue_key: str, timeout: float) -> bytes:
        try:
            if supports_direct_commands(connection):
                result = execute_command(connection, 'BLPOP', queue_key, timeout)
            else:
                result = connection.blpop([queue_key], timeout=timeout)
        except Exception as error:
            self._reset_backend()
            self._count('receive.error.unknown')
            raise MessageReceiveError(
                f'Unknown error receiving message for service {self.service_name}',
                type(error).__name__,
                *error.args,
            )
        if not result:
            raise MessageReceiveTimeout(f'No message received for service {self.service_name}')
        element = result[1]
        if not isinstance(element, bytes):
            raise InvalidMessageError(f'Invalid message for service {self.service_name}: not bytes')
        return element

    # ---- plumbing

    def _get_redis_connection(self, for_send: bool, queue_key: str) -> redis.Redis:
        try:
            return self.backend_layer.get_connection(queue_key)
        except CannotGetConnectionError as error:
            direction = 'send' if for_send else 'receive'
            self._count(f'{direction}.error.connection')
            raise (MessageSendError if for_send else MessageReceiveError)(f'Cannot get connection: {error.args[0]}')

    def _reset_backend(self) -> None:
        """After a Redis error, make the backend look its servers up again (Sentinel: the master may have moved)."""
        reset = getattr(self._backend_layer, 'reset_clients', None)
        if reset is not None:
            reset()

    def _metric_name(self, name: str) -> str:
        return self._metric_prefix + name

    def _count(self, name: str) -> None:
        self.metrics.counter(self._metric_prefix + name).increment()


class RedisTransportClientCore(RedisTransportCore):
    """The client side: sends requests in `protocol_version` (default 3) and reassembles chunked responses."""

    is_server = False
    _metric_prefix = 'client.transport.redis_gateway.'

    def __init__(
        self,
        backend_type: str = REDIS_BACKEND_TYPE_STANDARD,
        *,
        protocol_version: ProtocolVersion | int = ProtocolVersion.VERSION_3,
        **kwargs: Any,
    ) -> None:
        super().__init__(backend_type, **kwargs)
        try:
            self.protocol_version = ProtocolVersion(protocol_version)
        except ValueError:
            raise ValueError(
                f'protocol_version must be one of {", ".join(str(int(v)) for v in ProtocolVersion)}, '
                f'got {protocol_version!r}',
            ) from None


class RedisTransportServerCore(RedisTransportCore):
    """The server side: larger default limits, optional chunking of responses to version 3 clients."""

    is_server = True
    _metric_prefix = 'server.transport.redis_gateway.'

    def __init__(
        self,
        backend_type: str = REDIS_BACKEND_TYPE_STANDARD,
        *,
        log_messages_larger_than_bytes: int = DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER,
        maximum_message_size_in_bytes: int = DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER,
        chunk_messages_larger_than_bytes: int = -1,
        **kwargs: Any,
    ) -> None:
        chunk_threshold = int(chunk_messages_larger_than_bytes)
        if 0 <= chunk_threshold < MINIMUM_CHUNKED_MESSAGE_BYTES:
            raise ValueError(
                'If chunk_messages_larger_than_bytes is enabled (non-negative), it must be >= '
                f'{MINIMUM_CHUNKED_MESSAGE_BYTES}, got {chunk_threshold}'
            )
        if int(maximum_message_size_in_bytes) < chunk_threshold * 5:
            raise ValueError(
                'If chunk_messages_larger_than_bytes is enabled (non-negative), maximum_message_size_in_bytes must '
                'be at least 5 times larger to allow for multiple chunks to be sent.'
            )
        super().__init__(
            backend_type,
            log_messages_larger_than_bytes=log_messages_larger_than_bytes,
            maximum_message_size_in_bytes=maximum_message_size_in_bytes,
            **kwargs,
        )
        self.chunk_messages_larger_than_bytes = chunk_threshold
