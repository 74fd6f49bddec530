"""Progress reporting for long loops: rich bars on a terminal, plain lines elsewhere.

Under ``nohup``, CI or a pipe rich would hide its bars, and a 10-minute BMD discovery or sweep
would print nothing at all; there a line per task is printed at its start, every
``MODEBENCH_PROGRESS_INTERVAL`` seconds (default 10) and at its end.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Protocol


class Advance(Protocol):
    def __call__(self, n: int = 1, **fields: object) -> None: ...


class Progress:
    """A thin wrapper over :class:`rich.progress.Progress`.

    ``with progress.task("pretraining", total=n) as advance: advance(1, loss=0.3)``.
    When ``enabled`` is False (tests, workers) nothing is printed.
    """

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None,
                 interval: float | None = None) -> None:
        self.enabled = enabled
        self._stream = stream
        self._interval = interval
        self._rich = None
        self._depth = 0

    @property
    def plain(self) -> bool:
        """Whether progress is printed as plain lines (the stream is not a terminal)."""
        stream = self._stream or sys.stdout
        return not (hasattr(stream, "isatty") and stream.isatty())

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Advance]:
        """Show a bar for ``total`` units; yields ``advance(n=1, **fields)``."""
        if not self.enabled:
            yield lambda n=1, **fields: None
            return
        if self.plain:
            with self._plain_task(description, total) as advance:
                yield advance
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
            rich.update(tid, advance=n, info=_format_fields(fields))

        try:
            yield advance
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._rich.stop()
                self._rich = None


    @contextmanager
    def _plain_task(self, description: str, total: int | None) -> Iterator[Advance]:
        stream = self._stream or sys.stdout
        interval = self._interval if self._interval is not None else float(
            os.environ.get("MODEBENCH_PROGRESS_INTERVAL", "10"))
        start = last = time.monotonic()
        state = {"done": 0, "info": ""}

        def line(status: str) -> None:
            of = f"/{total}" if total is not None else ""
            elapsed = time.monotonic() - start
            info = f" {state['info']}" if state["info"] else ""
            print(f"[{status}] {description}: {state['done']}{of} ({elapsed:.0f} s){info}",
                  file=stream, flush=True)

        def advance(n: int = 1, **fields: object) -> None:
            nonlocal last
            state["done"] += n
            if fields:
                state["info"] = _format_fields(fields)
            now = time.monotonic()
            if now - last >= interval:
                last = now
                line("....")
        line("start")
        try:
            yield advance
        finally:
            line("done ")


def _format_fields(fields: dict[str, object]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in fields.items())


SILENT = Progress(enabled=False)
