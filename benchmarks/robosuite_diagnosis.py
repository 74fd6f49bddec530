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
    python benchmarks/robosuite_diagnosis.py --load /tmp/rs/8000 --variants ddpm:4,ddim:4,ddpm:8
    python benchmarks/robosuite_diagnosis.py --steps 8000 --hidden 256,256,256  # v0's backbone
"""

from __future__ import annotations

import argparse
from collections import Counter

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np
from _pretraining import add_pretraining_args, checkpoints, expert_actor, policy_actor, variants

NEAR = 0.03  # metres, horizontal: "over the cube"


def run_episode(env, act, episode: int, seed: int) -> dict:
    """One closed-loop episode; ``act(obs, episode, state) -> (k, act_dim)`` actions to
    execute in order (``state``: one dict for the episode)."""
    obs, _ = env.reset(seed=seed)
    state: dict = {}
    core = env.unwrapped
    eef, near_step, held = [], None, False
    info: dict = {}
    t = 0
    done = False
    while not done:
        for a in act(obs, episode, state):
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
    """Parse arguments, run the expert, pretrain or load, print one line per variant."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pretraining_args(ap, steps="8000")
    ap.add_argument("--task", default="robosuite-lift")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--no-expert", action="store_true")
    args = ap.parse_args()

    from benchmark.registry import get_task

    task = get_task(args.task)
    env = task.make_env()
    seeds = [900 + i for i in range(args.episodes)]
    if not args.no_expert:
        act = expert_actor(task, env)
        print(summarise("expert", [run_episode(env, act, i, s) for i, s in enumerate(seeds)]),
              flush=True)
    for name, policy in checkpoints(task, args):
        for variant in variants(policy, args):
            act = policy_actor(policy)
            rows = [run_episode(env, act, i, s) for i, s in enumerate(seeds)]
            print(summarise(f"{name} {variant}", rows), flush=True)

if __name__ == "__main__":
    main()
