"""Sphinx configuration for the pysoa documentation (build with `sphinx-build docs docs/_build`)."""

import pysoa

project = 'pysoa'
version = release = pysoa.__version__
extensions = ['sphinx.ext.autodoc', 'sphinx.ext.viewcode']
autodoc_member_order = 'bysource'
exclude_patterns = ['_build']
