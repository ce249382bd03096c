"""Server.run: the worker loop, with graceful shutdown, harakiri, heartbeat and transport back-off.

Signal and harakiri tests run a worker in a child process (signals and SIGALRM belong to a process's
main thread); the others run `run()` in a thread, where no signal handler is installed.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.errors import MessageReceiveError, MessageReceiveTimeout
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings
from pysoa.test.mock_transport import MockServerTransport, SentResponse

MOCK_SERVER_TRANSPORT = 'pysoa.test.mock_transport:MockServerTransport'

WORKER_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pysoa.schema import fields
    from pysoa.common.transport.base import ServerTransport
    from pysoa.common.transport.errors import MessageReceiveTimeout
    from pysoa.server.server import Server

    REQUESTS = json.loads(os.environ['WORKER_REQUESTS'])

    @fields.ClassConfigurationSchema.provider(fields.Dictionary({}))
    class ScriptTransport(ServerTransport):
        stop_sent = False

        def receive_request_message(self):
            if REQUESTS:
                action, body = REQUESTS.pop(0)
                job = {
                    'control': {'continue_on_error': False},
                    'context': {'switches': [], 'correlation_id': 'c'},
                    'actions': [{'action': action, 'body': body}],
                }
                return len(REQUESTS), {'client_version': [2, 0, 0]}, job
            if not self.stop_sent:
                self.stop_sent = True
                os.kill(os.getpid(), signal.SIGTERM)
            raise MessageReceiveTimeout()

        def send_response_message(self, request_id, meta, body):
            print(json.dumps(body), flush=True)

    def ok(settings):
        return lambda request: _response(request, {'pid': os.getpid()})

    def term_self(settings):
        def run(request):
            os.kill(os.getpid(), signal.SIGTERM)
            return _response(request, {'finished': True})
        return run

    def term_twice(settings):
        def run(request):
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            return _response(request, {'finished': True})
        return run

    def sleep(settings):
        def run(request):
            time.sleep(request.body['seconds'])
            return _response(request, {'slept': True})
        return run

    def stubborn(settings):
        def run(request):
            try:
                time.sleep(10)
            except BaseException:
                time.sleep(10)
            return _response(request, {})
        return run

    def heartbeat(settings):
        return lambda request: _response(
            request, {'pid': os.getpid(), 'files': sorted(os.listdir(os.environ['HEARTBEAT_DIR']))},
        )

    def _response(request, body):
        from pysoa.common.types import ActionResponse
        return ActionResponse(action=request.action, body=body)

    class WorkerServer(Server):
        service_name = 'worker'
        action_class_map = {
            'ok': ok, 'term_self': term_self, 'term_twice': term_twice, 'sleep': sleep, 'stubborn': stubborn,
            'heartbeat': heartbeat,
        }

    settings = WorkerServer.settings_class({
        'transport': {'path': '__main__:ScriptTransport'},
        'harakiri': {'timeout': 1, 'shutdown_grace': 1},
        'heartbeat_file': os.environ.get('HEARTBEAT_TEMPLATE'),
        'logging': {'root': {'level': 'WARNING'}},
    })
    WorkerServer(settings).run()
    print('END', flush=True)
    """
)


def run_worker(requests: list[tuple[str, dict[str, Any]]], **env: str) -> tuple[int, list[Any]]:
    result = subprocess.run(
        [sys.executable, '-c', WORKER_SCRIPT],
        env={**os.environ, 'WORKER_REQUESTS': json.dumps(requests), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) if line != 'END' else line for line in result.stdout.splitlines()]
    assert 'Traceback' not in result.stderr or result.returncode != 0, result.stderr
    return result.returncode, lines


def bodies(lines: list[Any]) -> list[Any]:
    return [line['actions'][0]['body'] if line['actions'] else line['errors'] for line in lines if line != 'END']


def test_worker_serves_until_sigterm_then_exits_cleanly() -> None:
    code, lines = run_worker([('ok', {}), ('ok', {})])

    assert code == 0
    assert len(bodies(lines)) == 2
    assert lines[-1] == 'END'


def test_sigterm_during_a_job_finishes_it_and_takes_no_more() -> None:
    code, lines = run_worker([('term_self', {}), ('ok', {})])

    assert code == 0
    assert bodies(lines) == [{'finished': True}]
    assert lines[-1] == 'END'


def test_second_sigterm_forces_exit() -> None:
    code, lines = run_worker([('term_twice', {}), ('ok', {})])

    assert code == 1
    assert lines == []


def test_job_past_harakiri_timeout_gets_action_timeout_and_worker_stops() -> None:
    code, lines = run_worker([('sleep', {'seconds': 20}), ('ok', {})])

    assert code == 0
    [response] = [line for line in lines if line != 'END']
    [error] = response['actions'][0]['errors']
    assert error['code'] == 'ACTION_TIMEOUT'
    assert lines[-1] == 'END'


def test_worker_stuck_after_harakiri_is_killed_after_the_grace_period() -> None:
    code, lines = run_worker([('stubborn', {})])

    assert code == 1
    assert lines == []


def test_heartbeat_file_lives_as_long_as_the_worker(tmp_path: Path) -> None:
    code, lines = run_worker(
        [('heartbeat', {})],
        HEARTBEAT_TEMPLATE=str(tmp_path / 'beat-{{pid}}.txt'),
        HEARTBEAT_DIR=str(tmp_path),
    )

    assert code == 0
    [body] = bodies(lines)
    assert body['files'] == [f'beat-{body["pid"]}.txt']
    assert list(tmp_path.iterdir()) == []


