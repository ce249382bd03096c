"""`pysoa dlq list|show|replay|purge SERVICE`: the dead letters of an at-least-once service.

A thin layer over `redis_gateway.dead_letters.DeadLetters`, on every Redis backend the service's requests go to.
`purge` asks before deleting unless `--yes`.
"""

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import attrs
import click
import redis

from pysoa.cli.errors import CallFailed, TransportFailure
from pysoa.cli.output import echo_json, format_seconds, render_table, to_json
from pysoa.cli.target import Target, backend_for, pass_target
from pysoa.common.transport.errors import PySOATransportError
from pysoa.common.transport.redis_gateway.dead_letters import DeadLetter, DeadLetters

__all__ = ('dlq_group',)

_T = TypeVar('_T')


def _on_each_backend(target: Target, service: str, use: Callable[[DeadLetters], _T]) -> Iterator[_T]:
    for backend_type, layer in target.service_layers(service):
        backend = backend_for(backend_type, layer)
        try:
            yield use(DeadLetters(service, backend=backend))
        except (redis.RedisError, PySOATransportError) as error:
            raise TransportFailure(f'Cannot reach {target.address(service)} (from {target.source}): {error}') from None
        finally:
            backend.close()


def _summary(letter: DeadLetter) -> dict[str, object]:
    """Everything about a dead letter but its bytes."""
    return attrs.asdict(letter, filter=lambda attribute, _: attribute.name != 'message')


def _actions_of(letter: DeadLetter) -> str:
    try:
        actions = (letter.request().body or {}).get('actions') or []
    except PySOATransportError:
        return '(unreadable)'
    return ', '.join(str(action.get('action')) for action in actions if isinstance(action, dict))


@click.group('dlq')
def dlq_group() -> None:
    """The dead letters of an at-least-once service: requests given up on."""


@dlq_group.command('list')
@click.argument('service')
@click.option('--limit', type=click.IntRange(min=1), help='Only the newest N.')
@click.option('--json', 'as_json', is_flag=True, help='Print JSON instead of a table.')
@pass_target
def list_command(target: Target, service: str, limit: int | None, as_json: bool) -> None:
    """The dead letters of SERVICE, oldest first."""
    letters = [letter for found in _on_each_backend(target, service, lambda dead: dead.list(limit)) for letter in found]
    if as_json:
        echo_json([_summary(letter) | {'actions': _actions_of(letter)} for letter in letters])
        return
    if not letters:
        click.echo(f'No dead letters for {service}.')
        return
    now = time.time()
    rows = [
        [
            letter.letter_id,
            letter.reason,
            format_seconds(now - letter.time),
            letter.deliveries,
            letter.request_id,
            _actions_of(letter),
        ]
        for letter in letters
    ]
    click.echo(render_table(['ID', 'REASON', 'AGE', 'DELIVERIES', 'REQUEST', 'ACTIONS'], rows))


def _find(target: Target, service: str, letter_id: str) -> DeadLetter:
    for letter in _on_each_backend(target, service, lambda dead: dead.show(letter_id)):
        if letter is not None:
            return letter
    raise CallFailed(f'No dead letter {letter_id!r} for {service}.')


@dlq_group.command('show')
@click.argument('service')
@click.argument('letter_id')
@click.option('--json', 'as_json', is_flag=True, help='Print JSON.')
@pass_target
def show_command(target: Target, service: str, letter_id: str, as_json: bool) -> None:
    """One dead letter of SERVICE, with its request."""
    letter = _find(target, service, letter_id)
    try:
        received = letter.request()
        request: object = {'request_id': received.request_id, 'meta': received.meta, 'body': received.body}
    except PySOATransportError as error:
        request = f'(unreadable: {error})'
    if as_json:
        echo_json(_summary(letter) | {'request': request})
        return
    click.echo(render_table(['FIELD', 'VALUE'], [[key, value] for key, value in _summary(letter).items()]))
    click.echo(f'Request: {to_json(request)}')


@dlq_group.command('replay')
@click.argument('service')
@click.argument('letter_id')
@click.option(
    '--expiry',
    type=click.FloatRange(min=0, min_open=True),
    help='Give the request a new deadline this many seconds from now (else it keeps its own, maybe past).',
)
@pass_target
def replay_command(target: Target, service: str, letter_id: str, expiry: float | None) -> None:
    """Put a dead letter of SERVICE back on its queue."""
    if not any(_on_each_backend(target, service, lambda dead: dead.replay(letter_id, expiry_in_seconds=expiry))):
        raise CallFailed(f'No dead letter {letter_id!r} for {service}.')
    click.echo(f'Replayed {letter_id} onto the {service} queue.')


@dlq_group.command('purge')
@click.argument('service')
@click.argument('letter_id', required=False)
@click.option('--yes', is_flag=True, help='Do not ask for confirmation.')
@pass_target
def purge_command(target: Target, service: str, letter_id: str | None, yes: bool) -> None:
    """Delete one dead letter of SERVICE (LETTER_ID), or all of them."""
    what = f'dead letter {letter_id}' if letter_id else f'every dead letter of {service}'
    if not yes:
        click.confirm(f'Delete {what} on {target.address(service)}?', abort=True)
    deleted = sum(_on_each_backend(target, service, lambda dead: dead.purge(letter_id)))
    click.echo(f'Deleted {deleted} dead letter(s) of {service}.')
