"""SIGTERM handled like Ctrl-C, so a terminated run is marked KILLED, not left RUNNING.

Python's default SIGTERM action ends the process at once: no ``finally`` runs, an MLflow run
stays ``RUNNING`` forever, and a sweep's pool workers are orphaned and go on computing. With
:func:`terminate_as_interrupt` installed, SIGTERM raises :class:`Terminated` (a
:class:`KeyboardInterrupt`), so every clean-up path written for Ctrl-C runs for it too.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def interrupts_deferred() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM while the block runs; yield the list of signals that arrived.

    For a step that must not be cut in two (MLflow's ``create_run`` commits the run before it
    returns the id: an interrupt in between left a RUNNING run nobody could end). The caller
    replays what arrived with :func:`replay` once it can clean up. Outside the main thread
    (where handlers cannot be set) nothing is held.
    """
    import threading

    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield pending
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def replay(pending: list[int]) -> None:
    """Deliver the first signal :func:`interrupts_deferred` held, to this process's own
    handler now (``Terminated`` or ``KeyboardInterrupt`` under modebench's handlers)."""
    if pending:
        os.kill(os.getpid(), pending[0])
        time.sleep(0.05)  # the handler runs at the next bytecode; wait for it here
