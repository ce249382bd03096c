"""What a test does when something it needs cannot be had: skip it locally, fail it in CI (`CI=true`).

CI must not pass by skipping what it is there to run, so every fixture that starts a Redis, a Sentinel
or a tool goes through `unavailable`.
"""

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ('in_ci', 'require_module', 'unavailable')


def in_ci() -> bool:
    """True when running in CI (`CI` set to 1, true or yes)."""
    return os.environ.get('CI', '').lower() in ('1', 'true', 'yes')


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; in CI, fail it instead."""
    if in_ci():
        pytest.fail(f'Required in CI: {reason}')
    pytest.skip(reason)


def require_module(name: str) -> ModuleType:
    """Import `name` at a test module's top; if it is missing, skip the whole module, or in CI fail it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        if in_ci():
            pytest.fail(f'Required in CI: {name} ({error})', pytrace=False)
        pytest.skip(f'{name} is not installed', allow_module_level=True)
