"""Django support: settings from `SOA_SERVER_SETTINGS`, per-job connection and cache hygiene, and `django_main`.

Django can be configured only once per process, so everything that needs it configured runs in a
child process: a script for the integration functions, and a real Django service over Redis.
The database is SQLite, and also PostgreSQL (127.0.0.1:5432, database `test`) when psycopg is installed.
"""

import importlib.util
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from examples.echo_client import client_settings
from pysoa.client import Client
from pysoa.server.django import integration
from pysoa.test.service_process import ServiceProcess
from pysoa.test.waiting import wait_until
from tests.conftest import StartService
from tests.paths import PROJECT_ROOT


def _postgres_available() -> bool:
    if importlib.util.find_spec('psycopg') is None and importlib.util.find_spec('psycopg2') is None:
        return False
    try:
        socket.create_connection(('127.0.0.1', 5432), timeout=1).close()
    except OSError:
        return False
    return True


DATABASES = {
    'sqlite': "{'ENGINE': 'django.db.backends.sqlite3', 'NAME': PATH}",
    'postgresql': "{'ENGINE': 'django.db.backends.postgresql', 'NAME': 'test', 'HOST': '127.0.0.1', 'PORT': 5432, "
    "'USER': 'postgres'}",
}
BACKENDS = [
    pytest.param('sqlite'),
    pytest.param(
        'postgresql', marks=pytest.mark.skipif(not _postgres_available(), reason='needs psycopg and PostgreSQL')
    ),
]


def _database(backend: str, directory: Path) -> str:
    return DATABASES[backend].replace('PATH', repr(str(directory / 'db.sqlite3')))


def test_the_hooks_do_nothing_when_django_is_not_configured() -> None:
    from django.conf import settings

    if settings.configured:
        pytest.skip('another test configured Django in this process')
    assert integration.django_is_configured() is False
    integration.close_old_connections()
    integration.reset_queries()
    integration.close_caches()
    integration.close_caches(shutdown=True)
    assert settings.configured is False


INTEGRATION_SCRIPT = """
import django
from django.conf import settings

settings.configure(
    DEBUG=True,
    DATABASES={{'default': dict({database}, CONN_MAX_AGE=0), 'persistent': dict({database}, CONN_MAX_AGE=None)}},
    CACHES={{
        'default': {{'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}},
        'request': {{'BACKEND': 'pysoa.server.django.cache.PySOARequestScopedMemoryCache', 'LOCATION': 'r'}},
        'process': {{'BACKEND': 'pysoa.server.django.cache.PySOAProcessScopedMemoryCache', 'LOCATION': 'p'}},
    }},
    SOA_SERVER_SETTINGS={{'transport': {{'path': 'pysoa.common.transport.local:LocalServerTransport'}}}},
)
django.setup()

from django.core.cache import caches
from django.db import connections, transaction

from pysoa.server.django import integration

assert integration.django_is_configured()
assert integration.get_django_server_settings() == settings.SOA_SERVER_SETTINGS

# Caches: request-scoped ones forget at the end of each job, process-scoped ones do not.
caches['request'].set('k', 1)
caches['process'].set('k', 2)
integration.close_caches()
assert caches['request'].get('k') is None
assert caches['process'].get('k') == 2
integration.close_caches(shutdown=True)
assert caches['process'].get('k') == 2

# Connections: an expired one (CONN_MAX_AGE=0) is closed after the job; a persistent one stays open.
for alias in ('default', 'persistent'):
    with connections[alias].cursor() as cursor:
        cursor.execute('SELECT 1')
assert len(connections['default'].queries_log) == 1
integration.reset_queries()
assert len(connections['default'].queries_log) == 0
integration.close_old_connections()
assert connections['default'].connection is None
assert connections['persistent'].connection is not None

# A connection inside a transaction is left alone, even when it has expired.
with transaction.atomic(using='default'):
    with connections['default'].cursor() as cursor:
        cursor.execute('SELECT 1')
    integration.close_old_connections()
    assert connections['default'].connection is not None
integration.close_old_connections()
assert connections['default'].connection is None
print('INTEGRATION OK')
"""


@pytest.mark.parametrize('backend', BACKENDS)
def test_integration_hooks_with_django_configured(backend: str, tmp_path: Path) -> None:
    script = tmp_path / 'check_integration.py'
    script.write_text(textwrap.dedent(INTEGRATION_SCRIPT.format(database=_database(backend, tmp_path))))
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=str(PROJECT_ROOT)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'INTEGRATION OK' in result.stdout


