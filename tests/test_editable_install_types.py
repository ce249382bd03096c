"""After README's `pip install -e .`, mypy sees pysoa's real types in a user's code (issue 11, item 7).

setuptools' default editable install of a flat layout is an import hook (a meta path finder) that mypy cannot
follow: every pysoa name became `Any` and mypy asked for "library stubs or py.typed marker". setup.cfg's explicit
`package_dir` makes the install a plain path entry instead. The check builds a fresh venv, installs this checkout
editable as README does (build dependencies and requirements from the package index), and runs mypy on a small
user module with that venv's interpreter. It needs the index, so it runs in CI (`CI=true`, where it cannot be
skipped) and is skipped elsewhere unless `PYSOA_CHECK_INSTALL=1`.
"""

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.ci import in_ci
from tests.paths import PROJECT_ROOT

USER_MODULE = """
from pysoa.client import Client

client = Client({})
reveal_type(client.call_action('user', 'get_user', {'id': 1}, timeout=2.5))
reveal_type(client.call_action('user', 'get_user', raise_action_errors=False).errors)
client.call_action('user', 'get_user', timeout='soon')
"""

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not in_ci() and os.environ.get('PYSOA_CHECK_INSTALL') != '1',
        reason='needs the package index: runs in CI, or with PYSOA_CHECK_INSTALL=1',
    ),
]


def _without_search_paths() -> dict[str, str]:
    # Neither Python nor mypy may find pysoa some other way than through the fresh venv.
    return {name: value for name, value in os.environ.items() if name not in ('PYTHONPATH', 'MYPYPATH')}


def test_an_editable_install_leaves_pysoa_typed_for_mypy(tmp_path: Path) -> None:
    venv.create(tmp_path / 'venv', with_pip=True)
    python = tmp_path / 'venv' / 'bin' / 'python'
    install = subprocess.run(
        [str(python), '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-input', '-e', PROJECT_ROOT],
        capture_output=True,
        text=True,
        env=_without_search_paths(),
    )
    assert install.returncode == 0, install.stderr

    (tmp_path / 'user_code.py').write_text(USER_MODULE)
    checked = subprocess.run(
        [
            sys.executable,
            '-m',
            'mypy',
            '--strict',
            '--no-incremental',
            '--python-executable',
            str(python),
            'user_code.py',
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_without_search_paths(),
    )
    report = checked.stdout + checked.stderr
    assert 'missing library stubs or py.typed marker' not in report, report
    assert 'import-not-found' not in report and 'import-untyped' not in report, report
    assert 'Revealed type is "pysoa.common.types.ActionResponse"' in report, report
    assert re.search(r'Revealed type is "(builtins\.)?list\[pysoa\.common\.errors\.Error\]"', report), report
    # A typed signature, not `Any`: the wrong timeout is refused, and only that line is.
    errors = [line for line in report.splitlines() if ': error: ' in line]
    assert len(errors) == 1 and errors[0].startswith('user_code.py:7: '), report
    assert checked.returncode == 1, report
