"""Kitchen BC against pretraining length, sampler and executed steps (issue 14's levers).

Pretrains the kitchen diffusion policy (the task family's backbone, the small tier's batch
size) for each ``--steps`` value, then runs closed-loop episodes from the same evaluation
reset seeds for every (sampler, executed steps) variant, and prints success, mean subtasks
completed and distinct orders. Pretraining is the cost (~10 min per 60k steps on two threads);
``--save``/``--load`` keep a checkpoint so the variants can be re-evaluated.

    python benchmarks/kitchen_pretraining.py --steps 20000,60000 --episodes 24
    python benchmarks/kitchen_pretraining.py --load ckpt/ --variants ddpm:8,ddim:8,ddpm:4,ddpm:16

Measured on kitchen-v1/v2 (same env and demonstrations), seed 0, 24 episodes: 20k steps
0/24 (1.7 subtasks on average), 60k steps 6/24 in 5 orders (2.4 subtasks), 120k steps 17/24
in 11 orders (3.4 subtasks; 96 episodes: 0.60 in 19 orders), 240k steps (96 episodes, 61 min
of pretraining on one thread) 0.667 in 23 orders (3.49 subtasks, no order above 9 % of the
successes), seed 1 at 240k 0.583 in 22 orders (36 min on two threads); lr 1e-3 at 60k 1/24; on the
20k checkpoint no sampler / executed-steps variant helps (DDIM 1/24, 4 or 2 executed steps
fewer subtasks than 8). EMA decay (``--ema 0.995,0.999,0.9995``, one 120k run, seed 0, 96
episodes, 2 threads): 0.604 / 0.594 / 0.573 success, 19 / 22 / 19 orders: a longer EMA
does not lift kitchen bc. Two backbone levers at 60k steps (2026-12-02, seed 0, 24 episodes,
one thread each, two runs side by side on an AMD EPYC 2-core machine, ~40-49 min each), against
the 6/24 above (another machine): a 256 x 256 observation MLP (``--cond-mlp 256,256``) 2/24
(2.54 subtasks, 2 orders); an 8-step chunk executing all 8 (``--horizon 8:8``, the same
closed-loop rate, half the outputs) 4/24 (2.54 subtasks, 3 orders): neither is the ~2.5x
that 0.6 at 60k steps would need.
"""

from __future__ import annotations

import argparse
from collections import Counter

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np
from _pretraining import add_pretraining_args, checkpoints, variants


def run_episodes(policy, task, n: int, seed0: int = 900) -> dict:
    """Closed-loop episodes from reset seeds ``seed0 + i``: success, subtasks, orders."""
    env = task.make_env()
    results = []
    for i in range(n):
        obs, _ = env.reset(seed=seed0 + i)
        done, info = False, {}
        while not done:
            for a in policy.act(obs[None])[0]:
                obs, _, term, trunc, info = env.step(a)
                if term or trunc:
                    done = True
                    break
        results.append((bool(info["success"]), info["mode"], int(info["progress"])))
    orders = Counter(r[1] for r in results if r[0])
    return {"success": float(np.mean([r[0] for r in results])),
            "subtasks": float(np.mean([r[2] for r in results])),
            "orders": len(orders),
            "top_order_share": max(orders.values()) / sum(orders.values()) if orders else 0.0}


def main() -> None:
    """Parse arguments, pretrain or load, evaluate each variant, print one line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pretraining_args(ap, steps="20000")
    ap.add_argument("--episodes", type=int, default=24)
    args = ap.parse_args()

    from benchmark.registry import get_task

    task = get_task("kitchen")
    for name, policy in checkpoints(task, args):
        for variant in variants(policy, args):
            r = run_episodes(policy, task, args.episodes)
            print(f"{name:>14}  {variant}: success {r['success']:.3f}  subtasks "
                  f"{r['subtasks']:.2f}  orders {r['orders']} (largest "
                  f"{r['top_order_share']:.0%} of successes)", flush=True)


if __name__ == "__main__":
    main()
