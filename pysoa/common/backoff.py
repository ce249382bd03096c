"""The one jittered exponential back-off used wherever pysoa waits before trying Redis again."""

import random

__all__ = ('jittered_backoff',)

# The operating system's generator: it leaves the application's own `random` state alone (a background retry must
# not change what a seeded program draws next), and forked workers do not share one sequence of delays.
_random = random.SystemRandom()


def jittered_backoff(attempt: int, factor: float = 4.0) -> float:
    """Seconds to wait before retry number `attempt` (0-based): `(2 ** attempt + U[0, 1)) / factor`.

    The random part keeps many workers or clients that failed together from retrying together.
    """
    return (2.0**attempt + _random.random()) / factor
