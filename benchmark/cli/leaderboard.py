"""``bench leaderboard build``: the static leaderboard site and paper tables."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from benchmark.cli._common import console, err_console, wrap

app = typer.Typer(help="The static leaderboard site and LaTeX/Markdown/CSV tables.",
                  no_args_is_help=True)


def split_labels(text: str) -> list[str]:
    """Row labels from a comma-separated list; commas inside ``[...]`` (a label's options,
    ``"bc-cvae [beta=0.1, steps=3]"``) do not split."""
    return [p.strip() for p in re.split(r",(?![^\[]*\])", text) if p.strip()]


@app.command("build")
@wrap
def build(
    out: Path = typer.Option(Path("site"), "--out", "-o", help="Output folder."),
    tracking_uri: str = typer.Option(
        None, "--tracking-uri", help="MLflow store to read (default: $MLFLOW_TRACKING_URI or "
        "sqlite:///./mlflow.db)."),
    client_reader: bool = typer.Option(
        False, "--mlflow-client", help="Read through MLflow's client even for SQLite stores "
        "(slower; the default reads SQLite files directly)."),
    figures: str = typer.Option(
        "", "--figures", help="Also write every plot as pdf and/or png into <out>/figures "
        "(pdf,png; needs headless Chromium)."),
    compare: str = typer.Option(
        "", "--compare", help="Comma-separated rows (method ids or labels like "
        "'bc-cvae [beta=0.1]') for the probability-of-improvement matrices; default: the "
        "best eight of each tier."),
) -> None:
    """Compile finished seed runs into a static site (index, task and method pages, plots)."""
    from leaderboard.build import build_leaderboard

    if out.exists() and not out.is_dir():
        from benchmark.errors import BenchError

        raise BenchError(f"--out {out} exists and is not a folder")
    from benchmark.errors import UsageError
    from leaderboard.figures import NO_CHROMIUM, export_figures, find_chromium, parse_formats

    formats = parse_formats(figures)
    if formats and find_chromium() is None:
        raise UsageError(NO_CHROMIUM)  # before the build, not after
    rep = build_leaderboard(out, tracking_uri, fast=not client_reader,
                            compare=split_labels(compare))
    if formats:
        written = export_figures(out / "plots", out / "figures", formats)
        console.print(f"  {len(written)} figure file(s) in {out / 'figures'}", highlight=False)
    lb = rep.leaderboard
    n_stale = sum(s.n_runs for s in lb.stale)
    n_tasks = len({t.task for tb in lb.tiers for t in tb.tasks})
    console.print(
        f"[bold]{rep.files['index']}[/]: {len(lb.tiers)} tier(s), {n_tasks} task(s), "
        f"{len(lb.methods)} method(s) from {lb.n_results} finished seed runs "
        f"({lb.n_current} current, {n_stale} stale, {sum(lb.skipped.values())} unreadable) "
        f"in {rep.seconds['total']:.2f} s", highlight=False)
    for name in ("leaderboard.tex", "leaderboard.md", "leaderboard.csv"):
        console.print(f"  {rep.files[name]}", highlight=False)
    if n_stale:
        err_console.print(f"[yellow]note:[/] {n_stale} stale result(s) (spec/dataset hash "
                          "differs or unknown task) are listed apart, not in the tables",
                          highlight=False)
    if not lb.tiers:
        err_console.print("[yellow]note:[/] no current results in the store; the site is empty",
                          highlight=False)
