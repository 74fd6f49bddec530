"""SIGTERM handled like Ctrl-C, so a terminated run is marked KILLED, not left RUNNING.

Python's default SIGTERM action ends the process at once: no ``finally`` runs, an MLflow run
stays ``RUNNING`` forever, and a sweep's pool workers are orphaned and go on computing. With
:func:`terminate_as_interrupt` installed, SIGTERM raises :class:`Terminated` (a
:class:`KeyboardInterrupt`), so every clean-up path written for Ctrl-C runs for it too.
"""

from __future__ import annotations

import signal
from types import FrameType


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (CLI exit code 143)."""

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"received signal {signum} (SIGTERM)")


def terminate_as_interrupt() -> None:
    """Make SIGTERM raise :class:`Terminated` in this process.

    Does nothing outside the main thread (signal handlers can only be set there; e.g. a task
    thread of a Ray worker), where the process's own SIGTERM handling stays in charge.
    """
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def restore_default_sigterm() -> None:
    """Give this process SIGTERM's default action again (call it first in forked workers).

    A worker forked from the CLI inherits :func:`terminate_as_interrupt`'s handler; a pool
    that ends its workers with SIGTERM (``Pool.terminate``) would then have each print a
    ``Terminated`` traceback instead of exiting quietly.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
