"""The jittered back-off stays inside its range and leaves the application's `random` sequence alone."""

import random

from pysoa.common.backoff import jittered_backoff


def test_each_delay_lies_between_its_exponential_step_and_the_next_quarter_second() -> None:
    for attempt in range(6):
        delays = {jittered_backoff(attempt) for _ in range(50)}
        assert all(2**attempt / 4 <= delay < (2**attempt + 1) / 4 for delay in delays)
        assert len(delays) > 1  # jittered: fifty draws from a continuous range are not all one value


def test_backing_off_does_not_advance_a_seeded_program_s_random_numbers() -> None:
    # A retry in a background thread must not change what the application draws next (a seeded simulation, or
    # hypothesis, which fails a test whose strategies see the global state move).
    random.seed(1234)
    expected = [random.random() for _ in range(3)]
    random.seed(1234)
    jittered_backoff(2)
    assert [random.random() for _ in range(3)] == expected
