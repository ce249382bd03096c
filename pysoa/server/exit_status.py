"""The exit statuses of a worker process, and of the `--fork` parent, so that a supervisor can tell why one ended.

A process that stopped because it was asked to (SIGINT, SIGTERM, the file watcher, an idle timeout) exits 0.
Every other end is non-zero, so that a supervisor that restarts only failed processes (systemd's
`Restart=on-failure`, a container's `on-failure` policy) restarts it.
"""

__all__ = ('FAILURE_EXIT_STATUS', 'HARAKIRI_EXIT_STATUS', 'STOPPED_EXIT_STATUS')

STOPPED_EXIT_STATUS = 0
"""Asked to stop, and stopped cleanly."""

FAILURE_EXIT_STATUS = 1
"""An error nothing handled ended the worker (or, for the `--fork` parent: a worker slot ended that way and was not
respawned)."""

HARAKIRI_EXIT_STATUS = 3
"""Harakiri stopped the worker: a job ran past `harakiri.timeout`. The job's caller got a timeout error; the
worker shut down because a job that could not be interrupted in time may have left it in a bad state. Not a
crash of the code, so the `--fork` parent respawns it without counting it against the respawn limit."""
