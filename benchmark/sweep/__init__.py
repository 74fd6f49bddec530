"""``bench sweep``: many units (method x task x seed at one tier), resumable, in parallel.

>>> from benchmark.sweep import SweepConfig, run_sweep
>>> result = run_sweep(SweepConfig(("bc", "dppo"), ("avoid",), (0, 1, 2), tier="smoke"),
...                    executor="local", workers=2)          # doctest: +SKIP
>>> result.exit_code                                          # doctest: +SKIP
0

Modules: :mod:`~benchmark.sweep.units` (units, keys, what the store holds),
:mod:`~benchmark.sweep.worker` (one unit in a worker), :mod:`~benchmark.sweep.executors`
(local process pool, Ray, inline), :mod:`~benchmark.sweep.core` (the sweep). Importing this
package needs neither torch, mlflow nor ray.
"""

from benchmark.sweep.core import SweepResult, plan_sweep, run_sweep
from benchmark.sweep.executors import (
    ExecutorError,
    InlineExecutor,
    LocalExecutor,
    RayExecutor,
    make_executor,
)
from benchmark.sweep.units import (
    StoredRun,
    SweepConfig,
    Unit,
    key_from_tags,
    plan_units,
    stored_runs,
    unit_key,
)
from benchmark.sweep.worker import UnitOutcome, run_unit

__all__ = [
    "ExecutorError", "InlineExecutor", "LocalExecutor", "RayExecutor", "StoredRun",
    "SweepConfig", "SweepResult", "Unit", "UnitOutcome", "key_from_tags", "make_executor",
    "plan_sweep", "plan_units", "run_sweep", "run_unit", "stored_runs", "unit_key",
]
