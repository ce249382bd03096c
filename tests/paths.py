"""Where the project's files are, for tests that run its examples, read its docs or start its services."""

from pathlib import Path

__all__ = ('PROJECT_ROOT',)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root: it holds the `examples` package, `README.rst` and `docs/`."""
