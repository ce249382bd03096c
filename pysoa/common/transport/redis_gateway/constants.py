"""Names and numbers of the Redis Gateway wire protocol (see docs: protocol §4)."""

import enum
import re

__all__ = (
    'POP_MARGIN_SECONDS',
    'REPLY_SECONDS',
    'REQUEST_QUEUE_SECONDS',
    'DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT',
    'DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER',
    'DEFAULT_MESSAGE_EXPIRY_IN_SECONDS',
    'DEFAULT_QUEUE_CAPACITY',
    'DEFAULT_QUEUE_FULL_RETRIES',
    'DEFAULT_RECEIVE_TIMEOUT_IN_SECONDS',
    'MINIMUM_CHUNKED_MESSAGE_BYTES',
    'QUEUE_NAME_PREFIX',
    'REDIS_BACKEND_TYPES',
    'REDIS_BACKEND_TYPE_CLUSTER',
    'REDIS_BACKEND_TYPE_SENTINEL',
    'REDIS_BACKEND_TYPE_STANDARD',
    'RESPONSE_QUEUE_SPECIFIER',
    'ProtocolFeature',
    'ProtocolVersion',
)

REDIS_BACKEND_TYPE_STANDARD = 'redis.standard'
REDIS_BACKEND_TYPE_SENTINEL = 'redis.sentinel'
REDIS_BACKEND_TYPE_CLUSTER = 'redis.cluster'
REDIS_BACKEND_TYPES = (REDIS_BACKEND_TYPE_STANDARD, REDIS_BACKEND_TYPE_SENTINEL, REDIS_BACKEND_TYPE_CLUSTER)

DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT = 1024 * 100
DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER = 1024 * 250
MINIMUM_CHUNKED_MESSAGE_BYTES = 1024 * 100

DEFAULT_MESSAGE_EXPIRY_IN_SECONDS = 60
DEFAULT_QUEUE_CAPACITY = 10000
DEFAULT_QUEUE_FULL_RETRIES = 10
DEFAULT_RECEIVE_TIMEOUT_IN_SECONDS = 5

POP_MARGIN_SECONDS = 0.5
"""How much longer than its own timeout a blocking pop waits for Redis to answer before giving up."""

REPLY_SECONDS = 1.0
"""How long a server tries to deliver one response (a full or frozen reply queue): a client that stops reading
its replies must not hold a worker up."""

REQUEST_QUEUE_SECONDS = 3600
"""The least time Redis keeps a service's request queue after the last send to it (a reply queue: its message's
expiry + 10 s, as 1.x). The queue outlives any outage or absence of workers shorter than this, so its requests
are still there to be found expired (logged, counted, dead-lettered) instead of dropped with the key unseen; a queue
no one sends to any more still goes away within the hour."""

QUEUE_NAME_PREFIX = 'pysoa:'
"""Every Redis key this transport touches starts with this."""

RESPONSE_QUEUE_SPECIFIER = '!'
"""Present in a queue name only when it is a client's reply queue."""

_VERSION_PREAMBLE = re.compile(rb'pysoa-redis/(?P<version>[0-9]+)//')


class ProtocolVersion(enum.IntEnum):
    """The framing of one Redis list element: v1 bare, v2 with content type, v3 with preamble and headers."""

    VERSION_1 = 1
    VERSION_2 = 2
    VERSION_3 = 3

    @property
    def prefix(self) -> bytes:
        """The preamble that starts a message framed with this version (used from version 3 on)."""
        return b'pysoa-redis/%d//' % self.value

    @staticmethod
    def extract_version(message_data: bytes) -> tuple['ProtocolVersion', bytes]:
        """Detect the version of a framed message and return it with the preamble removed.

        Raises ValueError for a preamble naming a version this code does not know.
        """
        version, offset = ProtocolVersion.locate_version(message_data)
        return version, message_data[offset:] if offset else message_data

    @staticmethod
    def locate_version(message_data: bytes) -> tuple['ProtocolVersion', int]:
        """Like `extract_version`, but return where the preamble ends instead of a copy of the rest."""
        if message_data.startswith(b'pysoa-redis/'):
            match = _VERSION_PREAMBLE.match(message_data)
            if match:
                return ProtocolVersion(int(match.group('version'))), match.end()
        if message_data.startswith(b'content-type'):
            return ProtocolVersion.VERSION_2, 0
        return ProtocolVersion.VERSION_1, 0


class ProtocolFeature(enum.Enum):
    """A framing feature and the protocol version that introduced it."""

    CONTENT_TYPE_HEADER = (1, ProtocolVersion.VERSION_2)
    VERSION_MARKER = (2, ProtocolVersion.VERSION_3)
    CHUNKED_RESPONSES = (3, ProtocolVersion.VERSION_3)

    def supported_in(self, version: ProtocolVersion) -> bool:
        """Whether a peer speaking `version` understands this feature."""
        return version >= self.value[1]
