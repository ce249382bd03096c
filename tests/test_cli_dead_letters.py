"""`pysoa queues` and `pysoa dlq` against an at-least-once echo service holding dead letters (a real Redis)."""

import json

import pytest
from click.testing import CliRunner, Result

from pysoa.cli import pysoa_command
from pysoa.cli.errors import EXIT_ERRORS, EXIT_OK
from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.redis_gateway.client import RedisClientTransport
from pysoa.common.transport.redis_gateway.dead_letters import DeadLetters
from pysoa.test.waiting import wait_until
from tests.conftest import StartService

JOB = {
    'control': {'continue_on_error': False},
    'context': {},
    'actions': [{'action': 'echo', 'body': {'message': 'hi'}}],
}


def run(redis_url: str, *arguments: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        pysoa_command, ['--redis', redis_url, *arguments], input=stdin, env={'PYSOA_REDIS_URL': ''}
    )


@pytest.fixture
def letters(redis_url: str, start_service: StartService) -> DeadLetters:
    """Two requests already expired when they are sent, so the service's worker makes them dead letters."""
    client = RedisClientTransport('echo', noop_metrics, backend_layer_kwargs={'hosts': [redis_url]})
    for request_id in (1, 2):
        client.send_request_message(request_id, {}, JOB, message_expiry_in_seconds=-5)
    start_service(workers=1, module='tests.alo_service', settings='tests.alo_service.settings')
    dead = DeadLetters('echo', backend_layer_kwargs={'hosts': [redis_url]})
    assert wait_until(lambda: dead.count() == 2, timeout=20)
    return dead


def test_queues_shows_live_workers_in_flight_and_dead_letters(redis_url: str, letters: DeadLetters) -> None:
    [echo] = json.loads(run(redis_url, 'queues', '--json').stdout)
    assert (echo['service'], echo['depth'], echo['live_workers'], echo['in_flight'], echo['dead_letters']) == (
        'echo',
        0,
        1,
        0,
        2,
    )
    table = run(redis_url, 'queues').stdout.splitlines()
    assert table[1].split()[:7] == ['pysoa:service.echo', '0', '-', '-', '1', '0', '2']


def test_dlq_list_show_replay_and_purge(redis_url: str, letters: DeadLetters) -> None:
    listed = run(redis_url, 'dlq', 'list', 'echo')
    assert listed.exit_code == EXIT_OK, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ['ID', 'REASON', 'AGE', 'DELIVERIES', 'REQUEST', 'ACTIONS']
    assert [row.split()[1] for row in rows] == ['expired', 'expired']
    assert all(row.split()[-1] == 'echo' for row in rows)

    first, second = (
        letter['letter_id'] for letter in json.loads(run(redis_url, 'dlq', 'list', 'echo', '--json').stdout)
    )
    shown = json.loads(run(redis_url, 'dlq', 'show', 'echo', first, '--json').stdout)
    assert shown['reason'] == 'expired'
    assert shown['request']['body']['actions'] == JOB['actions']

    replayed = run(redis_url, 'dlq', 'replay', 'echo', first, '--expiry', '30')
    assert replayed.exit_code == EXIT_OK, replayed.stderr
    assert letters.count() == 1

    refused = run(redis_url, 'dlq', 'purge', 'echo', stdin='n\n')
    assert refused.exit_code == EXIT_ERRORS
    assert 'Delete every dead letter of echo on Redis 127.0.0.1:' in refused.stdout
    assert letters.count() == 1

    purged = run(redis_url, 'dlq', 'purge', 'echo', '--yes')
    assert (purged.exit_code, purged.stdout) == (EXIT_OK, 'Deleted 1 dead letter(s) of echo.\n')
    assert run(redis_url, 'dlq', 'list', 'echo').stdout == 'No dead letters for echo.\n'

    for command in ('show', 'replay'):
        missing = run(redis_url, 'dlq', command, 'echo', second)
        assert missing.exit_code == EXIT_ERRORS
        assert f"No dead letter '{second}' for echo." in missing.stderr
