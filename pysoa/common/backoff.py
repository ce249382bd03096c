"""The one jittered exponential back-off used wherever pysoa waits before trying Redis again."""

import random

__all__ = ('jittered_backoff',)


def jittered_backoff(attempt: int, factor: float = 4.0) -> float:
    """Seconds to wait before retry number `attempt` (0-based): `(2 ** attempt + U[0, 1)) / factor`.

    The random part keeps many workers or clients that failed together from retrying together.
    """
    return (2.0**attempt + random.random()) / factor
