"""``bench evaluate``: pretrain, fine-tune, evaluate and log one method on one task."""

from __future__ import annotations

import typer
from rich.table import Table

from benchmark.cli._common import console, parse_option, user_errors


def evaluate(
    method: str = typer.Option(..., "--method", "-m", help="Method id (bench methods list)."),
    task: str = typer.Option(..., "--task", "-t", help="Task id, e.g. kitchen or kitchen-v0."),
    seeds: str = typer.Option("0", "--seeds", "-s", help="Training seeds: 0-4, 0,2,5 or 3."),
    tier: str = typer.Option("small", "--tier", help="Budget tier: smoke, small or paper."),
    perturbation: str = typer.Option(
        "", "--perturbation", "-p",
        help="Perturbation levels besides nominal: comma-separated names, or 'all'."),
    mode: int | None = typer.Option(
        None, "--mode", help="Force latent mode k at evaluation (mode-selectable methods)."),
    device: str | None = typer.Option(
        None, "--device", help="cpu, cuda or auto (default: the tier's)."),
    option: list[str] = typer.Option(
        [], "--option", "-o", help="Method option key=value (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Evaluate METHOD on TASK: pretrain (cached), fine-tune, evaluate, log to MLflow."""
    with user_errors():
        from benchmark.errors import UnknownIdError
        from benchmark.progress import Progress
        from benchmark.runner import EvalRequest
        from benchmark.runner import evaluate as run_evaluate
        from benchmark.seeding import parse_seeds

        try:
            seed_list = tuple(parse_seeds(seeds))
        except ValueError as exc:
            raise UnknownIdError(f"--seeds: {exc}") from None
        levels = tuple(p.strip() for p in perturbation.split(",") if p.strip())
        req = EvalRequest(
            method=method, task=task, seeds=seed_list, tier=tier, perturbations=levels,
            mode=mode, device=device, options=dict(parse_option(o) for o in option),
        )
        warn_lock_drift()
        result = run_evaluate(req, Progress(enabled=not quiet))
        print_result(result)


def warn_lock_drift(shown: int = 8) -> None:
    """Warn (never fail) when installed packages differ from requirements.lock."""
    from benchmark.cli._common import err_console
    from benchmark.lockfile import drift

    found = drift()
    if not found:
        return
    names = ", ".join(map(str, found[:shown])) + (f" and {len(found) - shown} more"
                                                   if len(found) > shown else "")
    err_console.print(f"[yellow]warning:[/] installed packages differ from requirements.lock: "
                      f"{names}. Results are tagged with the drift; `bash scripts/install.sh` "
                      "restores the locked set.", highlight=False)


DISPLAY_NAMES = {
    "srm": "SRM",
    "modes_covered": "mc@0.8",
    "mode_entropy": "mode_entropy H(π)",
}


def _ci_text(est) -> str:
    import math

    if est.n < 3 or not (math.isfinite(est.ci_low) and math.isfinite(est.ci_high)):
        return f"– (n={est.n})"
    return f"[{est.ci_low:.3f}, {est.ci_high:.3f}]"


def print_result(result) -> None:
    """Print the results table of an :class:`benchmark.runner.EvalResult`."""
    from benchmark import schema

    req = result.request
    title = (f"{req.method} on {result.task_id} · tier {req.tier} · seeds "
             f"{','.join(map(str, req.seeds))}")
    table = Table(title=title, caption=(
        "95% CI: percentile bootstrap over seeds; '–' where it cannot vary (fewer than 3 "
        "seeds) or is not defined. SRM: success averaged over the demonstrated modes; "
        "mc@0.8: share of modes with success >= 0.8 (benchmark/mode_metrics.py)."))
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    order = list(schema.HEADLINE_METRICS) + [schema.MEAN_RETURN]
    names = [n for n in order if n in result.aggregates]
    names += sorted(n for n in result.aggregates if n not in names and "/" not in n)
    for name in names:
        est = result.aggregates[name]
        table.add_row(DISPLAY_NAMES.get(name, name), f"{est.value:.3f}", _ci_text(est))
    console.print(table)
    levels = [k.split("/", 1)[1] for k in result.aggregates
              if k.startswith(schema.SUCCESS_RATE + "/")]
    if len(levels) > 1:
        lt = Table(title="per perturbation level")
        for col in ("level", "success", "mode count", "mode entropy"):
            lt.add_column(col, justify="right" if col != "level" else "left")
        for lv in levels:
            def cell(metric: str, lv: str = lv) -> str:
                e = result.aggregates.get(schema.level_metric(metric, lv))
                return "-" if e is None else f"{e.value:.3f} [{e.ci_low:.2f}, {e.ci_high:.2f}]"
            lt.add_row(lv, cell(schema.SUCCESS_RATE), cell(schema.MODE_COUNT),
                       cell(schema.MODE_ENTROPY))
        console.print(lt)
    for s in result.seeds:
        dist = s.mode_distributions.get("nominal", {})
        shares = ", ".join(f"{k}:{v}" for k, v in sorted(dist.items(), key=lambda kv: -kv[1]))
        low, high = (s.metrics.get(schema.SUCCESS_WILSON_LOW),
                     s.metrics.get(schema.SUCCESS_WILSON_HIGH))
        wilson = "" if low is None else f" [{low:.2f}, {high:.2f}] (Wilson 95 %)"
        console.print(f"seed {s.seed}: success {s.metrics[schema.SUCCESS_RATE]:.3f}{wilson}; "
                      f"modes of successful nominal episodes: {shares or '-'}")
        if s.latent_map is not None:
            console.print(f"seed {s.seed}: latent z -> mode: "
                          + ", ".join(f"{k}:{m or '-'}" for k, m in enumerate(s.latent_map)))
    if result.group_run_id:
        console.print(f"logged to [bold]{result.tracking_uri}[/] · experiment "
                      f"'{schema.EXPERIMENT}' · run {result.group_run_id} "
                      f"(spec {result.spec_hash}, dataset {result.dataset_hash})")
