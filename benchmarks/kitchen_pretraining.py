"""Kitchen BC against pretraining length, sampler and executed steps (issue 14's levers).

Pretrains the kitchen diffusion policy (the task family's backbone, the small tier's batch
size) for each ``--steps`` value, then runs closed-loop episodes from the same evaluation
reset seeds for every (sampler, executed steps) variant, and prints success, mean subtasks
completed and distinct orders. Pretraining is the cost (~11 min per 60k steps on two cores);
``--save``/``--load`` keep a checkpoint so the variants can be re-evaluated.

    python benchmarks/kitchen_pretraining.py --steps 20000,60000 --episodes 24
    python benchmarks/kitchen_pretraining.py --load ckpt/ --variants ddpm:8,ddim:8,ddpm:4,ddpm:16

Measured on kitchen-v1 (same env and demonstrations as v2), seed 0, 24 episodes: 20k steps
0/24 (1.7 subtasks on average), 60k steps 6/24 in 5 orders (2.4 subtasks); on the 20k
checkpoint no sampler / executed-steps variant helps (DDIM 1/24, 4 or 2 executed steps
fewer subtasks than 8).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np


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
    return {"success": float(np.mean([r[0] for r in results])),
            "subtasks": float(np.mean([r[2] for r in results])),
            "orders": len({r[1] for r in results if r[0]})}


def main() -> None:
    """Parse arguments, pretrain or load, evaluate each variant, print one line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="20000", help="comma-separated pretraining steps")
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--variants", default="ddpm:8",
                    help="sampler:executed-steps pairs, e.g. ddpm:8,ddim:8,ddpm:4")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None, help="pretraining learning rate")
    ap.add_argument("--save", type=Path, default=None, help="write each checkpoint here/<steps>")
    ap.add_argument("--load", type=Path, default=None, help="evaluate this checkpoint instead")
    args = ap.parse_args()

    import torch

    from baselines.common.policy import DiffusionPolicy
    from baselines.common.pretrain import pretrain_policy
    from benchmark.datasets import ensure_dataset
    from benchmark.registry import get_method_class, get_task

    torch.set_num_threads(args.threads)
    task = get_task("kitchen")
    spec = task.spec
    cfg = get_method_class("bc")().for_task(spec).diffusion  # the backbone bench evaluate uses
    if args.lr:
        cfg = dataclasses.replace(cfg, learning_rate=args.lr, min_lr=min(cfg.min_lr, args.lr))
    variants = [(v.split(":")[0], int(v.split(":")[1])) for v in args.variants.split(",")]
    checkpoints: list[tuple[str, DiffusionPolicy]] = []
    if args.load:
        checkpoints.append((str(args.load), DiffusionPolicy.load(args.load)))
    else:
        ds = ensure_dataset(task)
        for steps in (int(s) for s in args.steps.split(",")):
            t0 = time.perf_counter()
            policy = pretrain_policy(ds.observations, ds.actions, horizon=spec.chunk.horizon,
                                     act_steps=spec.chunk.act_steps, cfg=cfg, steps=steps,
                                     batch_size=spec.budget("small").batch_size,
                                     seed=args.seed)
            print(f"pretrained {steps} steps in {time.perf_counter() - t0:.0f} s", flush=True)
            if args.save:
                policy.save(args.save / str(steps))
            checkpoints.append((f"{steps} steps", policy))
    for name, policy in checkpoints:
        base_cfg, base_steps = policy.model.cfg, policy.act_steps
        for sampler, executed in variants:
            policy.model.cfg = dataclasses.replace(base_cfg, pretrained_sampler=sampler)
            policy.act_steps = executed
            torch.manual_seed(args.seed)
            r = run_episodes(policy, task, args.episodes)
            print(f"{name:>14}  {sampler} x {executed:2d} executed: success "
                  f"{r['success']:.3f}  subtasks {r['subtasks']:.2f}  orders {r['orders']}",
                  flush=True)
        policy.model.cfg, policy.act_steps = base_cfg, base_steps


if __name__ == "__main__":
    main()
