"""Typed reads of modebench's tuning environment variables (worker counts)."""

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
