"""docs/operations.rst's deployment examples (Kubernetes probes, systemd unit, container) run as written."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import StartService
from tests.paths import PROJECT_ROOT
from tests.test_docs import DOCS, block_with

OPERATIONS = DOCS / 'operations.rst'


def _probe(kind: str) -> list[str]:
    """The command of the Kubernetes example's `livenessProbe` or `readinessProbe`."""
    block = block_with(OPERATIONS, 'livenessProbe:')
    section = block.split(f'{kind}:', 1)[1]
    items = re.search(r'command: \[(.*)\]', section)
    assert items, section
    return [item.strip().strip("'") for item in items[1].split(',')]


def _pysoa(arguments: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    assert arguments[0] == 'pysoa'
    return subprocess.run(
        [sys.executable, '-m', 'pysoa', *arguments[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), **environment),
    )


def test_the_liveness_probe_passes_on_a_fresh_heartbeat_and_fails_past_its_max_age(tmp_path: Path) -> None:
    command = _probe('livenessProbe')
    heartbeat = tmp_path / 'heartbeat'
    command[command.index('/tmp/heartbeat')] = str(heartbeat)
    max_age = float(command[command.index('--max-age') + 1])
    assert max_age > 300 + 5  # the harakiri timeout plus the receive timeout, as the page says

    heartbeat.write_text(repr(time.time()))
    assert _pysoa(command).returncode == 0
    old = time.time() - max_age - 5
    heartbeat.write_text(repr(old))
    os.utime(heartbeat, (old, old))
    assert _pysoa(command).returncode == 1


def test_the_readiness_probe_passes_while_the_service_answers(redis_url: str, start_service: StartService) -> None:
    command = _probe('readinessProbe')
    command[command.index('my_service')] = 'echo'
    service = start_service(1)
    try:
        probe = _pysoa(command, PYSOA_REDIS_URL=redis_url)
        assert probe.returncode == 0, probe.stderr
    finally:
        service.signal(signal.SIGTERM)
        assert service.wait(timeout=20) == 0, service.output()
        service.cleanup()
    probe = _pysoa(command, PYSOA_REDIS_URL=redis_url)
    assert probe.returncode == 3, probe.stderr  # nobody answers within --timeout


def test_the_systemd_and_container_commands_use_real_options() -> None:
    unit = block_with(OPERATIONS, 'ExecStart=')
    assert 'KillMode=mixed' in unit and 'Restart=always' in unit
    line = re.search(r'^ExecStart=(.*)$', unit, re.MULTILINE)
    assert line
    exec_start = shlex.split(line[1])
    dockerfile = block_with(OPERATIONS, 'CMD [')
    cmd = re.search(r'^CMD \[(.*)\]$', dockerfile, re.MULTILINE)
    assert cmd
    container = [item.strip().strip('"') for item in cmd[1].split(',')]
    help_text = subprocess.run(
        [sys.executable, '-m', 'examples.echo_service', '--help'],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    ).stdout
    for command in (exec_start, container):
        assert command[1:3] == ['-m', 'my_service'], command
        options = [item for item in command[3:] if item.startswith('-')]
        assert options, command
        for option in options:
            assert re.search(rf'(^|[\s,]){re.escape(option)}\b', help_text), (option, help_text)


def _command_table() -> list[tuple[str, str]]:
    """The rows of the `pysoa` command table: (the command as written, the options its row names)."""
    text = OPERATIONS.read_text().split('The ``pysoa`` command\n', 1)[1].split('\n\n', 3)[2]
    rows: list[tuple[str, str]] = []
    for line in text.splitlines()[1:-1]:
        if line.startswith('``pysoa'):
            command, _, rest = line[2:].partition('``')
            rows.append((command, rest))
        else:
            rows[-1] = (rows[-1][0], rows[-1][1] + ' ' + line)
    return rows


def test_every_option_of_the_command_table_is_one_its_command_takes() -> None:
    from click.testing import CliRunner

    from pysoa.cli import pysoa_command

    rows = _command_table()
    assert len(rows) == 7, rows
    for command, description in rows:
        words: list[str] = []
        for word in command.split()[1:]:
            if not re.fullmatch(r'[a-z|]+', word):
                break
            words.append(word)
        variants = [[*words[:-1], last] for last in words[-1].split('|')]  # `dlq list|show|...`: each of them
        helps = []
        for variant in variants:
            result = CliRunner().invoke(pysoa_command, [*variant, '--help'])
            assert result.exit_code == 0, (variant, result.output)
            helps.append(result.output)
        for option in re.findall(r'(--[a-z-]+)', command + ' ' + description):
            named = re.compile(re.escape(option) + r'(?![\w-])')  # `--time` is not `--timeout`
            assert any(named.search(help_text) for help_text in helps), (command, option)
