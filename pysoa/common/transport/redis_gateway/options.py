"""The keyword arguments of the Redis transports, read once into a frozen options object.

Both ways of making a transport end here: settings validated by the schema in `settings.py` (whose keys
a test holds equal to these fields) and direct construction of `RedisClientTransport`,
`RedisServerTransport` or a core. Each setting has its default and its check in one place; the
core and the transports then read the options instead of forwarding ten arguments.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar, cast, overload

import attrs

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.redis_gateway.backend.hosts import parse_hosts
from pysoa.common.transport.redis_gateway.backend.registry import backend_class_for
from pysoa.common.transport.redis_gateway.constants import (
    DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT,
    DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER,
    DEFAULT_MESSAGE_EXPIRY_IN_SECONDS,
    DEFAULT_QUEUE_CAPACITY,
    DEFAULT_QUEUE_FULL_RETRIES,
    DEFAULT_RECEIVE_TIMEOUT_IN_SECONDS,
    MINIMUM_CHUNKED_MESSAGE_BYTES,
    REDIS_BACKEND_TYPE_STANDARD,
    ProtocolVersion,
)
from pysoa.common.transport.redis_gateway.redis_url import with_environment_hosts
from pysoa.common.transport.redis_gateway.serializers import SerializerConfig
from pysoa.common.transport.redis_gateway.signing import (
    Signer,
    parse_signing_keys,
    signer_for,
    signing_keys_from_environment,
    signing_required_from_environment,
)

__all__ = (
    'DELIVERY_AT_LEAST_ONCE',
    'DELIVERY_AT_MOST_ONCE',
    'DELIVERY_MODES',
    'ClientTransportOptions',
    'OptionAttribute',
    'OptionAttributes',
    'ServerTransportOptions',
    'TransportOptions',
)

_T = TypeVar('_T')

DELIVERY_AT_MOST_ONCE = 'at-most-once'
DELIVERY_AT_LEAST_ONCE = 'at-least-once'
DELIVERY_MODES = (DELIVERY_AT_MOST_ONCE, DELIVERY_AT_LEAST_ONCE)
"""The values of the server transport's `delivery` setting (1.x behaviour is at-most-once, the default)."""


