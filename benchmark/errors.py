"""Errors the harness raises on bad input; the CLI maps each to an exit code."""

from __future__ import annotations


class BenchError(Exception):
    """Base of all user-facing errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(BenchError):
    """Malformed or out-of-range command-line input: options, seeds, devices (exit code 2)."""

    exit_code = 2


class DefaultOptionError(UsageError):
    """An option whose value is the config's default (it would change nothing; exit code 2).

    Attributes:
        key: The option's key as given.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class UnknownIdError(UsageError):
    """An unknown task, method, tier or level id (exit code 2)."""


class AdapterError(BenchError):
    """A method adapter or task plugin that does not satisfy its protocol."""

    exit_code = 2


class DatasetError(BenchError):
    """A dataset that is missing, corrupt or whose hash does not match its spec."""

    exit_code = 3


class StoreError(BenchError):
    """A datasets, cache or tracking location that cannot be written or reached (exit 3)."""

    exit_code = 3


class TrainingError(BenchError):
    """Training diverged (NaN/inf loss) or otherwise failed."""

    exit_code = 4