DJANGO_SERVICE = {
    '__init__.py': '',
    'settings.py': """
        from examples.echo_service.settings import SOA_SERVER_SETTINGS as _ECHO

        SECRET_KEY = 'not secret: a test'
        USE_TZ = True
        DATABASES = {{'default': {database}}}
        CACHES = {{
            'default': {{'BACKEND': 'pysoa.server.django.cache.PySOARequestScopedMemoryCache', 'LOCATION': 'r'}},
            'process': {{'BACKEND': 'pysoa.server.django.cache.PySOAProcessScopedMemoryCache', 'LOCATION': 'p'}},
        }}
        LOGGING = {{'version': 1, 'root': {{'level': 'ERROR'}}}}
        SOA_SERVER_SETTINGS = {{
            'transport': _ECHO['transport'],
            'logging': dict(_ECHO['logging'], root={{'handlers': ['console'], 'level': 'INFO'}}),
        }}
    """,
    'server.py': """
        import os
        from typing import Any

        from django.conf import settings
        from django.core.cache import caches
        from django.db import connection

        from pysoa.server import Server
        from pysoa.server.action import Action
        from pysoa.server.types import EnrichedActionRequest


        TABLE = os.environ['PROBE_TABLE']  # a fresh table per test: the PostgreSQL database is shared


        class CreateAction(Action):
            def run(self, request: EnrichedActionRequest) -> None:
                with connection.cursor() as cursor:
                    cursor.execute(f'CREATE TABLE {TABLE} (pid integer)')


        class DropAction(Action):
            def run(self, request: EnrichedActionRequest) -> None:
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP TABLE {TABLE}')


        class CountAction(Action):
            def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
                with connection.cursor() as cursor:
                    cursor.execute(f'INSERT INTO {TABLE} (pid) VALUES (%s)', [os.getpid()])
                    cursor.execute(f'SELECT COUNT(*) FROM {TABLE}')
                    (count,) = cursor.fetchone()
                seen_in_job = caches['default'].get('seen')
                caches['default'].set('seen', True)
                jobs_in_process = caches['process'].get('jobs', 0) + 1
                caches['process'].set('jobs', jobs_in_process)
                return {
                    'count': count,
                    'pid': os.getpid(),
                    'request_cache_was_empty': seen_in_job is None,
                    'jobs_in_process': jobs_in_process,
                    'logging_is_soa': settings.LOGGING['root']['level'] == 'INFO',
                }


        class DjangoProbeServer(Server):
            service_name = 'django_probe'
            use_django = True
            action_class_map = {'count': CountAction, 'create': CreateAction, 'drop': DropAction}
    """,
    '__main__.py': """
        from pysoa.server.standalone import django_main


        def get_server() -> type:
            from django_probe.server import DjangoProbeServer

            return DjangoProbeServer


        django_main(get_server)
    """,
}


@pytest.fixture
def django_service_factory(start_service: StartService, tmp_path: Path) -> Callable[[str], ServiceProcess]:
    def start(backend: str) -> ServiceProcess:
        package = tmp_path / 'django_probe'
        package.mkdir()
        for name, content in DJANGO_SERVICE.items():
            text = textwrap.dedent(content)
            if name == 'settings.py':
                text = text.format(database=_database(backend, tmp_path))
            (package / name).write_text(text)
        return start_service(
            2,
            module='django_probe',
            settings='django_probe.settings',  # passed as -s: the Django settings module
            python_path=[str(tmp_path)],
            env={'DJANGO_SETTINGS_MODULE': '', 'PROBE_TABLE': f'pysoa_probe_{uuid.uuid4().hex}'},
            wait_for_workers=False,
        )

    return start


@pytest.mark.parametrize('backend', BACKENDS)
def test_a_django_service_runs_with_django_main(
    django_service_factory: Callable[[str], ServiceProcess], redis_url: str, backend: str
) -> None:
    service = django_service_factory(backend)
    client = Client({'django_probe': client_settings(redis_url)})

    def ready() -> bool:
        try:
            client.call_action('django_probe', 'status', timeout=2)
        except Exception:
            return False
        return True

    assert wait_until(ready, timeout=30, interval=0.1), service.output()
    client.call_action('django_probe', 'create')
    try:
        assert client.call_action('django_probe', 'count').body['count'] == 1
        bodies = [r.body for r in client.call_actions_parallel('django_probe', [{'action': 'count'}] * 6)]
        final_count = client.call_action('django_probe', 'count').body['count']
    finally:
        client.call_action('django_probe', 'drop')

    # Two workers insert concurrently, so one may count the other's row too: each count lies between the
    # rows it has surely seen and all of them, and every row written reached the same database.
    assert all(2 <= b['count'] <= 7 for b in bodies), bodies
    assert max(b['count'] for b in bodies) == 7
    assert final_count == 8
    assert all(b['request_cache_was_empty'] for b in bodies)  # the request-scoped cache is emptied after each job
    assert max(b['jobs_in_process'] for b in bodies) > 1  # the process-scoped one lives on
    assert all(b['logging_is_soa'] for b in bodies)  # SOA_SERVER_SETTINGS['logging'] replaced Django's LOGGING

    service.signal(signal.SIGTERM)
    assert service.wait(timeout=20) == 0
    assert "has been overwritten with the value of `SOA_SERVER_SETTINGS['logging']`" in service.output()