def _kwargs(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


def _serializer_config(value: Mapping[str, Any] | None) -> SerializerConfig:
    # Settings validated by the schema have this shape; a direct caller is trusted to give it (as 1.x did).
    return cast(SerializerConfig, dict(value or {'object': MsgpackSerializer, 'kwargs': {}}))


def _protocol_version(value: ProtocolVersion | int) -> ProtocolVersion:
    try:
        return ProtocolVersion(value)
    except ValueError:
        known = ', '.join(str(int(version)) for version in ProtocolVersion)
        raise ValueError(f'protocol_version must be one of {known}, got {value!r}') from None


def _signing_keys(value: str | bytes | Iterable[str | bytes] | None) -> tuple[bytes, ...]:
    # Not given: the environment's (PYSOA_SIGNING_KEYS); given, even empty, the setting wins.
    return signing_keys_from_environment() if value is None else parse_signing_keys(value)


def _signing_required(value: bool | None) -> bool:
    return signing_required_from_environment() if value is None else bool(value)


def fold_backend_shortcuts(backend_type: str, backend_layer_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`backend_layer_kwargs` with `hosts` read and the `redis_port` / `redis_db` shortcuts folded in (a new dict).

    A bare host name gets `redis_port` when given, else the backend's default port.
    """
    folded = dict(backend_layer_kwargs)
    redis_port = folded.pop('redis_port', None)
    redis_db = folded.pop('redis_db', None)
    if folded.get('hosts'):
        backend_class = backend_class_for(backend_type)
        port = backend_class.DEFAULT_PORT if redis_port is None else redis_port
        folded['hosts'] = parse_hosts(folded['hosts'], port, urls=backend_class.ACCEPTS_URLS)
    if redis_db is not None:
        folded['connection_kwargs'] = {**(folded.get('connection_kwargs') or {}), 'db': redis_db}
    return folded


POSITIVE_TIMEOUTS = ('message_expiry_in_seconds', 'receive_timeout_in_seconds')
"""The options that are numbers of seconds: zero or less would expire every message or block for ever."""


def check_positive_timeouts(options: object) -> None:
    """Raise ValueError, naming the setting, for a timeout of zero or less among `POSITIVE_TIMEOUTS`."""
    for name in POSITIVE_TIMEOUTS:
        value = getattr(options, name)
        if value <= 0:
            raise ValueError(f'{name} must be a positive number of seconds, not {value!r}')


@attrs.frozen(kw_only=True)
class TransportOptions:
    """What both sides of the Redis transport are configured with (the 1.x keyword names and defaults)."""

    backend_type: str = REDIS_BACKEND_TYPE_STANDARD
    backend_layer_kwargs: dict[str, Any] = attrs.field(factory=dict, converter=_kwargs)
    log_messages_larger_than_bytes: int = attrs.field(default=DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT, converter=int)
    maximum_message_size_in_bytes: int = attrs.field(default=DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT, converter=int)
    message_expiry_in_seconds: int = attrs.field(default=DEFAULT_MESSAGE_EXPIRY_IN_SECONDS, converter=int)
    queue_capacity: int = attrs.field(default=DEFAULT_QUEUE_CAPACITY, converter=int)
    queue_full_retries: int = attrs.field(default=DEFAULT_QUEUE_FULL_RETRIES, converter=int)
    receive_timeout_in_seconds: int = attrs.field(default=DEFAULT_RECEIVE_TIMEOUT_IN_SECONDS, converter=int)
    default_serializer_config: SerializerConfig = attrs.field(default=None, converter=_serializer_config)
    signing_keys: tuple[bytes, ...] = attrs.field(default=None, converter=_signing_keys)
    signing_required: bool = attrs.field(default=None, converter=_signing_required)

    @property
    def signer(self) -> Signer | None:
        """What signs sent messages and verifies received ones; None without `signing_keys`."""
        return signer_for(self.signing_keys, self.signing_required)

    def __attrs_post_init__(self) -> None:
        check_positive_timeouts(self)
        # `PYSOA_REDIS_URL` names the Redis of settings that name no hosts (configuration from the environment).
        backend_type, backend_layer_kwargs = with_environment_hosts(self.backend_type, self.backend_layer_kwargs)
        object.__setattr__(self, 'backend_type', backend_type)
        object.__setattr__(self, 'backend_layer_kwargs', backend_layer_kwargs)
        backend_class = backend_class_for(self.backend_type)
        folded = fold_backend_shortcuts(self.backend_type, self.backend_layer_kwargs)
        # The backend is built on first use; a mistake in its settings must stop the transport now instead.
        backend_class.check_settings(**folded)
        # Read from two fields at once, which no converter can see; hence after construction, once.
        object.__setattr__(self, 'backend_layer_kwargs', folded)


@attrs.frozen(kw_only=True)
class ClientTransportOptions(TransportOptions):
    """The client side: also the framing version its requests are sent in."""

    protocol_version: ProtocolVersion = attrs.field(default=ProtocolVersion.VERSION_3, converter=_protocol_version)

    def __attrs_post_init__(self) -> None:
        if self.signing_keys and self.protocol_version < ProtocolVersion.VERSION_3:
            raise ValueError('signing_keys need protocol_version 3: only its headers can carry a signature')
        TransportOptions.__attrs_post_init__(self)  # not super(): see ServerTransportOptions


@attrs.frozen(kw_only=True)
class ServerTransportOptions(TransportOptions):
    """The server side: larger default size limits, and optional chunking of large responses."""

    log_messages_larger_than_bytes: int = attrs.field(default=DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER, converter=int)
    maximum_message_size_in_bytes: int = attrs.field(default=DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER, converter=int)
    chunk_messages_larger_than_bytes: int = attrs.field(default=-1, converter=int)

    # At-least-once delivery (pysoa.common.transport.redis_gateway.delivery; docs/delivery.rst).
    delivery: str = attrs.field(default=DELIVERY_AT_MOST_ONCE, validator=attrs.validators.in_(DELIVERY_MODES))
    max_deliveries: int = attrs.field(default=3, converter=int)
    heartbeat_interval_in_seconds: float = attrs.field(default=5.0, converter=float)
    heartbeat_expiry_in_seconds: float = attrs.field(default=30.0, converter=float)
    dead_letter_expiry_in_seconds: int = attrs.field(default=7 * 24 * 3600, converter=int)
    dead_letter_capacity: int = attrs.field(default=10000, converter=int)

    def __attrs_post_init__(self) -> None:
        _check_delivery_options(self)
        threshold = self.chunk_messages_larger_than_bytes
        if 0 <= threshold < MINIMUM_CHUNKED_MESSAGE_BYTES:
            raise ValueError(
                'If chunk_messages_larger_than_bytes is enabled (non-negative), it must be >= '
                f'{MINIMUM_CHUNKED_MESSAGE_BYTES}, got {threshold}'
            )
        if self.maximum_message_size_in_bytes < threshold * 5:
            raise ValueError(
                'If chunk_messages_larger_than_bytes is enabled (non-negative), maximum_message_size_in_bytes must '
                'be at least 5 times larger to allow for multiple chunks to be sent.'
            )
        TransportOptions.__attrs_post_init__(self)  # not super(): attrs before 22 cannot rebind it in a slotted class


def _check_delivery_options(options: 'ServerTransportOptions') -> None:
    if options.max_deliveries < 1:
        raise ValueError(f'max_deliveries must be at least 1, got {options.max_deliveries}')
    if not 0 < options.heartbeat_interval_in_seconds < options.heartbeat_expiry_in_seconds:
        raise ValueError(
            'heartbeat_interval_in_seconds must be positive and less than heartbeat_expiry_in_seconds, got '
            f'{options.heartbeat_interval_in_seconds} and {options.heartbeat_expiry_in_seconds}'
        )
    if options.dead_letter_expiry_in_seconds < 1 or options.dead_letter_capacity < 1:
        raise ValueError('dead_letter_expiry_in_seconds and dead_letter_capacity must be at least 1')


class _HasOptions(Protocol):
    @property
    def options(self) -> TransportOptions: ...


class OptionAttribute(Generic[_T]):
    """An attribute of a core that reads the option of the same name: the names 1.x code reads on `core`.

    Assigning to it on an instance (as 1.x code and tests may) overrides the option for that instance only.
    """

    _name = ''

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> 'OptionAttribute[_T]': ...

    @overload
    def __get__(self, instance: _HasOptions, owner: type) -> _T: ...

    def __get__(self, instance: _HasOptions | None, owner: type) -> '_T | OptionAttribute[_T]':
        if instance is None:
            return self
        return cast(_T, getattr(instance.options, self._name))


class OptionAttributes:
    """The settings a core exposes under their 1.x names (`transport.core.receive_timeout_in_seconds`, ...)."""

    backend_type = OptionAttribute[str]()
    backend_layer_kwargs = OptionAttribute[dict[str, Any]]()
    log_messages_larger_than_bytes = OptionAttribute[int]()
    maximum_message_size_in_bytes = OptionAttribute[int]()
    message_expiry_in_seconds = OptionAttribute[int]()
    queue_capacity = OptionAttribute[int]()
    queue_full_retries = OptionAttribute[int]()
    receive_timeout_in_seconds = OptionAttribute[int]()
    default_serializer_config = OptionAttribute[SerializerConfig]()
