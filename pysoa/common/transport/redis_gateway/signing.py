"""Signed envelopes: an HMAC-SHA256 of each serialized message, in the v3 header `signature` (protocol §4).

With `signing_keys` set, a client signs its requests and a server its responses with the first key; a received
message is accepted when any key verifies it, so keys can be rotated without a gap. What is signed is the
content type, a `;`, then the serialized envelope: for a chunked response, all its chunks' payloads joined.
Because the envelope's meta holds `__expiry__`, a signed message cannot be given a new life: replaying it after
it expired is refused like any expired message, and a signed message without `__expiry__` is refused outright.

`signing_required` (default true) refuses unsigned messages; turned off, they are accepted and counted, which is
the verify-optional phase of a rollout across a fleet (docs: operations, "Signing").
"""

import functools
import hashlib
import hmac
import os
from collections.abc import Iterable

__all__ = (
    'MINIMUM_KEY_BYTES',
    'SIGNATURE_HEADER',
    'SIGNING_KEYS_VARIABLE',
    'SIGNING_REQUIRED_VARIABLE',
    'SignatureError',
    'Signer',
    'parse_signing_keys',
    'signer_for',
    'signing_keys_from_environment',
    'signing_required_from_environment',
)

SIGNATURE_HEADER = 'signature'
"""The v3 header that carries the signature: 64 lower-case hex digits."""

SIGNING_KEYS_VARIABLE = 'PYSOA_SIGNING_KEYS'
"""Keys separated by commas, first the one that signs; read when the `signing_keys` setting is not given."""

SIGNING_REQUIRED_VARIABLE = 'PYSOA_SIGNING_REQUIRED'
"""`0`, `false` or `no` turns unsigned messages from refused into accepted (when `signing_required` is not given)."""

MINIMUM_KEY_BYTES = 16
"""A shorter key is refused: an HMAC is only as strong as its key."""

_SIGNATURE_HEX_LENGTH = hashlib.sha256().digest_size * 2


class SignatureError(Exception):
    """Why a received message was refused: `reason` is `unsigned`, `bad_signature` or `no_expiry`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_signing_keys(keys: str | bytes | Iterable[str | bytes] | None) -> tuple[bytes, ...]:
    """The keys as bytes (text is UTF-8 encoded); a string is split at commas, as the environment variable is.

    Raises ValueError for a key shorter than MINIMUM_KEY_BYTES.
    """
    if keys is None:
        return ()
    if isinstance(keys, str | bytes):
        text = keys.decode('utf-8') if isinstance(keys, bytes) else keys
        keys = [key.strip() for key in text.split(',') if key.strip()]
    parsed = tuple(key.encode('utf-8') if isinstance(key, str) else bytes(key) for key in keys)
    for index, key in enumerate(parsed):
        if len(key) < MINIMUM_KEY_BYTES:
            raise ValueError(f'signing key {index + 1} has {len(key)} bytes; each needs at least {MINIMUM_KEY_BYTES}')
    return parsed


def signing_keys_from_environment() -> tuple[bytes, ...]:
    """The keys in PYSOA_SIGNING_KEYS, or none."""
    return parse_signing_keys(os.environ.get(SIGNING_KEYS_VARIABLE))


def signing_required_from_environment() -> bool:
    """False only when PYSOA_SIGNING_REQUIRED says so (`0`, `false`, `no`, `off`)."""
    return os.environ.get(SIGNING_REQUIRED_VARIABLE, '').strip().lower() not in {'0', 'false', 'no', 'off'}


class Signer:
    """Signs with the first key, verifies with any; the HMAC states keyed once are copied per message."""

    def __init__(self, keys: tuple[bytes, ...], required: bool = True) -> None:
        if not keys:
            raise ValueError('a Signer needs at least one key')
        self.required = required
        self._states = tuple(hmac.new(key, digestmod=hashlib.sha256) for key in keys)

    def sign(self, mime_type: str, parts: Iterable[bytes | memoryview]) -> str:
        """The signature of a message whose serialized envelope is `parts` joined (hex)."""
        return self._digest(self._states[0], mime_type, parts).hex()

    def verify(self, mime_type: str, parts: list[bytes | memoryview], signature: str | None) -> None:
        """Raise SignatureError unless `signature` is that of the message under one of the keys.

        An absent signature passes when signing is not required.
        """
        if signature is None:
            if self.required:
                raise SignatureError('unsigned message', 'unsigned')
            return
        if len(signature) != _SIGNATURE_HEX_LENGTH:
            raise SignatureError('malformed signature', 'bad_signature')
        try:
            expected = bytes.fromhex(signature)
        except ValueError:
            raise SignatureError('malformed signature', 'bad_signature') from None
        for state in self._states:
            if hmac.compare_digest(self._digest(state, mime_type, parts), expected):
                return
        raise SignatureError('signature matches no signing key', 'bad_signature')

    @staticmethod
    def _digest(state: 'hmac.HMAC', mime_type: str, parts: Iterable[bytes | memoryview]) -> bytes:
        mac = state.copy()
        mac.update(mime_type.encode('ascii', 'replace') + b';')
        for part in parts:  # chunks are hashed where they lie: a 5 MB response is never copied for this
            mac.update(part)
        return mac.digest()


@functools.lru_cache(maxsize=32)
def signer_for(keys: tuple[bytes, ...], required: bool) -> Signer | None:
    """The signer of a transport's options (None without keys); shared by transports with the same keys."""
    return Signer(keys, required) if keys else None
