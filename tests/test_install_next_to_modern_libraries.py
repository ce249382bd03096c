"""Installing pysoa must not downgrade today's libraries (issue 9): checked with pip, from PyPI, in a fresh venv.

The venv first gets the latest jsonschema, referencing, cattrs and attrs on their own (unpinned), then pysoa from
this checkout. Nothing pip installed first may be downgraded by pysoa's requirements; the same set resolved in one
command (`pip install <pysoa> jsonschema referencing cattrs 'attrs>=25'`) must pick the same versions; and all of
them import together with pysoa, which must not bring Conformity in. It needs the network and a minute or two, so
it runs in CI (`CI=true`, where it cannot be skipped) and is skipped elsewhere unless `PYSOA_CHECK_INSTALL=1`.
"""

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest
from packaging.version import Version

from tests.ci import in_ci
from tests.paths import PROJECT_ROOT

MODERN = ('jsonschema', 'referencing', 'cattrs', 'attrs')

IMPORTS = """
import json, sys
import attrs, cattrs, jsonschema, referencing
import pysoa, pysoa.client, pysoa.server, pysoa.schema.fields, pysoa.common.transport.redis_gateway.client
jsonschema.validate({'a': 1}, {'type': 'object'})
print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] == 'conformity')))
"""

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not in_ci() and os.environ.get('PYSOA_CHECK_INSTALL') != '1',
        reason='needs PyPI and a few minutes: runs in CI, or with PYSOA_CHECK_INSTALL=1',
    ),
]


def _run(*command: str | Path) -> str:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f'{command} failed:\n{done.stdout}\n{done.stderr}'
    return done.stdout


def _versions(python: Path) -> dict[str, Version]:
    listed = json.loads(_run(python, '-m', 'pip', 'list', '--format=json', '--disable-pip-version-check'))
    return {entry['name'].lower(): Version(entry['version']) for entry in listed}


def test_pysoa_installs_next_to_the_latest_jsonschema_referencing_cattrs_and_attrs(tmp_path: Path) -> None:
    venv.create(tmp_path / 'venv', with_pip=True)
    python = tmp_path / 'venv' / 'bin' / 'python'
    pip = (python, '-m', 'pip', '--disable-pip-version-check', '--no-input')
    _run(*pip, 'install', '-q', *MODERN)
    before = _versions(python)

    _run(*pip, 'install', '-q', PROJECT_ROOT)
    after = _versions(python)
    print('resolved:', {name: str(after[name]) for name in (*MODERN, 'pysoa', 'redis', 'msgpack', 'currint')})
    downgraded = {name: f'{before[name]} -> {after[name]}' for name in before if after[name] < before[name]}
    assert not downgraded, f'installing pysoa downgraded {downgraded}'

    report_path = tmp_path / 'report.json'
    _run(
        *pip,
        'install',
        '-q',
        '--dry-run',
        '--ignore-installed',
        '--report',
        report_path,
        PROJECT_ROOT,
        'jsonschema',
        'referencing',
        'cattrs',
        'attrs>=25',
    )
    together = {
        item['metadata']['name'].lower(): Version(item['metadata']['version'])
        for item in json.loads(report_path.read_text())['install']
    }
    assert {name: together[name] for name in MODERN} == {name: before[name] for name in MODERN}
    assert 'conformity' not in together

    loaded = json.loads(_run(python, '-c', IMPORTS))
    assert loaded == [], f'importing pysoa imported Conformity: {loaded}'
