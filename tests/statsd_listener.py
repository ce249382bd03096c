"""A real UDP socket on 127.0.0.1 standing in for statsd, and the metrics that recorders send it.

The `udp_socket` fixture (in `conftest.py`) gives a test one; these read what arrives.
"""

import contextlib
import socket
import time
from collections.abc import Iterator

__all__ = ('assert_received', 'listening_udp_socket', 'received_metrics')


@contextlib.contextmanager
def listening_udp_socket() -> Iterator[socket.socket]:
    """A UDP socket bound to a free port on 127.0.0.1, closed after the block; each receive waits at most 1 s."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(('127.0.0.1', 0))
        sock.settimeout(1)
        yield sock
    finally:
        sock.close()


def received_metrics(sock: socket.socket, until: set[str], seconds: float = 20.0) -> dict[str, list[str]]:
    """Metric name -> the values received (`1|c`, `3.2|ms`), until every name in `until` has come or time is up."""
    by_name: dict[str, list[str]] = {}
    deadline = time.monotonic() + seconds
    for _ in range(5000):  # bounded in packets as well as in time
        if until <= set(by_name) or time.monotonic() > deadline:
            break
        try:
            packet = sock.recv(65536).decode()
        except TimeoutError:
            continue
        for line in packet.split('\n'):
            name, _, value = line.partition(':')
            by_name.setdefault(name, []).append(value)
    return by_name


def assert_received(sock: socket.socket, expected: set[str], seconds: float = 20.0) -> dict[str, list[str]]:
    """`received_metrics`, failing (with the names that did come) unless every name in `expected` came."""
    by_name = received_metrics(sock, expected, seconds)
    assert expected <= set(by_name), f'missing {sorted(expected - set(by_name))} in {sorted(by_name)}'
    return by_name
