"""Typed reads of modebench's tuning environment variables (worker counts), and the cores
this process may use (the default for worker counts)."""

from __future__ import annotations

import os

from benchmark.errors import UsageError


def positive_int(name: str, default: int = 1) -> int:
    """The positive integer in environment variable ``name`` (``default`` when unset).

    Raises:
        UsageError: Set to anything but a positive integer.
    """
    raw = os.environ.get(name, str(default))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(f"{name} must be a positive integer, got {raw!r}")
    return n


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
