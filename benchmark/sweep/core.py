"""``run_sweep``: plan the units, skip the finished ones, run the rest, report.

Resumability comes from the store, not from a sweep journal: a unit is done exactly when the
MLflow store holds a FINISHED seed run with its key (:mod:`benchmark.sweep.units`). A sweep
killed at any point (SIGKILL included) therefore loses only its unfinished units, and
re-running the same command redoes exactly those. Checkpoints and datasets are written to a
temporary folder and renamed into place under a file lock (:mod:`benchmark.runner`,
:mod:`benchmark.datasets`), so a killed writer leaves nothing a later unit could load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from benchmark import schema
from benchmark.progress import SILENT, Progress
from benchmark.sweep.executors import make_executor
from benchmark.sweep.units import StoredRun, SweepConfig, Unit, plan_units, stored_runs
from benchmark.sweep.worker import UnitOutcome, store_env


@dataclass
class SweepResult:
    """The outcome of a sweep, one entry per unit, in plan order.

    Attributes:
        units: The planned units.
        outcomes: Unit key -> outcome (DONE for units skipped as already finished).
        executor: Executor name.
        workers: Parallel workers used.
        wall_s: Seconds from dispatch of the first unit to the last outcome.
        tracking_uri: The store the runs went to.
        previous: What the store held for each unit key before the sweep (FINISHED run if
            any, else the newest run).
    """

    units: list[Unit]
    outcomes: dict[str, UnitOutcome]
    executor: str
    workers: int
    wall_s: float
    tracking_uri: str
    previous: dict[str, StoredRun] = field(default_factory=dict)

    def outcome(self, unit: Unit) -> UnitOutcome:
        """The outcome of ``unit``."""
        return self.outcomes[unit.key or unit.label]

    @property
    def failed(self) -> list[Unit]:
        """Units that failed in this sweep."""
        return [u for u in self.units if self.outcome(u).status == "FAILED"]

    @property
    def ran(self) -> list[Unit]:
        """Units run (finished or failed) in this sweep."""
        return [u for u in self.units if self.outcome(u).status != "DONE"]

    @property
    def skipped(self) -> list[Unit]:
        """Units skipped because the store already held them FINISHED."""
        return [u for u in self.units if self.outcome(u).status == "DONE"]

    @property
    def exit_code(self) -> int:
        """0 when every unit finished, 1 when any failed."""
        return 1 if self.failed else 0


def plan_sweep(cfg: SweepConfig, build_datasets: bool = False,
               progress: Progress = SILENT) -> tuple[list[Unit], dict[str, StoredRun]]:
    """The units of a sweep and what the store holds for each (``bench sweep --dry-run``).

    Returns:
        (units, stored): ``stored[key]`` is the unit's FINISHED run if there is one, else its
        newest run of any status; units without an entry were never run.
    """
    units = plan_units(cfg, build_datasets=build_datasets, progress=progress)
    return units, stored_runs(u.key for u in units if u.key)


def run_sweep(cfg: SweepConfig, executor: str = "local", workers: int | None = None,
              address: str | None = None, retries: int = 1, threads: int = 1,
              progress: Progress = SILENT,
              on_outcome: Any = None) -> SweepResult:
    """Run every unit of ``cfg`` that the store does not hold FINISHED.

    Args:
        cfg: The sweep.
        executor: ``"local"`` (process pool), ``"ray"`` or ``"inline"``.
        workers: Parallel workers (local default: this machine's cores; Ray default: the
            cluster's CPUs).
        address: Ray cluster address (``"auto"``); None starts a local Ray.
        retries: Re-dispatches of a unit whose worker was lost.
        threads: torch threads per worker (kept equal on every executor so that a unit's
            result does not depend on where it ran).
        progress: Progress reporter: dataset builds, then one bar for the sweep.
        on_outcome: Optional ``callback(unit, outcome)`` called as units complete.

    Returns:
        The per-unit outcomes. Failed units do not raise; see :attr:`SweepResult.exit_code`.

    Raises:
        BenchError: Bad input (unknown ids, tier, levels, executor) before anything runs.
    """
    from benchmark import tracking
    from benchmark.paths import tracking_uri

    ex = make_executor(executor, workers, address, retries, threads)
    # datasets are built here, once, before any worker starts
    units = plan_units(cfg, build_datasets=True, progress=progress)
    # create the store and the experiment here too: no worker races to migrate a new store
    tracking.experiment_id(tracking.client())
    previous = stored_runs(u.key for u in units if u.key)
    outcomes: dict[str, UnitOutcome] = {}
    todo: list[Unit] = []
    for u in units:
        prev = previous.get(u.key or "")
        if prev is not None and prev.status == "FINISHED":
            outcomes[u.key] = UnitOutcome("DONE", prev.run_id, prev.metrics, prev.wall_s,
                                          attempts=0)
        else:
            todo.append(u)
    t0 = time.perf_counter()
    state = {"running": 0, "done": 0, "failed": 0}
    with progress.task(f"sweep ({ex.name}, {len(todo)} units)", total=len(todo)) as advance:
        def fields() -> dict[str, Any]:
            return {"done": state["done"], "running": state["running"],
                    "failed": state["failed"], "skipped": len(units) - len(todo)}

        advance(0, **fields())

        def on_start(u: Unit) -> None:
            state["running"] += 1
            advance(0, **fields())

        def on_done(u: Unit, out: UnitOutcome) -> None:
            state["running"] -= 1
            state["failed" if out.status == "FAILED" else "done"] += 1
            outcomes[u.key or u.label] = out
            advance(1, **fields())
            if on_outcome is not None:
                on_outcome(u, out)

        if todo:
            since_ms = int(time.time() * 1000)
            ex.run(todo, store_env(), on_start, on_done)
            _close_orphans({u.key for u in todo if u.key}, since_ms)
    return SweepResult(units, outcomes, ex.name, ex.workers, time.perf_counter() - t0,
                       tracking_uri(), previous)


def _close_orphans(keys: set[str], since_ms: int) -> int:
    """Mark KILLED the RUNNING runs this sweep's units left behind (a lost worker's run).

    Every unit has an outcome when this runs, so a RUNNING seed run of one of ``keys``
    started during this sweep belongs to a worker that died (the runner never got to close
    it). Leaving it RUNNING would read as "in progress" forever in the MLflow UI. (A second
    sweep running the same units on the same store at the same time would see its live run
    marked KILLED here; its own end of run sets the final status again.)

    Returns:
        The number of runs closed.
    """
    from benchmark import tracking

    c = tracking.client()
    exp = tracking._retrying(c.get_experiment_by_name, schema.EXPERIMENT)
    if exp is None or not keys:
        return 0
    runs = tracking._retrying(
        c.search_runs, [exp.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{schema.TAG_KIND}` = 'seed'",
        max_results=1000)
    closed = 0
    for run in runs:
        if run.data.tags.get(schema.TAG_UNIT) in keys and (run.info.start_time or 0) >= since_ms:
            tracking.end_run(c, run.info.run_id, "KILLED",
                             "WorkerLost: the worker process running this unit died; "
                             "the unit was re-dispatched or reported FAILED")
            closed += 1
    return closed
