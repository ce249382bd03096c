"""Dead letters of at-least-once delivery: list, show, replay and purge them for a service (the `pysoa dlq` API).

A request becomes a dead letter when it was delivered more than `max_deliveries` times without being answered
(reason `max_deliveries`: it keeps killing or hanging its workers) or when it was found expired (reason `expired`).
Each is kept, on the Redis server whose queue it came from, with its original bytes, the reason, the time and its
delivery count, for `dead_letter_expiry_in_seconds`; at most `dead_letter_capacity` per service and server.

    from pysoa.common.transport.redis_gateway.dead_letters import DeadLetters

    letters = DeadLetters('echo', backend_layer_kwargs={'hosts': ['redis://localhost:6379/0']})
    for letter in letters.list():
        print(letter.letter_id, letter.reason, letter.deliveries, letter.request().body)
    letters.replay(letter_id, expiry_in_seconds=60)   # back on the queue, with a new deadline
    letters.purge()                                   # all of them (or one: purge(letter_id))
"""

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import redis

from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.redis_gateway import envelope
from pysoa.common.transport.redis_gateway.backend.base import BaseRedisClient
from pysoa.common.transport.redis_gateway.backend.in_flight import DeliveryKeys, as_int, as_list, as_text
from pysoa.common.transport.redis_gateway.backend.registry import backend_class_for
from pysoa.common.transport.redis_gateway.backend.scripts import load_script
from pysoa.common.transport.redis_gateway.constants import QUEUE_NAME_PREFIX, REDIS_BACKEND_TYPE_STANDARD
from pysoa.common.transport.redis_gateway.options import TransportOptions
from pysoa.common.transport.redis_gateway.serializers import SerializerChoice
from pysoa.common.transport.redis_gateway.signing import Signer
from pysoa.common.transport.redis_gateway.utils import make_redis_queue_name

__all__ = ('DeadLetter', 'DeadLetters')

_REPLAY = load_script('replay_dead_letter')

_NO_SIZE_LIMIT = 2**62


@attrs.frozen
class DeadLetter:
    """One dead letter: the request's bytes as they were queued, and why, when and how often it was delivered."""

    letter_id: str
    service_name: str
    reason: str
    """`max_deliveries` or `expired`."""
    time: float
    """When it became a dead letter (Unix seconds)."""
    deliveries: int
    request_id: str
    """The request id as text ('' when unknown)."""
    worker: str
    """The worker that put it here."""
    message: bytes = attrs.field(repr=False)

    def request(self) -> ReceivedMessage:
        """The request decoded (its `meta` also says which serializer and framing it came in); never expires here."""
        serializers = SerializerChoice(TransportOptions().default_serializer_config, self.service_name)
        return envelope.decode_request(self.message, serializers.for_content_type, self.service_name, 0.0)


