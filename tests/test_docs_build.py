"""The documentation builds with warnings as errors and every cross-reference resolved (`sphinx-build -W -n`).

Sphinx comes with the `testing` extras; in CI (`CI=true`) a missing Sphinx fails this module instead of skipping it.
The build reads Python's and pytest's inventories from docs/_inventories (see docs/make_inventories.py), so it
needs no network.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.ci import require_module
from tests.paths import PROJECT_ROOT

require_module('sphinx')

from sphinx.util.inventory import InventoryFile  # noqa: E402  # after the check that Sphinx is there

DOCS = PROJECT_ROOT / 'docs'


def test_the_docs_build_nitpicky_with_no_warning(tmp_path: Path) -> None:
    environment = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))  # conf.py imports pysoa from this checkout
    build = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-n', '-q', '-b', 'html']
        + ['-d', str(tmp_path / 'doctrees'), str(DOCS), str(tmp_path / 'html')],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=PROJECT_ROOT,
    )
    assert build.returncode == 0 and 'WARNING' not in build.stderr, build.stderr
    api = (tmp_path / 'html' / 'api.html').read_text()
    for documented in (
        'pysoa.server.types.EnrichedActionRequest',
        'pysoa.client.future.FutureSOAResponse',
        'pysoa.test.server.ServerTestCase',
        'pysoa.server.standalone.simple_main',
        'pysoa.server.standalone.django_main',
        'pysoa.common.statsd_recorder.StatsdMetricsRecorder',
        'pysoa.server.sentry.SentryMiddleware',
        'pysoa.cli.main.main',
    ):
        assert f'id="{documented}"' in api, documented
    # Standard library types link to Python's documentation.
    assert 'href="https://docs.python.org/3/library/collections.abc.html#collections.abc.Mapping"' in api


def test_the_kept_inventories_read_as_sphinx_inventories() -> None:
    for name, base in (('python', 'https://docs.python.org/3'), ('pytest', 'https://docs.pytest.org/en/stable')):
        inventory = InventoryFile.loads((DOCS / '_inventories' / f'{name}.inv').read_bytes(), uri=base)
        uris = [item.uri for items in inventory.data.values() for item in items.values()]
        assert uris and all(uri.startswith(base + '/') for uri in uris), name
