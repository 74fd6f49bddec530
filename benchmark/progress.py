"""Progress reporting for long loops (rich bars on a terminal, silent when disabled)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Advance(Protocol):
    def __call__(self, n: int = 1, **fields: object) -> None: ...


class Progress:
    """A thin wrapper over :class:`rich.progress.Progress`.

    ``with progress.task("pretraining", total=n) as advance: advance(1, loss=0.3)``.
    When ``enabled`` is False (tests, workers) nothing is printed.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._rich = None
        self._depth = 0

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Advance]:
        """Show a bar for ``total`` units; yields ``advance(n=1, **fields)``."""
        if not self.enabled:
            yield lambda n=1, **fields: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        if self._rich is None:
            self._rich = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                transient=False,
            )
            self._rich.start()
        self._depth += 1
        tid = self._rich.add_task(description, total=total, info="")
        rich = self._rich

        def advance(n: int = 1, **fields: object) -> None:
            info = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()
            )
            rich.update(tid, advance=n, info=info)

        try:
            yield advance
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._rich.stop()
                self._rich = None


SILENT = Progress(enabled=False)
