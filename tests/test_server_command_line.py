"""pysoa.server.command_line and pysoa.server.settings_loader: one parser, settings loaded once, `Server.main`.

Running processes (forking, daemons, the file watcher) is tested in tests/test_process_*.py and test_docs.py.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pysoa.server import command_line
from pysoa.server.command_line import ServerCommandLine, build_parser, prepared
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.server.settings_loader import load_server_settings

LOCAL_TRANSPORT = "{'path': 'pysoa.common.transport.local:LocalServerTransport'}"


class CustomSettings(ServerSettings):
    """A settings class of the service's own."""


BUILT: list[tuple[ServerSettings, int | None]] = []


class RecordedServer(Server):
    service_name = 'recorded'
    settings_class = CustomSettings

    def __init__(self, settings: ServerSettings, forked_process_id: int | None = None) -> None:
        BUILT.append((settings, forked_process_id))

    def run(self) -> None:
        """Nothing to serve here."""


@pytest.fixture
def settings_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / 'cl_soa_settings.py').write_text(f'SOA_SERVER_SETTINGS = {{"transport": {LOCAL_TRANSPORT}}}\n')
    (tmp_path / 'cl_plain_settings.py').write_text(f'settings = {{"transport": {LOCAL_TRANSPORT}}}\n')
    (tmp_path / 'cl_empty_settings.py').write_text('OTHER = 1\n')
    (tmp_path / 'cl_bad_settings.py').write_text('SOA_SERVER_SETTINGS = {"midleware": []}\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.fixture
def no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str | None]]]:
    configured: list[tuple[str, str | None]] = []
    # The real one would reconfigure this test process's logging.
    monkeypatch.setattr(command_line, 'configure_logging', lambda name, settings, fmt: configured.append((name, fmt)))
    BUILT.clear()
    yield configured
    BUILT.clear()


def test_the_runner_parses_every_option_from_one_parser() -> None:
    parser = build_parser('Run a PySOA service', runner=True)
    arguments = ['-s', 'x.settings', '-d', '--log-format', 'text', '--fork', '3', '--no-respawn', '--use-file-watcher']
    options = ServerCommandLine.parse(parser, arguments + ['--service-own-flag'])
    assert options == ServerCommandLine('x.settings', True, 'text', 3, True, None)
    assert ServerCommandLine.parse(parser, ['--use-file-watcher', 'a, b,']).use_file_watcher == ['a', 'b']
    assert ServerCommandLine.parse(parser, []) == ServerCommandLine()


def test_a_single_server_process_knows_no_runner_options_and_a_django_one_no_settings_module() -> None:
    plain = build_parser('one', runner=False, settings_required=True)
    with pytest.raises(SystemExit) as caught:
        ServerCommandLine.parse(plain, ['-d'])
    assert caught.value.code == 2
    assert ServerCommandLine.parse(plain, ['-s', 'm', '--fork', '3']).fork_processes == 0
    django = build_parser('one', runner=False, settings_help=None)
    assert ServerCommandLine.parse(django, ['-s', 'm']).settings is None


def test_settings_load_from_either_name_into_the_servers_settings_class(settings_modules: Path) -> None:
    for module in ('cl_soa_settings', 'cl_plain_settings'):
        settings = load_server_settings(RecordedServer, module)
        assert type(settings) is CustomSettings
        assert settings['transport']['path'] == 'pysoa.common.transport.local:LocalServerTransport'


@pytest.mark.parametrize(
    ('module', 'message'),
    [
        ('cl_no_such_settings', 'Cannot import settings module `cl_no_such_settings`'),
        ('cl_empty_settings', 'Cannot find `SOA_SERVER_SETTINGS` or `settings` variable in settings module'),
        (None, 'No settings module given for the recorded service'),
    ],
)
def test_settings_that_cannot_be_found_are_a_value_error(
    settings_modules: Path, module: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_server_settings(RecordedServer, module)


def test_invalid_settings_name_the_wrong_key(settings_modules: Path) -> None:
    with pytest.raises(CustomSettings.ImproperlyConfigured, match='midleware'):
        load_server_settings(RecordedServer, 'cl_bad_settings')


def test_main_reads_its_own_command_line_when_nothing_was_prepared(
    settings_modules: Path, no_logging_setup: list[tuple[str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, 'argv', ['svc', '-s', 'cl_soa_settings', '--log-format', 'text'])
    RecordedServer.main(4)
    [(settings, forked_process_id)] = BUILT
    assert type(settings) is CustomSettings and forked_process_id == 4
    assert no_logging_setup == [('recorded', 'text')]

    monkeypatch.setattr(sys, 'argv', ['svc'])
    with pytest.raises(SystemExit) as caught:
        RecordedServer.main()
    assert caught.value.code == 2  # -s is required


def test_main_uses_what_the_runner_prepared_without_reading_anything_again(
    no_logging_setup: list[tuple[str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, 'argv', ['svc'])  # would make `main` exit 2 if it parsed it
    settings = CustomSettings({'transport': {'path': 'pysoa.common.transport.local:LocalServerTransport'}})
    with prepared(RecordedServer, ServerCommandLine(settings='cl_never_imported'), settings):
        RecordedServer.main(2)
    assert BUILT == [(settings, 2)]
    assert 'cl_never_imported' not in sys.modules
    assert no_logging_setup == [('recorded', None)]


def test_what_was_prepared_for_one_server_class_is_not_used_by_another(
    settings_modules: Path, no_logging_setup: list[tuple[str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Other(RecordedServer):
        service_name = 'other'

    monkeypatch.setattr(sys, 'argv', ['svc', '-s', 'cl_plain_settings'])
    with prepared(RecordedServer, ServerCommandLine(settings='cl_never_imported')):
        Other.main()
    assert len(BUILT) == 1 and 'cl_never_imported' not in sys.modules


def test_simple_main_refuses_a_missing_settings_module_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pysoa.server.standalone import simple_main

    monkeypatch.setattr(sys, 'argv', ['svc', '--fork', '2'])
    with pytest.raises(SystemExit) as caught:
        simple_main(lambda: RecordedServer)
    assert caught.value.code == 2
    assert 'the following arguments are required: -s/--settings' in capsys.readouterr().err
