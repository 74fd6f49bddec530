"""``bench datasets build|verify|pull|push``: Minari datasets, versioned by DVC.

Exit codes: 0 ok, 2 unknown task, 3 a dataset that is missing, corrupt, or whose content hash
does not match its spec (and DVC failures).
"""

from __future__ import annotations

import typer
from rich.table import Table

from benchmark.cli._common import console, err_console, wrap

app = typer.Typer(help="Demonstration datasets: build, verify, and version them with DVC.",
                  no_args_is_help=True)

TASK_HELP = "Task id (e.g. kitchen or kitchen-v0); all tasks when omitted."


def _tasks(task: str | None) -> list:
    """The named task, or every task this machine can run (saying which are skipped, and why)."""
    from benchmark.registry import get_task, runnable_tasks

    if task:
        return [get_task(task)]
    tasks, skipped = runnable_tasks()
    for t, reason in skipped:
        err_console.print(f"[yellow]skipped {t.spec.id}:[/] {reason}", highlight=False)
    return tasks


def _track(progress) -> str | None:
    """``dvc add datasets`` when the datasets folder is the tracked one; else say why not."""
    from benchmark import dvc
    from benchmark.errors import DatasetError

    repo = dvc.find_repo()
    if repo is None:
        err_console.print("[yellow]not versioned:[/] no DVC repository here (datasets.dvc "
                          "not updated)", highlight=False)
        return None
    try:
        with progress.task("dvc add datasets", total=None):
            return dvc.add(repo)
    except DatasetError as exc:
        err_console.print(f"[yellow]not versioned:[/] {exc}", highlight=False)
        return None


@app.command("build")
@wrap
def build(
    task: str | None = typer.Option(None, "--task", "-t", help=TASK_HELP),
    force: bool = typer.Option(False, "--force", help="Rebuild datasets that already exist."),
    track: bool = typer.Option(True, "--track/--no-track",
                               help="Run `dvc add datasets` afterwards (updates datasets.dvc)."),
) -> None:
    """Build datasets with the tasks' scripted experts (deterministic), then track them."""
    import time

    from benchmark.datasets import build_dataset
    from benchmark.progress import Progress

    progress = Progress()
    table = Table(title="datasets built")
    for col in ("task", "dataset", "episodes", "dropped", "content hash", "spec hash", "s"):
        table.add_column(col, no_wrap=col == "content hash", overflow="fold")
    for t in _tasks(task):
        t0 = time.perf_counter()
        ds = build_dataset(t, progress, force=force)
        want = t.spec.dataset_hash
        verdict = "[yellow]not recorded[/]" if want is None else (
            "[green]match[/]" if want == ds.content_hash else f"[red]{want}[/]")
        table.add_row(t.spec.id, t.spec.dataset_id, str(len(ds)),
                      str(ds.stats.get("dropped", "?")), ds.content_hash, verdict,
                      f"{time.perf_counter() - t0:.1f}")
    console.print(table)
    if track:
        md5 = _track(progress)
        if md5:
            console.print(f"datasets.dvc now records {md5}: commit it with git, then "
                          "`bench datasets push`")


@app.command("verify")
@wrap
def verify(task: str | None = typer.Option(None, "--task", "-t", help=TASK_HELP)) -> None:
    """Check each dataset's content hash against its spec; exit 3 if any is missing or wrong."""
    from benchmark.datasets import dataset_path, load_dataset
    from benchmark.errors import DatasetError

    table = Table(title="datasets")
    for col in ("task", "dataset", "status", "content hash", "detail"):
        table.add_column(col, no_wrap=col == "content hash", overflow="fold")
    problems: list[str] = []
    for t in _tasks(task):
        spec = t.spec
        if not dataset_path(spec.dataset_id).exists():
            problems.append(f"{spec.id}: dataset {spec.dataset_id} is missing; run `bench "
                            f"datasets pull` or `bench datasets build --task {spec.id}`")
            table.add_row(spec.id, spec.dataset_id, "[red]missing[/]", "-", "see below")
            continue
        try:
            ds = load_dataset(t)
        except DatasetError as exc:
            problems.append(f"{spec.id}: {exc}")
            table.add_row(spec.id, spec.dataset_id, "[red]bad[/]", "-", "see below")
            continue
        status = "[green]ok[/]" if spec.dataset_hash else "[yellow]ok (no hash in spec)[/]"
        table.add_row(spec.id, spec.dataset_id, status, ds.content_hash,
                      f"{len(ds)} episodes")
    console.print(table)
    for line in problems:  # one greppable line each, not folded into the table
        err_console.print(f"[red]{line}[/]", highlight=False)
    if problems:
        raise DatasetError(f"{len(problems)} dataset(s) missing or not matching their spec")


@app.command("pull")
@wrap
def pull(
    task: str | None = typer.Option(None, "--task", "-t",
                                    help="Only this task's dataset; all tracked when omitted."),
    force: bool = typer.Option(False, "--force",
                               help="Overwrite local files that differ from datasets.dvc."),
) -> None:
    """Fetch the tracked datasets from the DVC remote (``MODEBENCH_DVC_REMOTE`` or default)."""
    from benchmark import dvc
    from benchmark.progress import Progress

    repo = dvc.require_repo()
    targets = [f"{dvc.TRACKED_DIR}/{t.spec.dataset_id}" for t in _tasks(task)] if task else None
    dvc.pull(repo, targets, force=force, progress=Progress())
    console.print(f"pulled from {dvc.remote_url(repo)}; check with `bench datasets verify`")


@app.command("push")
@wrap
def push(
    force: bool = typer.Option(False, "--force",
                               help="Push even if datasets.dvc differs from the workspace."),
) -> None:
    """Upload the datasets recorded in datasets.dvc to the DVC remote."""
    from benchmark import dvc
    from benchmark.errors import DatasetError
    from benchmark.progress import Progress

    repo = dvc.require_repo()
    changed = dvc.status(repo)
    if changed and not force:
        raise DatasetError(
            f"the datasets folder differs from {dvc.DVC_FILE} ({changed}); run `bench datasets "
            "build` (it runs `dvc add datasets`) and commit datasets.dvc, or pass --force")
    dvc.push(repo, Progress())
    console.print(f"pushed {dvc.tracked_md5(repo)} to {dvc.remote_url(repo)}")
