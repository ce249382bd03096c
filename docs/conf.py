"""Sphinx configuration for the pysoa documentation.

Build with `sphinx-build -W -n -b html docs docs/_build` (tests/test_docs_build.py does, in every CI run):
warnings are errors, and `-n` makes every cross-reference, each type in each signature included, resolve.
"""

import importlib
import pkgutil
from pathlib import Path
from typing import ParamSpec, TypeVar

import pysoa

project = 'pysoa'
version = release = pysoa.__version__
extensions = ['sphinx.ext.autodoc', 'sphinx.ext.intersphinx', 'sphinx.ext.viewcode']
autodoc_member_order = 'bysource'
exclude_patterns = ['_build', '_inventories']
# Docstrings write names and values in single backticks (Markdown habit): render them as code, as `` does.
default_role = 'code'

# Python's inventory is read from the repository, not downloaded: the docs build offline, and the same
# inventory gives the same result everywhere. The links still point at docs.python.org (and pytest's docs).
# The files hold the part of each inventory the docs use; docs/make_inventories.py writes them (and says how to
# extend them).
_INVENTORIES = Path(__file__).resolve().parent / '_inventories'
intersphinx_mapping = {
    'python': ('https://docs.python.org/3', str(_INVENTORIES / 'python.inv')),
    'pytest': ('https://docs.pytest.org/en/stable', str(_INVENTORIES / 'pytest.inv')),
}


def _type_variables() -> list[tuple[str, str]]:
    """Every type variable and parameter specification defined in pysoa, as `(role, qualified name)`.

    A signature naming one (`-> _R`) is complete as it is: type variables have no page of their own to link to.
    """
    names: list[tuple[str, str]] = []
    for module_info in pkgutil.walk_packages(pysoa.__path__, 'pysoa.'):
        if '.plugins.' in module_info.name:
            continue  # pytest plugins import pytest's internals, which the docs do not need
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if isinstance(value, TypeVar | ParamSpec) and value.__name__ == name:
                names += [('py:class', f'{module_info.name}.{name}'), ('py:class', name)]
    return names


nitpick_ignore = _type_variables()
nitpick_ignore_regex = [
    # Private classes (a name part starting with `_`) that a public signature names, such as the statsd
    # recorder's metric classes (documented through their public protocols `Counter`, `Gauge` and `Timer`):
    # private names have no page of their own, by design.
    ('py:class', r'pysoa(\.\w+)*\._\w+'),
]

# String annotations (names imported only for type checking) that autodoc cannot resolve by itself.
autodoc_type_aliases = {'SettingsData': 'pysoa.common.settings.SettingsData'}
