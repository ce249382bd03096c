"""A client of the echo service: a tour of the ways to call a service, printing what happens.

Run it against a running echo service: `PYSOA_REDIS_URL=redis://... python -m examples.echo_client`.
`python -m examples.demo` starts Redis and the service for you, then runs this same tour.
"""

import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from pysoa.client import Client
from pysoa.client.errors import CallActionError

__all__ = ('TourError', 'client_settings', 'make_client', 'run_tour', 'wait_until_ready')

SERVICE = 'echo'


def client_settings(redis_url: str) -> dict[str, Any]:
    """The client settings for calling the echo service over the Redis at `redis_url`."""
    return {
        'transport': {
            'path': 'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
            'kwargs': {
                'backend_type': 'redis.standard',
                'backend_layer_kwargs': {'hosts': [redis_url]},
                'receive_timeout_in_seconds': 10,
            },
        },
    }


def make_client(redis_url: str) -> Client:
    """A `Client` that knows where the echo service is."""
    return Client({SERVICE: client_settings(redis_url)})


def wait_until_ready(client: Client, timeout: float = 30.0) -> dict[str, Any]:
    """Call the service's `status` action until it answers (or raise `TimeoutError` after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return dict(client.call_action(SERVICE, 'status', {'verbose': False}, timeout=2).body)
        except Exception as error:
            last_error = error
    raise TimeoutError(f'The echo service did not answer within {timeout} seconds (last error: {last_error!r})')


class TourError(AssertionError):
    """A call of the tour returned something other than what the echo service should answer."""


def _check(condition: bool, message: object) -> None:
    if not condition:
        raise TourError(str(message))


def _step(out: TextIO, number: int, title: str, action: Callable[[], str]) -> None:
    out.write(f'{number}. {title}\n')
    out.flush()
    started = time.perf_counter()
    result = action()
    out.write(f'   {result}  [{(time.perf_counter() - started) * 1000:.1f} ms]\n')
    out.flush()


def run_tour(client: Client, out: TextIO = sys.stdout) -> None:
    """Call the echo service five ways, printing each result; raises `TourError` if a result is wrong."""

    def single() -> str:
        response = client.call_action(SERVICE, 'echo', {'message': 'hello, pysoa'})
        _check(response.body == {'message': 'hello, pysoa'}, response.body)
        return f'echo.echo -> {response.body}'

    def batch() -> str:
        job = client.call_actions(
            SERVICE,
            [
                {'action': 'square', 'body': {'number': 12}},
                {'action': 'echo', 'body': {'message': 'second action of the job'}},
                {'action': 'divide', 'body': {'dividend': 1, 'divisor': 8}},
            ],
        )
        bodies = [action.body for action in job.actions]
        _check(bodies[0] == {'square': 144} and bodies[2] == {'quotient': 0.125}, bodies)
        return 'one job, run in order by one worker -> ' + ', '.join(str(body) for body in bodies)

    def parallel() -> str:
        responses = list(
            client.call_actions_parallel(SERVICE, [{'action': 'sleep', 'body': {'seconds': 0.5}} for _ in range(4)])
        )
        pids = sorted({response.body['pid'] for response in responses})
        _check(len(responses) == 4, responses)
        return f'4 calls of a 0.5 s action sent at once, answered by worker PIDs {pids}'

    def error() -> str:
        try:
            client.call_action(SERVICE, 'divide', {'dividend': 1, 'divisor': 0})
        except CallActionError as caught:
            problem = caught.actions[0].errors[0]
            _check(problem.code == 'DIVISION_BY_ZERO' and problem.field == 'divisor', problem)
            return f'CallActionError: {problem.code} on field {problem.field!r}: {problem.message}'
        raise TourError('dividing by zero did not fail')

    def large() -> str:
        response = client.call_action(SERVICE, 'large', {'kib': 512})
        size = len(response.body['payload'])
        _check(size == 512 * 1024, size)
        return f'a {size // 1024} KiB response, sent by the service in chunks and reassembled by the client'

    _step(out, 1, 'A single call', single)
    _step(out, 2, 'A batch: several actions in one job', batch)
    _step(out, 3, 'Parallel calls', parallel)
    _step(out, 4, 'An error the service reports to the caller', error)
    _step(out, 5, 'A large response', large)


def main() -> int:
    """Run the tour against the service reachable through `PYSOA_REDIS_URL`."""
    client = make_client(os.environ.get('PYSOA_REDIS_URL', 'redis://localhost:6379/0'))
    status = wait_until_ready(client, timeout=10)
    print(f'The echo service answers (version {status.get("version")}).')
    run_tour(client)
    print('All calls succeeded.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
