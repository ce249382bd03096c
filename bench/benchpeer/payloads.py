"""The bodies the benchmark sends and returns, the same for every implementation."""

from functools import cache
from typing import Any

SMALL_BODY: dict[str, Any] = {
    'user_id': 1234567,
    'name': 'Ada Lovelace',
    'email': 'ada@example.com',
    'tags': ['alpha', 'beta', 'gamma'],
    'score': 98.6,
    'active': True,
}
"""About 100 bytes once packed with msgpack."""

BATCH_SIZE = 10


def small_response(body: dict[str, Any]) -> dict[str, Any]:
    """What the small action answers."""
    return {'user_id': body['user_id'], 'greeting': 'Hello, ' + body['name'], 'tags': body['tags'], 'ok': True}


@cache
def large_payload(size: int) -> str:
    """A string of `size` ASCII characters (built once per size)."""
    return ('0123456789abcdef' * (size // 16 + 1))[:size]