class DeadLetters:
    """The dead letters of one service, on every Redis server of its backend.

    Build it with the backend settings the service's transport has (`backend_type`, `backend_layer_kwargs`), or
    from a backend already made (`backend=`, e.g. `transport.core.backend_layer`).
    """

    def __init__(
        self,
        service_name: str,
        *,
        backend_type: str = REDIS_BACKEND_TYPE_STANDARD,
        backend_layer_kwargs: Mapping[str, Any] | None = None,
        backend: BaseRedisClient | None = None,
        signing_keys: Sequence[str | bytes] | None = None,
    ) -> None:
        self.service_name = service_name
        # `signing_keys` (else `PYSOA_SIGNING_KEYS`) sign a request replayed with a new deadline, as its service's
        # clients would: a service that requires signatures refuses anything else.
        options = TransportOptions(
            backend_type=backend_type, backend_layer_kwargs=backend_layer_kwargs, signing_keys=signing_keys
        )
        self._signer = options.signer
        if backend is None:
            backend = backend_class_for(backend_type)(**options.backend_layer_kwargs)
        self.backend = backend
        queue_name = make_redis_queue_name(service_name, hash_tag=backend.QUEUE_HASH_TAG)
        self.keys = DeliveryKeys(QUEUE_NAME_PREFIX + queue_name)

    def list(self, limit: int | None = None) -> list[DeadLetter]:
        """The dead letters, oldest first (at most `limit`, the newest ones, when given)."""
        letters = sorted((letter for _, letter in self._letters()), key=lambda letter: letter.time)
        return letters[-limit:] if limit else letters

    def count(self) -> int:
        """How many dead letters there are (ids listed; a few may have expired already)."""
        return sum(
            as_int(connection.llen(self.keys.dead)) for connection in self.backend.connections_for(self.keys.queue)
        )

    def show(self, letter_id: str) -> DeadLetter | None:
        """The dead letter with this id, or None."""
        for connection in self.backend.connections_for(self.keys.queue):
            letter = self._read(connection, letter_id)
            if letter is not None:
                return letter
        return None

    def replay(self, letter_id: str, *, expiry_in_seconds: float | None = None) -> bool:
        """Push the request back at the end of its service queue and forget the dead letter; False if none.

        Its bytes are pushed as they were, so an expired request expires again at once; give `expiry_in_seconds`
        to push it with a new deadline that far from now instead (the rest of the request is unchanged). Its
        delivery count starts again from zero.
        """
        for connection in self.backend.connections_for(self.keys.queue):
            letter = self._read(connection, letter_id)
            if letter is None:
                continue
            arguments: tuple[str | bytes, ...] = (letter_id,)
            if expiry_in_seconds is not None:
                arguments += (_with_new_expiry(letter, time.time() + expiry_in_seconds, self._signer),)
            keys = (self.keys.dead, self.keys.dead_letter(letter_id), self.keys.queue)
            return bool(_REPLAY.run(connection, keys, arguments))
        return False

    def purge(self, letter_id: str | None = None) -> int:
        """Delete one dead letter (by id) or all of them; returns how many were deleted."""
        deleted = 0
        for connection in self.backend.connections_for(self.keys.queue):
            if letter_id is not None:
                removed = as_int(connection.lrem(self.keys.dead, 0, letter_id))
                connection.delete(self.keys.dead_letter(letter_id))
                deleted += removed
                continue
            ids = [as_text(raw) for raw in as_list(connection.lrange(self.keys.dead, 0, -1))]
            if ids:
                connection.delete(self.keys.dead, *(self.keys.dead_letter(one) for one in ids))
            deleted += len(ids)
        return deleted

    def _letters(self) -> Iterator[tuple[redis.Redis, DeadLetter]]:
        for connection in self.backend.connections_for(self.keys.queue):
            for raw in as_list(connection.lrange(self.keys.dead, 0, -1)):
                letter = self._read(connection, as_text(raw))
                if letter is not None:  # expired since: its id lingers in the list until purged or trimmed
                    yield connection, letter

    def _read(self, connection: redis.Redis, letter_id: str) -> DeadLetter | None:
        reply = connection.hgetall(self.keys.dead_letter(letter_id))
        fields = {as_text(name): value for name, value in reply.items()} if isinstance(reply, dict) else {}
        message = fields.get('message')
        if not isinstance(message, bytes):
            return None
        return DeadLetter(
            letter_id=letter_id,
            service_name=self.service_name,
            reason=as_text(fields.get('reason', '')),
            time=float(fields.get('time', 0)),
            deliveries=int(fields.get('deliveries', 0)),
            request_id=as_text(fields.get('request_id', '')),
            worker=as_text(fields.get('worker', '')),
            message=message,
        )


def _with_new_expiry(letter: DeadLetter, expires_at: float, signer: Signer | None) -> bytes:
    received = letter.request()
    meta = dict(received.meta or {})
    serializer, version = meta['serializer'], meta['protocol_version']
    meta['__expiry__'] = expires_at
    message = envelope.wire_envelope(received.request_id or 0, meta, received.body or {})
    encoded = envelope.encode(message, serializer, version, _NO_SIZE_LIMIT, signer=signer)
    if not isinstance(encoded.elements, bytes):  # no chunk size was given: never chunked
        raise AssertionError('a request is one element')
    return encoded.elements
