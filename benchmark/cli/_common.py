"""Helpers shared by the CLI commands: error reporting with meaningful exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from benchmark.errors import BenchError

console = Console()
# soft wrap: error messages stay one greppable line whatever the terminal width
err_console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn :class:`BenchError` into a red message and its exit code (2 usage, 3 data, 4 train)."""
    try:
        yield
    except BenchError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        from benchmark.interrupts import Terminated

        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        err_console.print(f"[yellow]{what}[/]: the run is marked KILLED in the store")
        raise typer.Exit(exc.exit_code if isinstance(exc, Terminated) else 130) from None


def parse_option(text: str) -> tuple[str, object]:
    """Parse ``key=value`` into a typed pair: int, float, true/false, else the string."""
    if "=" not in text:
        raise typer.BadParameter(f"--option expects key=value, got {text!r}")
    key, _, raw = text.partition("=")
    value: object = raw
    for cast in (int, float):
        try:
            value = cast(raw)
            break
        except ValueError:
            continue
    else:
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
    return key.strip(), value


def wrap(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator form of :func:`user_errors`."""
    import functools

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with user_errors():
            return fn(*args, **kwargs)

    return inner
