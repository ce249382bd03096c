"""Sphinx configuration for the pysoa documentation.

Build with `sphinx-build -W -n -b html docs docs/_build` (tests/test_docs_build.py does, in every CI run):
warnings are errors, and `-n` makes every cross-reference, each type in each signature included, resolve.
"""

import sys
from pathlib import Path
from typing import ParamSpec, TypeVar

from docutils.nodes import Element, Node, TextElement
from sphinx.application import Sphinx

import pysoa

project = 'pysoa'
version = release = pysoa.__version__
extensions = ['sphinx.ext.autodoc', 'sphinx.ext.intersphinx', 'sphinx.ext.viewcode']
autodoc_member_order = 'bysource'
exclude_patterns = ['_build', '_inventories']
# Docstrings write names and values in single backticks (Markdown habit): render them as code, as double
# backticks do.
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


def _type_variable_as_text(_app: object, _env: object, node: Element, contnode: TextElement) -> Node | None:
    """A signature naming a type variable (`-> _R`) shows it as plain text: type variables have no page to link to.

    Only names that really are `TypeVar`s or `ParamSpec`s of an imported module qualify; any other reference that
    does not resolve still fails the nitpicky build.
    """
    if node.get('refdomain') != 'py':
        return None
    target = node['reftarget']
    module_name, _, name = target.rpartition('.')
    candidates = [(module_name, name), (node.get('py:module') or '', target)]
    for module_name, name in candidates:
        value = getattr(sys.modules.get(module_name), name, None)
        if isinstance(value, TypeVar | ParamSpec):
            return contnode
    return None


def setup(app: Sphinx) -> None:
    app.connect('missing-reference', _type_variable_as_text)


nitpick_ignore_regex = [
    # Private classes (a name part starting with `_`) that a public signature names, such as the statsd
    # recorder's metric classes (documented through their public protocols `Counter`, `Gauge` and `Timer`):
    # private names have no page of their own, by design.
    ('py:class', r'pysoa(\.\w+)*\._\w+'),
]

# String annotations (names imported only for type checking) that autodoc cannot resolve by itself.
autodoc_type_aliases = {'SettingsData': 'pysoa.common.settings.SettingsData'}
