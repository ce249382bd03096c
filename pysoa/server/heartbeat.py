"""The heartbeat file: created at start-up, touched while the worker lives, removed when it stops.

Supervisors (and the at-least-once delivery machinery) read its modification time to tell a
live worker from a stuck one.
"""

import logging
import os
import time
from typing import IO

__all__ = ('HeartbeatFile', 'resolve_heartbeat_path')

# Touching the file on every request would cost a system call per request for no gain.
MINIMUM_UPDATE_INTERVAL_SECONDS = 2.5
"""The least time between two writes of the heartbeat file."""


def resolve_heartbeat_path(template: str, forked_process_id: int | None, pid: int | None = None) -> str:
    """The absolute path for `template`, with `{{pid}}` and (when forked) `{{fid}}` replaced."""
    path = template.replace('{{pid}}', str(os.getpid() if pid is None else pid))
    if forked_process_id is not None:
        path = path.replace('{{fid}}', str(forked_process_id))
    return os.path.abspath(path)


class HeartbeatFile:
    """One worker's heartbeat file, holding the Unix time of the last update."""

    def __init__(self, template: str, forked_process_id: int | None, logger: logging.Logger) -> None:
        self.path = resolve_heartbeat_path(template, forked_process_id)
        self._logger = logger
        self._file: IO[str] | None = None
        self._last_update = 0.0

    def create(self) -> None:
        """Create (or truncate) the file and write the first beat."""
        self._logger.info('Creating heartbeat file %s', self.path)
        self._file = open(self.path, 'w', encoding='utf-8')  # kept open for the worker's lifetime
        self.update(force=True)

    def update(self, force: bool = False) -> None:
        """Write the current time, unless the last write was less than `MINIMUM_UPDATE_INTERVAL_SECONDS` ago."""
        if self._file is None:
            return
        now = time.time()
        if not force and now - self._last_update < MINIMUM_UPDATE_INTERVAL_SECONDS:
            return
        self._file.seek(0)
        self._file.write(repr(now))
        self._file.truncate()
        self._file.flush()
        self._last_update = now

    def delete(self) -> None:
        """Close and remove the file; failures are logged, never raised (this runs during shutdown)."""
        if self._file is None:
            return
        self._logger.info('Closing and removing heartbeat file %s', self.path)
        try:
            self._file.close()
        except OSError:
            self._logger.warning('Could not close the heartbeat file', exc_info=True)
        finally:
            self._file = None
        try:
            os.remove(self.path)
        except OSError:
            self._logger.warning('Could not remove the heartbeat file', exc_info=True)
