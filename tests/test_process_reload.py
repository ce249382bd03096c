"""`--use-file-watcher` for real: editing a watched module restarts the service, which then runs the new code."""

import signal
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from examples.echo_client import client_settings
from pysoa.client import Client
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until
from tests.conftest import StartService

PROBE_FILES = {
    '__init__.py': '',
    'version.py': "VERSION = 'first'\n",
    'server.py': """
        from typing import Any

        from examples.echo_service.server import EchoServer
        from pysoa.server.action import Action
        from pysoa.server.types import EnrichedActionRequest
        from reload_probe import version


        class VersionAction(Action):
            def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
                return {'version': version.VERSION}


        class ProbeServer(EchoServer):
            service_name = 'reload_probe'
            action_class_map = {**EchoServer.action_class_map, 'version': VersionAction}
    """,
    'settings.py': 'from examples.echo_service.settings import SOA_SERVER_SETTINGS  # noqa: F401\n',
    '__main__.py': """
        from pysoa.server.standalone import simple_main


        def get_server() -> type:
            from reload_probe.server import ProbeServer

            return ProbeServer


        simple_main(get_server)
    """,
}


@pytest.fixture
def probe_package(tmp_path: Path) -> Path:
    package = tmp_path / 'reload_probe'
    package.mkdir()
    for name, content in PROBE_FILES.items():
        (package / name).write_text(textwrap.dedent(content))
    return package


def _version(client: Client) -> str | None:
    try:
        return str(client.call_action('reload_probe', 'version', timeout=2).body['version'])
    except Exception:
        return None


@pytest.fixture
def start_probe(start_service: StartService, probe_package: Path) -> Callable[[int], ServiceProcess]:
    def start(workers: int) -> ServiceProcess:
        return start_service(
            workers,
            module='reload_probe',
            settings='reload_probe.settings',
            extra_args=['--use-file-watcher', 'reload_probe'],
            python_path=[str(probe_package.parent)],
            # Stale bytecode could outlive an edit made within the same second, so none is written.
            env={'PYTHONDONTWRITEBYTECODE': '1'},
            wait_for_workers=False,
        )

    return start


@pytest.mark.parametrize('workers', [1, 2], ids=['single-process', 'forked'])
def test_editing_a_watched_module_reloads_the_service(
    start_probe: Callable[[int], ServiceProcess], probe_package: Path, redis_url: str, workers: int
) -> None:
    service = start_probe(workers)
    client = Client({'reload_probe': client_settings(redis_url)})
    assert wait_until(lambda: _version(client) == 'first', timeout=30, interval=0.1), service.output()

    (probe_package / 'version.py').write_text("VERSION = 'second, after the reload'\n")

    assert wait_until(lambda: _version(client) == 'second, after the reload', timeout=30, interval=0.1), (
        service.output()
    )
    assert 'File change detected; reloading server process' in service.output()

    service.signal(signal.SIGTERM)
    assert service.wait(timeout=20) == 0
