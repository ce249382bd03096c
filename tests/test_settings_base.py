"""SOASettings: defaults merged, unknown keys and bad class paths refused with messages that name them."""

import pytest

from pysoa.common.metrics import NoOpMetricsRecorder
from pysoa.common.settings import SOASettings

TRANSPORT = {'path': 'pysoa.common.metrics:NoOpMetricsRecorder'}


def test_defaults_are_merged() -> None:
    settings = SOASettings({'transport': TRANSPORT})
    assert settings['middleware'] == []
    assert settings['metrics']['object'] is NoOpMetricsRecorder


def test_unknown_key_is_named() -> None:
    with pytest.raises(SOASettings.ImproperlyConfigured) as info:
        SOASettings({'transport': TRANSPORT, 'midleware': []})
    assert 'midleware' in str(info.value)


def test_bad_path_is_named() -> None:
    with pytest.raises(SOASettings.ImproperlyConfigured) as info:
        SOASettings({'transport': {'path': 'no.such.module:Thing'}})
    assert "'transport'" in str(info.value)
    assert 'path' in str(info.value)
    assert "No module named 'no'" in str(info.value)


def test_missing_transport_is_named() -> None:
    with pytest.raises(SOASettings.ImproperlyConfigured) as info:
        SOASettings({})
    assert 'transport' in str(info.value)
