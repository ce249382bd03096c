"""Asking the Sentinels about a master, and deciding whether a request taken from it may be run.

Why a worker must check after taking a request (docs/delivery.rst, "Sentinel failover"): Redis replicates
asynchronously, and Sentinel promotes a replica without stopping the old master at once. A request that a worker
takes (BLPOP, BLMOVE) from the old master after the promotion, or before the taking reached the replica, is still
queued on the promoted replica, and a worker there runs it again. So a taken request is run only when:

1. the master says it is a master and the taking is on every replica a failover could promote (`WAIT n`, n being
   the most replicas this master has been seen with: the Sentinels' count of replicas in sync, or the replicas
   `INFO replication` lists, those still in their first sync included; never lowered on this path, since a
   promoted replica drops out of both): a replica promoted later does not hold the request any more; or
2. failing that, the Sentinels (all that answer, the newest configuration epoch deciding) still name this master
   and no failover is under way, the master still says it is a master, and a `WAIT` succeeds within
   `CONFIRM_SECONDS`; if the replicas still have not acknowledged by then (a lagging or half-dead replica, not
   a failover), the request is run anyway, logged, since holding it longer would not make it safer.

Anything else (another master named, a failover under way, a demoted or unreachable master) is a "no": the
request is not run there; the copy on the promoted replica is served there, once.
"""

import functools
import logging
import time
from collections.abc import Callable, Sequence

import attrs
import redis
import redis.sentinel

from pysoa.common.transport.redis_gateway.backend.direct import execute_command, supports_direct_commands, time_limit

__all__ = (
    'CONFIRM_SECONDS',
    'FAST_WAIT_SECONDS',
    'REPLICA_GONE_SECONDS',
    'SENTINEL_SECONDS',
    'MasterCommand',
    'MasterView',
    'StaleSentinelsError',
    'Verdict',
    'attached_replicas',
    'command_on',
    'confirm',
    'discover',
    'is_stale',
    'masters_known',
)

SENTINEL_SECONDS = 1.0
"""The longest a Sentinel may take to answer one question (less when the caller's deadline comes first)."""

FAST_WAIT_SECONDS = 0.1
"""How long the replicas have to acknowledge a taking before the Sentinels are asked (they take ~1 round trip)."""

CONFIRM_SECONDS = 2.0
"""How long a worker keeps checking before it runs a request whose taking the replicas have not acknowledged."""

REPLICA_GONE_SECONDS = 10.0
"""How long the Sentinels and the master must agree on fewer replicas than a master was seen with before the lower
count is believed: a replica leaves both counts the moment a failover promotes it, before every Sentinel says so, and
the Sentinels see a replica's state only every 10 s."""

_logger = logging.getLogger(__name__)

_DOWN_FLAGS = frozenset({'s_down', 'o_down', 'disconnected'})


@attrs.frozen
class MasterView:
    """What one Sentinel says of a master."""

    address: tuple[str, int]
    flags: frozenset[str]
    epoch: int
    replicas: int
    """The replicas that replicate from it and are up (master link ok): the ones a failover would choose from."""

    @property
    def usable(self) -> bool:
        # Not a master that this Sentinel is failing over: requests taken there now are on the replica it promotes.
        return 'master' in self.flags and not self.flags & {'s_down', 'o_down', 'failover_in_progress'}

    @property
    def failing_over(self) -> bool:
        return 'failover_in_progress' in self.flags or 'o_down' in self.flags


@attrs.frozen
class Verdict:
    """Whether a taking may be run; why not; how many replicas the master was found with."""

    confirmed: bool
    reason: str = ''
    replicas: int = 0
    newest: MasterView | None = None
    """The view of the newest configuration epoch the Sentinels gave, when they were asked."""
    seen: int | None = None
    """How many replicas the Sentinels and the master agreed on, when they were asked (may be fewer than `replicas`)."""


def _text(value: object) -> str:
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def _fields(reply: object) -> dict[str, str]:
    """A Sentinel's flat `[name, value, ...]` reply as a dict (redis-py's parsed dict when not sent directly)."""
    if isinstance(reply, dict):
        return {_text(key): _text(value) for key, value in reply.items()}
    if not isinstance(reply, list):
        raise redis.ResponseError(f'Unexpected Sentinel reply {reply!r}')
    return {_text(reply[i]): _text(reply[i + 1]) for i in range(0, len(reply) - 1, 2)}