class FlakyServer(Server):
    service_name = 'flaky'


def run_in_thread(server: Server) -> None:
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()


def flaky_transport(server: Server, failures: int) -> MockServerTransport:
    """The server's transport fails to receive `failures` times, then asks the server to stop; it answers nothing."""
    transport = server.transport
    assert isinstance(transport, MockServerTransport)
    transport.incoming.extend(MessageReceiveError('redis went away') for _ in range(failures))

    def stop() -> ReceivedMessage:
        server.request_shutdown()
        raise MessageReceiveTimeout()

    def refuse(response: SentResponse) -> None:
        raise AssertionError('nothing to answer')

    transport.when_idle = stop
    transport.on_response = refuse
    return transport


def make_flaky_server(failures: int) -> tuple[FlakyServer, list[float]]:
    server = FlakyServer(ServerSettings({'transport': {'path': MOCK_SERVER_TRANSPORT}}))
    flaky_transport(server, failures)
    delays: list[float] = []
    server._sleep_unless_shutting_down = delays.append  # type: ignore[method-assign]
    return server, delays


def test_transient_transport_errors_back_off_exponentially_then_recover() -> None:
    server, delays = make_flaky_server(3)

    run_in_thread(server)

    assert len(delays) == 3
    for attempt, delay in enumerate(delays):
        assert 2**attempt / 4 <= delay < (2**attempt + 1) / 4
    assert server.shutting_down


def test_a_worker_never_gives_up_on_the_transport_and_its_back_off_is_capped() -> None:
    # Issue 10: a worker used to exit (status 0) after six errors in a row; now it waits out any outage.
    server, delays = make_flaky_server(100)

    run_in_thread(server)

    assert len(delays) == 100
    assert all(2 <= delay < 2.25 for delay in delays[3:])
    transport = server.transport
    assert isinstance(transport, MockServerTransport)
    assert not transport.incoming
    assert server.shutting_down


def test_an_unhandled_error_ends_the_worker_with_a_failure_status() -> None:
    server = FlakyServer(ServerSettings({'transport': {'path': MOCK_SERVER_TRANSPORT}}))

    def broken() -> None:
        raise RuntimeError('bug')

    server.handle_next_request = broken  # type: ignore[method-assign]
    with pytest.raises(SystemExit) as exited:
        server.run()
    assert exited.value.code == 1


def test_lifecycle_hooks_run_in_order() -> None:
    calls: list[str] = []

    class HookServer(FlakyServer):
        def setup(self) -> None:
            calls.append('setup')

        def teardown(self) -> None:
            calls.append('teardown')

        def perform_idle_actions(self) -> None:
            calls.append('idle')

    server = HookServer(ServerSettings({'transport': {'path': MOCK_SERVER_TRANSPORT}}))
    flaky_transport(server, 0)

    run_in_thread(server)

    assert calls == ['setup', 'idle', 'teardown']


def test_heartbeat_file_path_replaces_pid_and_fid_and_throttles_writes(tmp_path: Path) -> None:
    import logging

    from pysoa.server.heartbeat import HeartbeatFile, resolve_heartbeat_path

    assert resolve_heartbeat_path(str(tmp_path / '{{pid}}-{{fid}}'), 3, pid=42) == str(tmp_path / '42-3')
    assert resolve_heartbeat_path(str(tmp_path / '{{fid}}'), None) == str(tmp_path / '{{fid}}')

    beat = HeartbeatFile(str(tmp_path / 'hb'), None, logging.getLogger('test'))
    beat.create()
    first = (tmp_path / 'hb').read_text()
    beat.update()
    assert (tmp_path / 'hb').read_text() == first
    beat.update(force=True)
    assert float((tmp_path / 'hb').read_text()) >= float(first)
    beat.delete()
    assert not (tmp_path / 'hb').exists()


MAIN_SCRIPT = WORKER_SCRIPT.replace(
    'WorkerServer(settings).run()',
    'WorkerServer.main()',
)


def run_main(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / 'worker_settings.py').write_text(
        "SOA_SERVER_SETTINGS = {'transport': {'path': '__main__:ScriptTransport'}, 'harakiri': {'timeout': 5}}\n",
    )
    return subprocess.run(
        [sys.executable, '-c', MAIN_SCRIPT, *args],
        env={
            **os.environ,
            'WORKER_REQUESTS': json.dumps([['ok', {}]]),
            'PYTHONPATH': os.pathsep.join([str(tmp_path), *sys.path]),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_main_loads_the_settings_module_and_logs_json_lines(tmp_path: Path) -> None:
    result = run_main(tmp_path, '-s', 'worker_settings')

    assert result.returncode == 0, result.stderr
    assert len(bodies([json.loads(line) for line in result.stdout.splitlines() if line != 'END'])) == 1
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    messages = [r.get('message') or r.get('msg') for r in records]
    assert any('starting up' in str(m) for m in messages)
    assert any('Job done' in str(m) for m in messages)


def test_main_can_log_plain_text(tmp_path: Path) -> None:
    result = run_main(tmp_path, '--settings', 'worker_settings', '--log-format', 'text')

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if 'starting up' in line]
    assert lines and not lines[0].startswith('{')


def test_main_refuses_a_missing_settings_module(tmp_path: Path) -> None:
    result = run_main(tmp_path, '-s', 'no_such_settings_module')

    assert result.returncode != 0
    assert 'no_such_settings_module' in result.stderr
