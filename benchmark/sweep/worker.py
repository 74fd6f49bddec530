"""What runs in a sweep worker (a local pool process or a Ray task): one unit, one seed run.

The worker gets the store and cache locations explicitly (``env``) rather than relying on
inheriting them: a Ray worker on another node has neither the sweep's environment nor its
working directory. An exception inside the unit is caught and returned as a FAILED outcome
(the runner has already marked its MLflow run FAILED); only the loss of the worker process
itself surfaces as an executor error, which the executor retries.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field

from benchmark.sweep.units import Unit

# environment variables that locate the stores; copied from the sweep's process to workers
STORE_ENV = ("MLFLOW_TRACKING_URI", "MODEBENCH_CACHE", "MODEBENCH_DATASETS")


@dataclass
class UnitOutcome:
    """The outcome of one unit.

    Attributes:
        status: ``FINISHED`` (ran now), ``FAILED`` (ran now and raised, or its worker was
            lost beyond the retries), or ``DONE`` (finished in an earlier sweep; skipped).
        run_id: The MLflow seed run (None when the run could not be created).
        metrics: Nominal per-seed metrics (success_rate, mode_count, ...).
        wall_s: Seconds the unit took in its worker (for DONE: the stored run's duration).
        error: First line of the error (``"TrainingError: loss is NaN ..."``) of a failure.
        worker: ``host:pid`` of the process that ran it.
        attempts: How many times it was dispatched (> 1 after a lost worker).
        detail: The full traceback of a failure.
    """

    status: str
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    wall_s: float | None = None
    error: str | None = None
    worker: str | None = None
    attempts: int = 1
    detail: str | None = None


def store_env() -> dict[str, str]:
    """The resolved store locations of this process (absolute: workers may run elsewhere)."""
    from benchmark.paths import cache_root, datasets_root, tracking_uri

    return {"MLFLOW_TRACKING_URI": tracking_uri(), "MODEBENCH_CACHE": str(cache_root()),
            "MODEBENCH_DATASETS": str(datasets_root())}


def init_worker(threads: int) -> None:
    """Pool initializer: quiet MLflow, and pin torch's intra-op threads.

    Every worker uses the same thread count (default 1) on every executor: with W workers
    on C cores more threads only oversubscribe, and a fixed count keeps a unit's floating
    point identical whichever executor or worker runs it.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from benchmark.interrupts import terminate_as_interrupt

    terminate_as_interrupt()  # a terminated worker marks its run KILLED
    import torch

    torch.set_num_threads(threads)


def first_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"``."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_unit(unit: Unit, env: dict[str, str], threads: int = 1) -> UnitOutcome:
    """Run one unit (one :func:`benchmark.runner.run_seed`) and report its outcome.

    Args:
        unit: The unit.
        env: Store locations (:func:`store_env` of the sweep's process).
        threads: torch intra-op threads.

    Returns:
        FINISHED with the seed's nominal metrics, or FAILED with the error's first line.
    """
    os.environ.update(env)
    init_worker(threads)
    from benchmark.runner import run_seed

    worker = f"{socket.gethostname()}:{os.getpid()}"
    t0 = time.perf_counter()
    try:
        res = run_seed(unit.request(), unit.seed, unit_key=unit.key)
    except Exception as exc:  # the unit failed, the worker did not: report, keep going
        # the store's run has the first line (modebench.error); the sweep keeps the traceback
        return UnitOutcome("FAILED", error=first_line(exc), worker=worker,
                           wall_s=time.perf_counter() - t0, detail=traceback.format_exc())
    metrics = {k: float(v) for k, v in res.metrics.items() if "/" not in k}
    return UnitOutcome("FINISHED", res.run_id, metrics, time.perf_counter() - t0, None, worker)