MasterCommand = Callable[..., object]
"""Runs one command (`'WAIT', 1, 100`) on the connection that took a request, and returns its reply."""


def command_on(connection: redis.Redis) -> MasterCommand:
    """The `MasterCommand` of a blocking connection (the calling thread's own, as the taking was)."""
    return functools.partial(_command, connection)


def _command(connection: redis.Redis, *args: str | int) -> object:
    if supports_direct_commands(connection):
        return execute_command(connection, *args)
    command: Callable[..., object] = connection.execute_command  # a test double's own (redis-py leaves it untyped)
    return command(*args)


def masters_known(sentinel: redis.Redis) -> list[str]:
    """The names of the masters `sentinel` watches, in the order it reports them."""
    with time_limit(SENTINEL_SECONDS):
        reply = _command(sentinel, 'SENTINEL', 'MASTERS')
    if not isinstance(reply, list):
        return []
    return [_fields(entry).get('name', '') for entry in reply if isinstance(entry, list | dict)]


def ask(sentinel: redis.Redis, service: str) -> MasterView:
    """What `sentinel` says of master `service` (redis errors pass through; unknown names raise ResponseError)."""
    with time_limit(SENTINEL_SECONDS):
        master = _fields(_command(sentinel, 'SENTINEL', 'MASTER', service))
        replicas_reply = _command(sentinel, 'SENTINEL', 'REPLICAS', service)
    address = (master.get('ip', ''), int(master.get('port', '0')))
    replicas = 0
    for entry in replicas_reply if isinstance(replicas_reply, list) else []:
        replica = _fields(entry)
        if (
            replica.get('master-link-status') == 'ok'
            and (replica.get('master-host'), int(replica.get('master-port', '0'))) == address
            and not set(replica.get('flags', '').split(',')) & _DOWN_FLAGS
        ):
            replicas += 1
    return MasterView(
        address, frozenset(master.get('flags', '').split(',')), int(master.get('config-epoch', '0')), replicas
    )


class StaleSentinelsError(redis.sentinel.MasterNotFoundError):
    """Every Sentinel that named a usable master named one that a newer configuration (epoch) has replaced."""


def is_stale(view: MasterView, newest: MasterView | None) -> bool:
    """Whether `view` names a master that the configuration of `newest` (a higher epoch) has replaced.

    A Sentinel that has not yet heard of a failover still names the old master, which stays writable until it is
    demoted: moving back to it would take requests the new master also holds.
    """
    return newest is not None and view.epoch < newest.epoch and view.address != newest.address


def discover(sentinels: list[redis.Redis], service: str, newest: MasterView | None = None) -> MasterView:
    """The first usable answer that is not stale (`is_stale` against `newest`, the newest view seen so far),
    asking the Sentinels in turn (the one that answers goes first next time).

    Raises `MasterNotFoundError` when none names a usable master (`StaleSentinelsError` when some did, but only
    replaced ones).
    """
    errors = []
    stale = False
    for index, sentinel in enumerate(sentinels):
        try:
            view = ask(sentinel, service)
        except redis.RedisError as error:
            errors.append(f'{sentinel!r}: {error!r}')
            continue
        if view.usable and is_stale(view, newest):
            stale = True
            errors.append(
                f'{sentinel!r}: names {view.address[0]}:{view.address[1]} of configuration epoch {view.epoch}'
            )
        elif view.usable:
            sentinels[0], sentinels[index] = sentinel, sentinels[0]
            return view
        else:
            errors.append(f'{sentinel!r}: flags {",".join(sorted(view.flags))}')
    found = StaleSentinelsError if stale else redis.sentinel.MasterNotFoundError
    where = f' (epoch {newest.epoch} named {newest.address[0]}:{newest.address[1]})' if stale and newest else ''
    raise found(f'No master found for {service!r}{where}: {"; ".join(errors)}')


def _newest_view(sentinels: Sequence[redis.Redis], service: str) -> tuple[MasterView | None, bool]:
    """The view of the newest configuration epoch among the Sentinels that answer, and whether any is failing over."""
    newest: MasterView | None = None
    failing_over = False
    for sentinel in sentinels:
        try:
            view = ask(sentinel, service)
        except redis.RedisError:
            continue
        failing_over = failing_over or view.failing_over
        if newest is None or view.epoch > newest.epoch:
            newest = view
    return newest, failing_over


