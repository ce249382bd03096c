"""The server's metrics recorder, built from the `metrics` setting with the worker's number filled in.

Publisher settings (of a PyMetrics-style `config`) may hold `{{fid}}` (or `[[fid]]`, `%%fid%%`) wherever each
forked worker needs its own value, a file name or a statsd prefix say: it becomes the worker's number, or
`main` in a server that was not forked.
"""

from typing import Any

from pysoa.common.metrics import MetricsRecorder

__all__ = ('build_metrics_recorder',)

FID_MARKERS = ('{{fid}}', '[[fid]]', '%%fid%%')
"""The spellings of the worker-number placeholder."""


def _replace_fid(data: dict[str, object], fid: str) -> None:
    for key, value in data.items():
        if isinstance(value, str):
            for marker in FID_MARKERS:
                value = value.replace(marker, fid)
            data[key] = value
        elif isinstance(value, dict):
            _replace_fid(value, fid)


def _apply_fid(metrics_settings: dict[str, Any], forked_process_id: int | None) -> None:
    config = metrics_settings.get('kwargs', {}).get('config', {})
    publishers = config.get('publishers') if isinstance(config, dict) else None
    if not publishers:
        return
    fid = 'main' if forked_process_id is None else str(forked_process_id)
    for publisher in publishers:
        if config.get('version') == 1:
            _replace_fid(publisher, fid)
        elif isinstance(publisher.get('kwargs'), dict):
            _replace_fid(publisher['kwargs'], fid)


def build_metrics_recorder(metrics_settings: dict[str, Any], forked_process_id: int | None) -> MetricsRecorder:
    """The recorder the validated `metrics` setting describes; placeholders are replaced in the setting itself."""
    _apply_fid(metrics_settings, forked_process_id)
    recorder: MetricsRecorder = metrics_settings['object'](**metrics_settings.get('kwargs', {}))
    return recorder
