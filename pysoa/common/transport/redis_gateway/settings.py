"""Conformity schemas of the Redis Gateway transports' keyword arguments (the 1.x setting names)."""

from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.redis_gateway.backend.registry import BACKEND_CLASSES
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion
from pysoa.common.transport.redis_gateway.options import DELIVERY_MODES
from pysoa.schema import fields

__all__ = ('RedisClientTransportSchema', 'RedisServerTransportSchema', 'RedisTransportSchema')

_BACKEND_LAYER_KWARGS = fields.Dictionary(
    {
        'cluster_kwargs': fields.SchemalessDictionary(
            description="Cluster only: arguments for redis-py's `RedisCluster` (e.g. `require_full_coverage`)",
        ),
        'connection_kwargs': fields.SchemalessDictionary(
            description='Arguments for every Redis connection (redis-py `Redis`): password, username (ACL), db, '
            'ssl options, socket timeouts, ...',
        ),
        'hosts': fields.List(
            fields.Any(
                fields.Tuple(fields.UnicodeString(), fields.Integer()),
                fields.UnicodeString(),
            ),
            description='The Redis hosts (Sentinels, or Cluster startup nodes): each a `(host, port)` tuple, a host '
            'name, or (standard and cluster backends) a redis:// or rediss:// URL (standard: also unix://)',
        ),
        'redis_db': fields.Integer(description='The Redis database; a shortcut for `connection_kwargs["db"]`'),
        'redis_port': fields.Integer(description='The port of every `hosts` entry given as a bare host name'),
        'sentinel_failover_retries': fields.Integer(
            description='Sentinel only: how many times to retry, with back-off, finding a master during a failover',
        ),
        'sentinel_kwargs': fields.SchemalessDictionary(
            description='Sentinel only: arguments for the connections to the Sentinels themselves',
        ),
        'sentinel_services': fields.List(
            fields.UnicodeString(),
            description='Sentinel only: the masters to use (default: every master the Sentinels know)',
        ),
    },
    optional_keys=(
        'cluster_kwargs',
        'connection_kwargs',
        'hosts',
        'redis_db',
        'redis_port',
        'sentinel_failover_retries',
        'sentinel_kwargs',
        'sentinel_services',
    ),
    allow_extra_keys=False,
    description='The arguments of the Redis backend (standard hosts, Sentinel or Cluster)',
)


class RedisTransportSchema(fields.Dictionary):
    """The keyword arguments shared by the Redis client and server transports."""

    contents = {
        'backend_layer_kwargs': _BACKEND_LAYER_KWARGS,
        'backend_type': fields.Constant(
            *BACKEND_CLASSES,
            description='Which backend to use: standard Redis hosts, Sentinel or Redis Cluster '
            "(default 'redis.standard')",
        ),
        'log_messages_larger_than_bytes': fields.Integer(
            description='Log a WARNING (logger `pysoa.transport.oversized_message`) for every message larger than '
            'this that is still sent (default 102400; 0 disables)',
        ),
        'maximum_message_size_in_bytes': fields.Integer(
            description='Messages larger than this are refused before sending (default 100 KiB on the client, '
            '250 KiB on the server)',
        ),
        'message_expiry_in_seconds': fields.Integer(
            gt=0,  # refused at start-up, naming the setting, rather than expiring every message
            description='How long a sent message stays valid; expired requests are discarded (default 60)',
        ),
        'queue_capacity': fields.Integer(
            description='Sending to a queue holding this many messages fails and is retried (default 10000)',
        ),
        'queue_full_retries': fields.Integer(
            description='How many times to retry, with back-off, sending to a full queue (default 10)',
        ),
        'receive_timeout_in_seconds': fields.Integer(
            gt=0,  # zero would block for ever (BLPOP's 0); refused at start-up, naming the setting
            description='How long to block waiting for a message (default 5)',
        ),
        'default_serializer_config': fields.ClassConfigurationSchema(
            base_class=Serializer,
            description='The serializer for sending requests (and for messages without a content type)',
        ),
        'signing_keys': fields.List(
            fields.Any(fields.UnicodeString(), fields.ByteString()),
            description='HMAC-SHA256 keys (each at least 16 bytes): the first signs every request (client) or '
            'response (server), any verifies. Default: the comma-separated PYSOA_SIGNING_KEYS, else none (no '
            'signing, as 1.x)',
        ),
        'signing_required': fields.Boolean(
            description='With signing_keys: refuse unsigned messages (default true; PYSOA_SIGNING_REQUIRED=0 '
            'turns it off). False accepts and counts them, for a rollout across a fleet',
        ),
    }

    optional_keys = (
        'backend_layer_kwargs',
        'backend_type',
        'log_messages_larger_than_bytes',
        'maximum_message_size_in_bytes',
        'message_expiry_in_seconds',
        'queue_capacity',
        'queue_full_retries',
        'receive_timeout_in_seconds',
        'default_serializer_config',
        'signing_keys',
        'signing_required',
    )

    description = 'The keyword arguments of the Redis client and server transports.'


