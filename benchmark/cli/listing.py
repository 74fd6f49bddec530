"""``bench tasks list`` and ``bench methods list``."""

from __future__ import annotations

import typer
from rich.table import Table

from benchmark.cli._common import console, err_console, wrap

tasks_app = typer.Typer(help="Task specs: ids, versions, hashes.", no_args_is_help=True)
methods_app = typer.Typer(help="Benchmarked methods (built-in and plugged in).",
                          no_args_is_help=True)


@tasks_app.command("list")
@wrap
def list_tasks(
    all_versions: bool = typer.Option(False, "--all", help="Include older versions."),
) -> None:
    """List tasks with their ids, spec hashes, modes and descriptions."""
    from benchmark.errors import AdapterError
    from benchmark.registry import family_tasks, task_families

    table = Table(title="modebench tasks")
    for col in ("id", "spec hash", "modes", "levels", "description"):
        table.add_column(col, overflow="fold")
    broken = []
    for family in task_families():
        try:
            tasks = family_tasks(family, include_old=all_versions)
        except AdapterError as exc:  # one broken plugin must not hide the others
            broken.append(str(exc))
            continue
        for t in tasks:
            s = t.spec
            table.add_row(s.id, s.hash(), str(len(s.modes)), str(len(s.perturbations)),
                          s.description)
    console.print(table)
    for msg in broken:
        err_console.print(f"[yellow]skipped:[/] {msg}", highlight=False)


@tasks_app.command("show")
@wrap
def show_task(task: str = typer.Argument(..., help="Task id, e.g. avoid or avoid-v0.")) -> None:
    """Print a task's canonical spec (the JSON that is hashed) and its hash."""
    from benchmark.registry import get_task

    spec = get_task(task).spec
    console.print_json(spec.canonical_json())
    console.print(f"spec hash: [bold]{spec.hash()}[/]")


@methods_app.command("list")
@wrap
def list_methods() -> None:
    """List methods with their versions and one-line descriptions."""
    from benchmark.errors import AdapterError
    from benchmark.registry import method_ids, method_info

    table = Table(title="modebench methods")
    for col in ("id", "version", "description", "source"):
        table.add_column(col, overflow="fold")
    broken = []
    for mid in method_ids():
        try:
            info = method_info(mid)
        except AdapterError as exc:
            broken.append(str(exc))
            continue
        table.add_row(info.id, info.version, info.description, info.source)
    console.print(table)
    for msg in broken:
        err_console.print(f"[yellow]skipped:[/] {msg}", highlight=False)
