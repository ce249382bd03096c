"""The `mock` module that PySOA test helpers use and that users' tests import from here.

It is the standard library's `unittest.mock`; the name stays so that `from pysoa.test.compatibility import mock`
keeps working in test suites written for PySOA 1.x.
"""

from unittest import mock

__all__ = ('mock',)
