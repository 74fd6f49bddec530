"""``bench sweep``: methods x tasks x seeds, resumable, on local processes or Ray."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from benchmark.cli._common import console, err_console, parse_option, user_errors


def parse_grid(text: str) -> tuple[str, tuple[object, ...]]:
    """``key=v1,v2,v3`` -> ``(key, (v1, v2, v3))`` with each value typed as ``-o`` values are."""
    from benchmark.errors import UsageError

    key, sep, raw = text.partition("=")
    values = tuple(parse_option(f"{key}={v.strip()}")[1] for v in raw.split(",") if v.strip())
    if not sep or not key.strip() or not values:
        raise UsageError(f"--grid expects key=v1,v2,..., got {text!r}")
    return key.strip(), values


def _split(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


def sweep(
    methods: str = typer.Option(..., "--methods", "-m", help="Method ids: bc,dppo,bmd."),
    tasks: str = typer.Option(..., "--tasks", "-t",
                              help="Task ids or families (avoid,kitchen-v0), or 'all'."),
    seeds: str = typer.Option("0", "--seeds", "-s", help="Training seeds: 0-4, 0,2,5 or 3."),
    tier: str = typer.Option("small", "--tier", help="Budget tier: smoke, small or paper."),
    perturbation: str = typer.Option(
        "", "--perturbation", "-p",
        help="Perturbation levels besides nominal: comma-separated names, or 'all'."),
    option: list[str] = typer.Option(
        [], "--option", "-o", help="Method option key=value for every method (repeatable)."),
    device: str | None = typer.Option(
        None, "--device", help="cpu, cuda or auto (default: the tier's)."),
    executor: str = typer.Option("local", "--executor", "-e",
                                 help="local (process pool), ray, or inline (debugging)."),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1,
        help="Parallel workers (local default: this machine's cores; ray: cluster CPUs)."),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster address (auto, ray://host:10001); "
        "default: start a local Ray."),
    retries: int = typer.Option(1, "--retries", min=0,
                                help="Re-runs of a unit whose worker process was lost."),
    threads: int = typer.Option(1, "--threads-per-worker", min=1,
                                help="torch threads per worker (same on every executor)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="List the units and which are done; run nothing."),
    json_out: Path | None = typer.Option(
        None, "--json", help="Also write the per-unit outcomes to this JSON file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    grid: list[str] = typer.Option(
        [], "--grid", "-g",
        help="Option grid key=v1,v2,... (repeatable): one unit per combination, each its "
             "own leaderboard row."),
) -> None:
    """Run every (method, task, seed) unit not already FINISHED in the store.

    Re-running the same command after an interruption redoes only the unfinished units.
    Exit code 1 if any unit failed, 2 on bad input, 130 on Ctrl-C.
    """
    with user_errors():
        from benchmark.errors import BenchError
        from benchmark.progress import Progress
        from benchmark.seeding import parse_seeds
        from benchmark.sweep import SweepConfig, plan_sweep, run_sweep

        try:
            seed_list = tuple(parse_seeds(seeds))
        except ValueError as exc:
            raise BenchError(f"--seeds: {exc}") from None
        cfg = SweepConfig(
            methods=_split(methods), tasks=_split(tasks), seeds=seed_list, tier=tier,
            perturbations=_split(perturbation),
            options=tuple(sorted(dict(parse_option(o) for o in option).items())),
            device=device, grid=tuple(parse_grid(g) for g in grid))
        progress = Progress(enabled=not quiet)
        if "all" in cfg.tasks:
            from benchmark.registry import runnable_tasks

            for t, reason in runnable_tasks()[1]:  # loud, not silent: the sweep is smaller
                err_console.print(f"[yellow]skipped {t.spec.id}:[/] {reason}", highlight=False)
        if dry_run:
            units, stored = plan_sweep(cfg, build_datasets=False, progress=progress)
            _print_plan(units, stored)
            return
        result = run_sweep(cfg, executor=executor, workers=workers, address=address,
                           retries=retries, threads=threads, progress=progress)
        _print_result(result)
        if json_out is not None:
            _write_json(result, json_out)
        raise typer.Exit(result.exit_code)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _print_plan(units, stored) -> None:
    table = Table(title=f"sweep plan: {len(units)} units")
    table.add_column("unit", no_wrap=True)
    for col in ("key", "status", "run"):
        table.add_column(col, overflow="fold")
    todo = 0
    for u in units:
        rec = stored.get(u.key) if u.key else None
        if u.key is None:
            status, run = "to run (dataset not built yet)", "-"
        elif rec is None:
            status, run = "to run", "-"
        elif rec.status == "FINISHED":
            status, run = "[green]done[/]", rec.run_id
        else:
            note = f": {rec.error}" if rec.error else ""
            status, run = f"to run (last {rec.status}{note})", rec.run_id
        todo += not status.endswith("done[/]")
        table.add_row(u.label, u.key or "-", status, run)
    console.print(table)
    console.print(f"{len(units) - todo} done, {todo} to run (dry run: nothing was run)")


def _print_result(result) -> None:
    from benchmark import schema

    table = Table(title=f"sweep: {len(result.units)} units on {result.executor} "
                        f"({result.workers} workers)")
    table.add_column("unit", no_wrap=True)
    table.add_column("status")
    for col in ("success rate", "mode count", "wall s"):
        table.add_column(col, justify="right")
    table.add_column("run", overflow="fold")
    colour = {"FINISHED": "green", "DONE": "cyan", "FAILED": "red"}
    for u in result.units:
        o = result.outcome(u)
        label = "done (skipped)" if o.status == "DONE" else o.status.lower()
        if o.attempts > 1:
            label += f" ({o.attempts} attempts)"
        table.add_row(u.label, f"[{colour.get(o.status, 'white')}]{label}[/]",
                      _fmt(o.metrics.get(schema.SUCCESS_RATE), ".3f"),
                      _fmt(o.metrics.get(schema.MODE_COUNT), ".0f"),
                      _fmt(o.wall_s, ".1f"), o.run_id or "-")
    console.print(table)
    n_ran, n_failed = len(result.ran), len(result.failed)
    console.print(f"ran {n_ran} ({n_ran - n_failed} finished, {n_failed} failed), skipped "
                  f"{len(result.skipped)} already finished, in {result.wall_s:.1f} s · "
                  f"store {result.tracking_uri}")
    if n_failed:
        err_console.print(f"[bold red]{n_failed} unit(s) failed[/] (re-run the same command "
                          "to retry only these):")
        for u in result.failed:
            err_console.print(f"  {u.label}: {result.outcome(u).error}", highlight=False)


def _write_json(result, path: Path) -> None:
    import dataclasses

    rows = []
    for u in result.units:
        o = result.outcome(u)
        row = {"unit": u.label, "key": u.key, "method": u.method, "task": u.task_id,
               "seed": u.seed, "tier": u.tier, **dataclasses.asdict(o)}
        # NaN (e.g. mode retention without successes) is not JSON: write null
        row["metrics"] = {k: (None if v != v else v) for k, v in o.metrics.items()}
        rows.append(row)
    path.write_text(json.dumps({"executor": result.executor, "workers": result.workers,
                                "wall_s": result.wall_s, "tracking_uri": result.tracking_uri,
                                "units": rows}, indent=1, sort_keys=True))
