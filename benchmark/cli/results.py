"""``bench results export|import|schema``: result bundles (JSON lines, one seed run a line)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from benchmark.cli._common import console, err_console, wrap

app = typer.Typer(help="Share results: export/import result bundles (JSON lines).",
                  no_args_is_help=True)


@app.command("export")
@wrap
def export(
    run_ids: list[str] = typer.Argument(None, help="Run ids of finished seed runs."),
    all_runs: bool = typer.Option(False, "--all", help="Export every finished seed run."),
    output: Path = typer.Option(None, "--output", "-o",
                                help="Write to this file instead of standard output."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store to read."),
) -> None:
    """Write finished seed runs as a bundle: one JSON object a line (`bench results schema`)."""
    from benchmark.errors import UnknownIdError
    from leaderboard.bundle import export_lines

    if run_ids and all_runs:
        raise UnknownIdError("give run ids or --all, not both")
    lines = export_lines(run_ids or (), all_runs, tracking_uri)
    text = "".join(line + "\n" for line in lines)
    if output is None:
        sys.stdout.write(text)  # plain write: a rich console would wrap long lines
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")
    err_console.print(f"exported {len(lines)} seed run(s)", highlight=False)


@app.command("import")
@wrap
def import_(
    bundle: Path = typer.Argument(..., help="A bundle written by `bench results export`."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow store to write."),
) -> None:
    """Validate a bundle and log its seed runs into the store (all or nothing)."""
    from benchmark.progress import Progress
    from leaderboard.bundle import import_bundle

    rep = import_bundle(bundle, tracking_uri, Progress())
    console.print(f"imported {len(rep.imported)} seed run(s) as {rep.source}"
                  + (f", skipped {rep.skipped} already in the store" if rep.skipped else ""),
                  highlight=False)


@app.command("schema")
@wrap
def schema() -> None:
    """Print the JSON Schema of one bundle line."""
    from leaderboard.bundle import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