RedisClientTransportSchema = RedisTransportSchema().extend(
    contents={
        # ProtocolVersion members equal their int values, so the enum members are accepted too.
        'protocol_version': fields.Constant(
            *(int(version) for version in ProtocolVersion),
            description='The framing version the client sends (default 3). Servers answer in the version they '
            'receive; use 1 or 2 only to talk to very old servers.',
        ),
    },
    optional_keys=('protocol_version',),
    description='The keyword arguments of the Redis client transport.',
)
"""The client transport's keyword arguments."""

RedisServerTransportSchema = (
    RedisTransportSchema()
    .extend(
        contents={
            'chunk_messages_larger_than_bytes': fields.Integer(
                description='Send responses larger than this in chunks (version 3 clients only), so one big response '
                'does not block Redis; at least 102400, and `maximum_message_size_in_bytes` must be at least 5 times '
                'this. Off by default.',
            ),
        },
        optional_keys=('chunk_messages_larger_than_bytes',),
        description='The keyword arguments of the Redis server transport.',
    )
    .extend(
        # At-least-once delivery: docs/delivery.rst.
        contents={
            'delivery': fields.Constant(
                *DELIVERY_MODES,
                description="'at-most-once' (the default, as 1.x: a request taken by a worker that dies is lost) or "
                "'at-least-once' (each request stays in the worker's in-flight list until answered, and goes back to "
                'the queue if the worker dies; needs Redis 6.2 or later)',
            ),
            'max_deliveries': fields.Integer(
                gte=1,
                description='At-least-once: a request delivered more often than this becomes a dead letter (default 3)',
            ),
            'heartbeat_interval_in_seconds': fields.Any(
                fields.Integer(gt=0),
                fields.Float(gt=0),
                description='At-least-once: how often a worker refreshes its heartbeat key in Redis (default 5)',
            ),
            'heartbeat_expiry_in_seconds': fields.Any(
                fields.Integer(gt=0),
                fields.Float(gt=0),
                description='At-least-once: a worker whose heartbeat is older than this is dead and its in-flight '
                'requests go back to the queue (default 30; more than the interval)',
            ),
            'dead_letter_expiry_in_seconds': fields.Integer(
                gte=1,
                description='At-least-once: how long a dead letter is kept (default 7 days)',
            ),
            'dead_letter_capacity': fields.Integer(
                gte=1,
                description='At-least-once: at most this many dead letters per service and Redis server; the oldest '
                'go first (default 10000)',
            ),
        },
        optional_keys=(
            'delivery',
            'max_deliveries',
            'heartbeat_interval_in_seconds',
            'heartbeat_expiry_in_seconds',
            'dead_letter_expiry_in_seconds',
            'dead_letter_capacity',
        ),
        description='The keyword arguments of the Redis server transport.',
    )
)
"""The server transport's keyword arguments."""
