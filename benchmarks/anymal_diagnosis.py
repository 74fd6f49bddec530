"""Where do ANYmal BC episodes fail? Closed-loop episodes classified by how they end.

Pretrains the anymal diffusion policy (the bc backbone, the small tier's demonstrations and
batch size) for each ``--steps`` value, runs episodes from fixed reset seeds for each
number of executed actions per chunk (and the scripted expert from the same seeds, for
reference), and classifies each episode: ``success``, ``fell``, ``missed gate`` (crossed the
line outside both gates, with the distance to the nearest gate centre), ``timeout`` (with
how far it got). Also reports the forward speed over the first 2 s.

    python benchmarks/anymal_diagnosis.py --steps 8000,24000 --executed 4,2 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter

import numpy as np


def run_episodes(env, act, n: int, max_steps: int, seed0: int = 900) -> list[dict]:
    """``n`` closed-loop episodes; ``act(obs, episode, state) -> (k, act_dim)`` actions."""
    rows = []
    for i in range(n):
        obs, _ = env.reset(seed=seed0 + i)
        state: dict = {}
        xs: list[float] = []
        info: dict = {}
        done = False
        while not done:
            for a in act(obs, i, state):
                obs, _, term, trunc, info = env.step(a)
                xs.append(float(env.unwrapped.base_position()[0]))
                if term or trunc:
                    done = True
                    break
        t = len(xs)
        if info["success"]:
            kind = "success"
        elif info["fell"]:
            kind = "fell"
        elif t >= max_steps:
            kind = "timeout"
        else:
            kind = "missed gate"
        k = min(100, t)
        rows.append({"kind": kind, "mode": info["mode"], "len": t, "x": xs[-1],
                     "speed": xs[k - 1] / (k * env.unwrapped.control_dt),
                     "gate_error": info["gate_error"]})
    return rows


def summarise(name: str, rows: list[dict]) -> str:
    """One line: outcome counts, modes of successes, speed, what the failures looked like."""
    kinds = Counter(r["kind"] for r in rows)
    modes = Counter(r["mode"] for r in rows if r["kind"] == "success")
    missed = [r["gate_error"] for r in rows if r["kind"] == "missed gate"]
    timeouts = [r["x"] for r in rows if r["kind"] == "timeout"]
    return (f"{name:>24}: success {kinds['success']}/{len(rows)} {dict(modes)}  fell "
            f"{kinds['fell']}  missed gate {len(missed)} (median gate error "
            f"{np.median(missed) if missed else float('nan'):.2f} m)  timeout {len(timeouts)} "
            f"(median x {np.median(timeouts) if timeouts else float('nan'):.2f} m)  speed "
            f"{np.mean([r['speed'] for r in rows]):.2f} m/s")


def main() -> None:
    """Parse arguments, run the expert, pretrain each budget, print one line per variant."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="anymal")
    ap.add_argument("--steps", default="8000", help="comma-separated pretraining steps")
    ap.add_argument("--executed", default="4", help="comma-separated executed actions")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--lr", type=float, default=None, help="pretraining learning rate")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from baselines.common.pretrain import pretrain_policy
    from benchmark.datasets import ensure_dataset
    from benchmark.registry import get_method_class, get_task

    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    spec = task.spec
    budget = spec.budget("small")
    env = task.make_env()

    def expert_act(obs, i, state):
        if "expert" not in state:
            state["expert"] = task.make_expert(env, spec.modes[i % len(spec.modes)],
                                               np.random.default_rng(i))
        return [state["expert"](obs)]

    print(summarise("expert", run_episodes(env, expert_act, args.episodes,
                                           spec.max_episode_steps)), flush=True)
    cfg = get_method_class("bc")().for_task(spec).diffusion
    if args.lr:
        cfg = dataclasses.replace(cfg, learning_rate=args.lr, min_lr=min(cfg.min_lr, args.lr))
    ds = ensure_dataset(task).subset(budget.n_demos)
    for steps in (int(s) for s in args.steps.split(",")):
        t0 = time.perf_counter()
        policy = pretrain_policy(ds.observations, ds.actions, horizon=spec.chunk.horizon,
                                 act_steps=spec.chunk.act_steps, cfg=cfg, steps=steps,
                                 batch_size=budget.batch_size, seed=args.seed)
        print(f"pretrained {steps} steps in {time.perf_counter() - t0:.0f} s", flush=True)
        for executed in (int(e) for e in args.executed.split(",")):
            policy.act_steps = executed
            torch.manual_seed(args.seed)
            rows = run_episodes(env, lambda o, i, s, p=policy: p.act(o[None])[0],
                                args.episodes, spec.max_episode_steps)
            print(summarise(f"{steps} steps, {executed} executed", rows), flush=True)


if __name__ == "__main__":
    main()
