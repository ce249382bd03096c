"""What it would cost a client to confirm each send with `WAIT` (issue 10, the Sentinel failover's lost requests).

A request pushed to a Sentinel master in the moment after a failover promoted its replica, and before the client
notices, is lost when the old master is demoted. A client could learn of it at send time by asking, after the
push, that the replica holds it (`WAIT 1 <ms>`, pipelined with the push so that it costs no extra round trip
to send, only the wait for the replica's acknowledgement). This times the push alone, the push with a pipelined
`WAIT`, and the push with `WAIT` as a second round trip, against a master with one replica on loopback.

    python bench/send_wait.py            # 3 interleaved reps of 2,000 sends per variant, about 15 s

Prints microseconds per send (median of the reps, and each rep). Figures only: nothing is asserted.
"""

import statistics
import sys
import time
from collections.abc import Callable

import redis

from pysoa.common.transport.redis_gateway.backend.scripts import SEND_SCRIPT
from pysoa.test.redis_server import RedisServerProcess, find_redis_server_binary
from pysoa.test.waiting import wait_until

SENDS = 2000
REPS = 3
MESSAGE = b'x' * 300  # about the size of a small job request


def _replicating(replica: redis.Redis) -> bool:
    return replica.info('replication').get('master_link_status') == 'up'


def main() -> int:
    binary = find_redis_server_binary()
    if binary is None:
        print('no redis-server binary', file=sys.stderr)
        return 1
    with RedisServerProcess(binary=binary) as master_process, RedisServerProcess(binary=binary) as replica_process:
        master = redis.Redis(port=master_process.port)
        replica = redis.Redis(port=replica_process.port)
        replica.replicaof('127.0.0.1', master_process.port)
        if not wait_until(lambda: _replicating(replica), 10):
            print('the replica did not sync', file=sys.stderr)
            return 1
        SEND_SCRIPT.run(master, ['pysoa:service.bench'], [3600, 1_000_000, MESSAGE])  # loads the script

        def push() -> None:
            SEND_SCRIPT.run(master, ['pysoa:service.bench'], [3600, 1_000_000, MESSAGE])

        def push_then_wait() -> None:
            push()
            if master.execute_command('WAIT', 1, 100) != 1:
                raise RuntimeError('the replica did not acknowledge')

        pipeline = master.pipeline(transaction=False)

        def push_and_wait_pipelined() -> None:
            pipeline.evalsha(SEND_SCRIPT.sha, 1, 'pysoa:service.bench', 3600, 1_000_000, MESSAGE)
            pipeline.execute_command('WAIT', 1, 100)
            if pipeline.execute()[1] != 1:
                raise RuntimeError('the replica did not acknowledge')

        variants: dict[str, Callable[[], None]] = {
            'push (send.lua)': push,
            'push + WAIT 1 (pipelined)': push_and_wait_pipelined,
            'push, then WAIT 1 (2 round trips)': push_then_wait,
        }
        timings: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(REPS):
            for name, send in variants.items():
                master.delete('pysoa:service.bench')
                started = time.perf_counter()
                for _ in range(SENDS):
                    send()
                timings[name].append((time.perf_counter() - started) / SENDS * 1e6)
        base = statistics.median(timings['push (send.lua)'])
        for name, reps in timings.items():
            median = statistics.median(reps)
            each = ', '.join(f'{rep:.0f}' for rep in reps)
            print(f'{name:36s} {median:6.0f} µs per send (+{median - base:.0f})   reps: {each}')
        master.close()
        replica.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