def _replicated(command: MasterCommand, replicas: int, seconds: float) -> bool:
    """Whether `replicas` replicas acknowledge everything the taking connection wrote, within `seconds` (WAIT)."""
    with time_limit(seconds + 0.5):
        acknowledged = command('WAIT', replicas, max(1, int(seconds * 1000)))
    return isinstance(acknowledged, int) and acknowledged >= replicas


def _role(command: MasterCommand) -> tuple[bool, int]:
    """Whether the server says it is a master, and how many replicas are attached to it (`INFO replication`).

    Replicas still in their first sync count (unlike in `ROLE`): Sentinel may promote one, and it acknowledges
    nothing until the sync is done, so a taking is not confirmed by `WAIT` meanwhile.
    """
    with time_limit(SENTINEL_SECONDS):
        reply = command('INFO', 'replication')
    if isinstance(reply, dict):  # parsed by redis-py (an asyncio client's `execute_command`)
        fields = {_text(key): _text(value) for key, value in reply.items()}
    else:
        fields = dict(line.split(':', 1) for line in _text(reply).splitlines() if ':' in line)
    if fields.get('role', '').strip() != 'master':
        return False, 0
    return True, int(fields.get('connected_slaves', '0').strip() or '0')


def attached_replicas(master: redis.Redis) -> int:
    """How many replicas `master` says are attached to it, 0 if it is no master or cannot say (see `_role`)."""
    try:
        is_master, connected = _role(command_on(master))
    except redis.RedisError:
        return 0  # the command the caller is about to send fails the same way and is handled there
    return connected if is_master else 0


def confirm(
    command: MasterCommand,
    replicas: int,
    address: tuple[str, int],
    sentinels: Sequence[redis.Redis],
    service: str,
    believe_fewer: bool = False,
) -> Verdict:
    """Whether a request just taken on a connection to master `address` of `service` may be run (module docstring);
    `command` runs commands on that connection (`WAIT` counts what it wrote: the taking).

    `replicas` is the most replicas this master has been seen with (the Sentinels' count, or `INFO replication`'s):
    a count that drops is not believed on the fast path, since the replica promoted by a failover drops out of both.
    Never raises: a master or Sentinels that cannot be reached give a "no".
    """
    try:
        is_master, connected = _role(command)
        wanted = max(replicas, connected)
        if is_master and (wanted == 0 or _replicated(command, wanted, FAST_WAIT_SECONDS)):
            _logger.debug('Taking on %s:%s (%s) confirmed by WAIT %d', *address, service, wanted)
            return Verdict(True, replicas=wanted)
        give_up_at = time.monotonic() + CONFIRM_SECONDS
        while True:
            view, failing_over = _newest_view(sentinels, service)
            if view is None:
                return Verdict(False, 'no Sentinel answers')
            if view.address != address:
                return Verdict(False, f'the Sentinels now name {view.address[0]}:{view.address[1]}', newest=view)
            if failing_over:
                return Verdict(False, 'a failover is under way', newest=view)
            is_master, connected = _role(command)
            if not is_master:
                return Verdict(False, 'it is no longer a master', newest=view)
            # Here every Sentinel that answers agrees that this is the master and none is failing over. Their count
            # (with INFO's) is believed when it dropped only once the caller has seen it lower for a while
            # (`believe_fewer`, a replica removed for good): a replica being promoted leaves it at once.
            seen = max(view.replicas, connected)
            wanted = seen if believe_fewer else max(replicas, seen)
            if wanted == 0 or _replicated(command, wanted, 0.25):
                return Verdict(True, replicas=wanted, newest=view, seen=seen)
            if time.monotonic() >= give_up_at:
                _logger.warning(
                    'The replicas of Redis master %s:%s (%s) did not acknowledge within %.1f s, and the Sentinels '
                    'are not failing over: running the request taken there',
                    *address,
                    service,
                    CONFIRM_SECONDS,
                )
                return Verdict(True, replicas=wanted, newest=view, seen=seen)
    except redis.RedisError as error:
        return Verdict(False, f'it cannot be reached ({error!r})')
