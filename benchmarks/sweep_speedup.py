"""Speed-up of ``bench sweep``'s local executor: the same smoke units with 1 and 2 workers.

Each configuration runs the full units (pretraining included) in its own fresh checkpoint
cache and MLflow store, so neither run profits from the other's cache; the datasets are
built once beforehand and shared (the sweep builds them before dispatch, outside the timed
part). Reports wall seconds per configuration and the ratio ``t(1 worker) / t(N workers)``,
and checks that both configurations produced identical metrics.

    python benchmarks/sweep_speedup.py --method bc --task avoid --seeds 0-7 --workers 1,2 \
        --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def run(methods: tuple[str, ...], task: str, seeds: tuple[int, ...], tier: str,
        workers: int, root: Path) -> tuple[float, float, dict[str, dict[str, float]]]:
    """One sweep in fresh stores under ``root``.

    Returns:
        (wall seconds, CPU seconds of the worker processes, metrics per unit).
    """
    from benchmark.sweep import SweepConfig, run_sweep

    os.environ["MODEBENCH_CACHE"] = str(root / "cache")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    t0 = time.perf_counter()
    cpu0 = _children_cpu()
    result = run_sweep(SweepConfig(methods, (task,), seeds, tier=tier), executor="local",
                       workers=workers)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if result.failed:
        raise SystemExit(f"{len(result.failed)} units failed: "
                         f"{[result.outcome(u).error for u in result.failed]}")
    return wall, cpu, {u.label: result.outcome(u).metrics for u in result.units}


def _children_cpu() -> float:
    # user + system CPU seconds of reaped child processes (the pool's workers)
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def same_metrics(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> bool:
    """Equal per-unit metrics, NaN equal to NaN (mode retention is NaN with no successes)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="bc", help="comma-separated method ids")
    ap.add_argument("--task", default="avoid")
    ap.add_argument("--seeds", default="0-7")
    ap.add_argument("--tier", default="smoke")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare, first = base")
    ap.add_argument("--repeat", type=int, default=1, help="alternating repetitions (median)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    from benchmark.datasets import ensure_dataset
    from benchmark.registry import get_task
    from benchmark.seeding import parse_seeds

    seeds = tuple(parse_seeds(args.seeds))
    methods = tuple(m.strip() for m in args.method.split(",") if m.strip())
    counts = [int(w) for w in args.workers.split(",")]
    ensure_dataset(get_task(args.task))  # shared, built once, not timed
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    walls: dict[int, list[float]] = {w: [] for w in counts}
    reference = None
    with tempfile.TemporaryDirectory(prefix="modebench-speedup-") as tmp:
        # alternate the configurations so that a change in the machine's load during the
        # benchmark hits all of them alike
        for rep in range(args.repeat):
            for w in counts:
                wall, cpu, metrics = run(methods, args.task, seeds, args.tier, w,
                                    Path(tmp) / f"r{rep}-w{w}")
                if reference is None:
                    reference = metrics
                elif not same_metrics(metrics, reference):  # must not depend on the workers
                    raise SystemExit(f"metrics differ between runs: {metrics} vs {reference}")
                walls[w].append(wall)
                print(f"repeat {rep}: {w} worker(s): {wall:6.1f} s wall, {cpu:6.1f} s worker "
                      f"CPU for {len(metrics)} units", flush=True)
    base = statistics.median(walls[counts[0]])
    for w in counts:
        med = statistics.median(walls[w])
        print(f"{w} worker(s): median {med:.1f} s; speed-up vs {counts[0]}: {base / med:.2f}x")
    end_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cores: {os.cpu_count()}; 1-min load average {load:.2f} at start, {end_load:.2f} "
          "at end (anything above 0 is other processes competing for the same cores)")
    if args.json:
        args.json.write_text(json.dumps({"walls": walls, "units": len(reference or {}),
                                         "load_at_start": load}, indent=1))


if __name__ == "__main__":
    main()
