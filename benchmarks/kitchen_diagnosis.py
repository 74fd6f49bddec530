"""Where do kitchen BC episodes fail? Progress, first subtask, closest approach, noise.

Trains (or loads from the cache) the ``bc`` policy of one seed at a tier, evaluates it at
the nominal level and the given perturbation levels, and reports per level:

* success and the distribution of progress (subtasks completed: 0..4);
* the subtask chosen first, and the orders (modes) of the successes;
* for failed episodes, how close the hand came to the handle of a subtask it did not finish
  (``closest_unfinished_m``, task versions that record it) and the episode length (a
  timeout at the horizon, or stopped earlier);

    python benchmarks/kitchen_diagnosis.py --tier small --seed 0
    python benchmarks/kitchen_diagnosis.py --tier small --levels obs_noise_x5,obs_noise_x20

Prints one JSON object (and a short table); nothing is logged to MLflow.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np


def summarise(records: list) -> dict:
    """Figures of one level's episode records (:class:`benchmark.rollout.EpisodeRecord`)."""
    n = len(records)
    progress = Counter(int(r.extras.get("progress", 0)) for r in records)
    first = Counter(r.mode.split(">")[0] if r.mode else "(none)" for r in records)
    failed = [r for r in records if not r.success]
    closest = [r.extras["closest_unfinished_m"] for r in failed
               if "closest_unfinished_m" in r.extras]
    out = {
        "episodes": n,
        "success": sum(r.success for r in records) / max(n, 1),
        "progress_share": {k: progress.get(k, 0) / max(n, 1) for k in range(5)},
        "first_subtask": dict(first.most_common()),
        "success_orders": len({r.mode for r in records if r.success}),
        "failed_length_median": float(np.median([r.length for r in failed])) if failed else None,
    }
    if closest:
        out["failed_closest_unfinished_m"] = {
            q: float(np.quantile(closest, p)) for q, p in (("p10", 0.1), ("median", 0.5),
                                                          ("p90", 0.9))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="kitchen")
    parser.add_argument("--method", default="bc")
    parser.add_argument("--tier", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--levels", default="", help="perturbation levels besides nominal")
    parser.add_argument("-o", "--option", action="append", default=[],
                        help="method option key=value (as bench evaluate -o)")
    args = parser.parse_args()

    from benchmark.cli._common import parse_option
    from benchmark.runner import EvalRequest, evaluate

    levels = tuple(x for x in args.levels.split(",") if x)
    result = evaluate(EvalRequest(method=args.method, task=args.task, seeds=(args.seed,),
                                  tier=args.tier, perturbations=levels, track=False,
                                  options=dict(parse_option(o) for o in args.option)))
    records = result.seeds[0].records
    report = {"task": result.task_id, "method": args.method, "tier": args.tier,
              "seed": args.seed, "levels": {}}
    for level in ("nominal",) + levels:
        report["levels"][level] = summarise([r for r in records if r.level == level])
    print(json.dumps(report, indent=1))
    for level, s in report["levels"].items():
        prog = " ".join(f"{k}:{v:.2f}" for k, v in s["progress_share"].items())
        print(f"{level:>16}  success {s['success']:.2f}  progress {prog}  "
              f"orders {s['success_orders']}  failed closest "
              f"{s.get('failed_closest_unfinished_m', {}).get('median', float('nan')):.3f} m")


if __name__ == "__main__":
    main()
