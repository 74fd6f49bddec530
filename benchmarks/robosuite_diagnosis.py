"""Where do robosuite-lift BC episodes fail? Closed-loop episodes classified step by step.

Pretrains the robosuite-lift diffusion policy (the bc backbone, the small tier's batch size)
or loads a checkpoint, runs episodes from fixed reset seeds (and the scripted expert from
the same seeds for reference), and classifies each episode:

- ``success``: a cube lifted (mode = its colour);
- ``dithered``: never came within 3 cm (horizontally) of either cube, i.e. never committed;
- ``no grasp``: came over a cube but never held it;
- ``dropped``: held a cube and did not lift it.

It also reports how often the gripper's lateral heading flips in the first 20 steps (a
policy that re-chooses its mode at every chunk zigzags between the cubes) and the step at
which the gripper first comes within 3 cm of a cube.

    python benchmarks/robosuite_diagnosis.py --steps 8000 --episodes 40 --save /tmp/rs
    python benchmarks/robosuite_diagnosis.py --load /tmp/rs/8000 --variants ddpm:4,ddpm:8
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter
from pathlib import Path

import numpy as np

NEAR = 0.03  # metres, horizontal: "over the cube"


def run_episode(env, act, seed: int) -> dict:
    """One closed-loop episode; ``act(obs) -> (k, act_dim)`` actions to execute in order."""
    obs, _ = env.reset(seed=seed)
    core = env.unwrapped
    eef, near_step, held = [], None, False
    info: dict = {}
    t = 0
    done = False
    while not done:
        for a in act(obs):
            obs, _, term, trunc, info = env.step(a)
            t += 1
            s = core.state()
            eef.append(s["eef_pos"][:2].copy())
            d = min(np.linalg.norm(s[f"{c}_pos"][:2] - s["eef_pos"][:2])
                    for c in ("cubeA", "cubeB"))
            if near_step is None and d < NEAR:
                near_step = t
            held = held or bool(core._last_grasped)
            if term or trunc:
                done = True
                break
    y = np.asarray(eef)[:21, 1]
    dy = np.sign(np.round(np.diff(y), 4))
    dy = dy[dy != 0]
    flips = int(np.sum(dy[1:] != dy[:-1]))
    if info["success"]:
        kind = "success"
    elif near_step is None:
        kind = "dithered"
    elif not held:
        kind = "no grasp"
    else:
        kind = "dropped"
    return {"kind": kind, "mode": info["mode"], "flips": flips, "near": near_step, "len": t}


def summarise(name: str, rows: list[dict]) -> str:
    """One line: success, modes, failure kinds, heading flips, first-approach step."""
    kinds = Counter(r["kind"] for r in rows)
    modes = Counter(r["mode"] for r in rows if r["kind"] == "success")
    near = [r["near"] for r in rows if r["near"] is not None]
    return (f"{name:>22}: success {kinds['success']}/{len(rows)} modes {dict(modes)}  "
            f"dithered {kinds['dithered']} no-grasp {kinds['no grasp']} "
            f"dropped {kinds['dropped']}  flips(20 steps) {np.mean([r['flips'] for r in rows]):.1f}"
            f"  first-near step {np.median(near) if near else float('nan'):.0f}")


def main() -> None:
    """Parse arguments, pretrain or load, run the expert and each variant, print one line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="robosuite-lift")
    ap.add_argument("--steps", default="8000", help="comma-separated pretraining steps")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--variants", default="ddpm:4",
                    help="sampler:executed-steps pairs, e.g. ddpm:4,ddim:4,ddpm:8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=None, help="write each checkpoint here/<steps>")
    ap.add_argument("--load", type=Path, default=None, help="evaluate this checkpoint instead")
    ap.add_argument("--no-expert", action="store_true")
    ap.add_argument("--hidden", default=None, help="backbone widths, e.g. 512,512,512")
    ap.add_argument("--residual", action="store_true", help="DPPO's residual MLP blocks")
    args = ap.parse_args()

    import torch

    from baselines.common.policy import DiffusionPolicy
    from baselines.common.pretrain import pretrain_policy
    from benchmark.datasets import ensure_dataset
    from benchmark.registry import get_method_class, get_task

    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    spec = task.spec
    env = task.make_env()
    seeds = [900 + i for i in range(args.episodes)]
    if not args.no_expert:
        rows = []
        for i, seed in enumerate(seeds):
            mode = spec.modes[i % len(spec.modes)]
            holder: dict = {}

            def expert_act(obs, holder=holder, mode=mode, i=i):
                if "expert" not in holder:
                    holder["expert"] = task.make_expert(env, mode, np.random.default_rng(i))
                return [holder["expert"](obs)]

            rows.append(run_episode(env, expert_act, seed))
        print(summarise("expert", rows), flush=True)

    cfg = get_method_class("bc")().for_task(spec).diffusion
    if args.hidden:
        cfg = dataclasses.replace(cfg, hidden_dims=tuple(int(w) for w in args.hidden.split(",")))
    if args.residual:
        cfg = dataclasses.replace(cfg, residual=True)
    variants = [(v.split(":")[0], int(v.split(":")[1])) for v in args.variants.split(",")]
    checkpoints: list[tuple[str, DiffusionPolicy]] = []
    if args.load:
        checkpoints.append((args.load.name, DiffusionPolicy.load(args.load)))
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
            rows = [run_episode(env, lambda o, p=policy: p.act(o[None])[0], s) for s in seeds]
            print(summarise(f"{name} {sampler}x{executed}", rows), flush=True)
        policy.model.cfg, policy.act_steps = base_cfg, base_steps


if __name__ == "__main__":
    main()
