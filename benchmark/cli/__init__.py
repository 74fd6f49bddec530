"""The ``bench`` command line. Each command group lives in its own module.

Start-up is kept light: modules here import only typer/rich and the harness's light modules;
torch, mlflow and simulators are imported inside the commands that need them.
"""

from __future__ import annotations

import typer

from benchmark.cli import datasets as _datasets
from benchmark.cli import evaluate as _evaluate
from benchmark.cli import leaderboard as _leaderboard
from benchmark.cli import listing as _listing
from benchmark.cli import results as _results
from benchmark.cli import sweep as _sweep
from benchmark.cli import ui as _ui

app = typer.Typer(
    name="bench",
    help="modebench: does RL fine-tuning keep the behaviour modes of a diffusion policy?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(_listing.tasks_app, name="tasks")
app.add_typer(_listing.methods_app, name="methods")
app.command("evaluate")(_evaluate.evaluate)
app.command("ui")(_ui.ui)
# further command groups register below (one line each)
app.add_typer(_leaderboard.app, name="leaderboard")
app.add_typer(_results.app, name="results")
app.command("sweep")(_sweep.sweep)
app.add_typer(_datasets.app, name="datasets")


def main() -> None:
    """Console-script entry point (SIGTERM is handled like Ctrl-C: runs end KILLED, exit 143)."""
    from benchmark.interrupts import terminate_as_interrupt

    terminate_as_interrupt()
    app()
