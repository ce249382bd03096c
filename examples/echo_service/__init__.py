"""A small example service: echo, square, divide (with a caller error), large responses, sleep and whoami.

Run it with `python -m examples.echo_service -s examples.echo_service.settings --fork 2`; it reads
the Redis to use from `PYSOA_REDIS_URL` (default `redis://localhost:6379/0`).
"""

__version__ = '1.0.0'
