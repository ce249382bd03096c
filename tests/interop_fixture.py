"""Fixtures of the tests that run real PySOA 1.4.9 peers: the cached upstream virtualenv's interpreter and environment.

The virtualenv is built on first use (`interop.peers.require_upstream_env`); when it cannot be, the test is
skipped locally and fails in CI.
"""

import pytest
from interop.peers import require_upstream_env

__all__ = ('upstream_env', 'upstream_python')


@pytest.fixture(scope='module')
def upstream_python() -> str:
    """The upstream venv's interpreter (built and cached on first use)."""
    return str(require_upstream_env().python)


@pytest.fixture(scope='module')
def upstream_env(upstream_python: str) -> dict[str, str]:
    """The environment for upstream's processes."""
    return require_upstream_env().environ()
