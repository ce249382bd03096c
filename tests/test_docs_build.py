"""The documentation builds with warnings as errors and every cross-reference resolved (`sphinx-build -W -n`).

Sphinx comes with the `testing` extras; in CI (`CI=true`) a missing Sphinx fails this module instead of skipping it.
The build reads Python's and pytest's inventories from docs/_inventories (see docs/make_inventories.py), so it
needs no network.
"""

import importlib.util
import os
import subprocess
import sys
import zlib
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


def test_the_inventory_script_keeps_the_builtins_and_the_named_modules_and_writes_what_sphinx_reads(
    tmp_path: Path,
) -> None:
    spec = importlib.util.spec_from_file_location('make_inventories', DOCS / 'make_inventories.py')
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    lines = [
        'str py:class 1 library/stdtypes.html#$ -',
        'collections.abc.Mapping py:class 1 library/collections.abc.html#$ -',
        'collections.abc py:module 0 library/collections.abc.html#module-$ -',
        'types.FrameType py:data 1 library/types.html#$ -',
        'tkinter.Tk py:class 1 library/tkinter.html#$ -',
        'tkinter py:module 0 library/tkinter.html#module-$ -',
        'tutorial std:doc -1 tutorial/index.html Tutorial',
    ]
    source = (
        b'# Sphinx inventory version 2\n# Project: Python\n# Version: 3.11\n'
        b'# The remainder of this file is compressed using zlib.\n' + zlib.compress('\n'.join(lines).encode())
    )
    kept = script.entries(source)
    assert kept == sorted(
        [
            'collections.abc py:module 0 library/collections.abc.html#module-$ -',
            'collections.abc.Mapping py:class 1 library/collections.abc.html#$ -',
            'str py:class 1 library/stdtypes.html#$ -',
            'types.FrameType py:class 1 library/types.html#$ -',
            'types.FrameType py:data 1 library/types.html#$ -',
        ]
    )
    target = tmp_path / 'python.inv'
    script.write(target, 'Python', '3.11', kept)
    inventory = InventoryFile.loads(target.read_bytes(), uri='https://docs.python.org/3')
    assert (
        inventory['py:class', 'types.FrameType'].uri == 'https://docs.python.org/3/library/types.html#types.FrameType'
    )
