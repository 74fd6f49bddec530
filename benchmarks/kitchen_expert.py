"""The kitchen task's own figures: env speed, and the scripted expert's success and modes.

Measures, on one core:

* env steps/s with random actions (the FrankaKitchen step: 40 MuJoCo substeps);
* the expert's success per order (mode), its mode shares, steps per episode and env steps/s
  with the expert in the loop, at every perturbation level of the spec (or those given),
  over evaluation seeds (the same seeds for every level).

    python benchmarks/kitchen_expert.py --episodes 60
    python benchmarks/kitchen_expert.py --episodes 12 --levels nominal,gain_x0.7
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np


def env_speed(task, n_steps: int = 1_000) -> float:
    """Env steps per second with uniform random actions, resets included."""
    env = task.make_env()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(n_steps, task.spec.act_dim)).astype(np.float32)
    t0 = time.perf_counter()
    for a in actions:
        _, _, te, tr, _ = env.step(a)
        if te or tr:
            env.reset()
    return n_steps / (time.perf_counter() - t0)


def expert_at_level(task, level_index: int, level, n_episodes: int) -> dict:
    """Expert success per mode, mode shares, episode length and env steps/s at one level.

    Episode ``e`` demonstrates mode ``e % n_modes`` from reset seed ``eval_seed(level, e)``.
    """
    from benchmark.seeding import eval_seed
    from benchmark.task import run_expert_episode

    spec = task.spec
    env = task.make_env(level)
    ok_by_mode: Counter[str] = Counter()
    tried_by_mode: Counter[str] = Counter()
    shares: Counter[str] = Counter()
    lengths, steps, seconds = [], 0, 0.0
    for e in range(n_episodes):
        mode = spec.modes[e % len(spec.modes)]
        seed = eval_seed(level_index, e)
        obs, _ = env.reset(seed=seed)
        expert = task.make_expert(env, mode, np.random.default_rng([seed, 0xE8]))
        t0 = time.perf_counter()
        n, info = run_expert_episode(env, expert, obs, spec.max_episode_steps)
        seconds += time.perf_counter() - t0
        steps += n
        tried_by_mode[mode] += 1
        if info["success"]:
            shares[info["mode"]] += 1
            if info["mode"] == mode:
                ok_by_mode[mode] += 1
                lengths.append(n)
    n_ok = sum(ok_by_mode.values())
    return {
        "level": level.name,
        "success": n_ok / n_episodes,
        "success_by_mode": {m: ok_by_mode[m] / tried_by_mode[m] for m in tried_by_mode},
        "mode_shares": {m: shares[m] / max(1, sum(shares.values())) for m in spec.modes},
        "steps_mean": float(np.mean(lengths)) if lengths else float("nan"),
        "steps_p95": float(np.percentile(lengths, 95)) if lengths else float("nan"),
        "steps_max": int(max(lengths)) if lengths else 0,
        "env_steps_per_s": steps / seconds,
    }


def main() -> None:
    """Print the figures as a table and as JSON."""
    import torch

    torch.set_num_threads(1)
    from benchmark.registry import get_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="kitchen")
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--levels", default="nominal",
                        help="comma-separated level names, or 'all'")
    args = parser.parse_args()
    task = get_task(args.task)
    names = [p.name for p in task.spec.perturbations] if args.levels == "all" else \
        args.levels.split(",")
    index = {p.name: i for i, p in enumerate(task.spec.perturbations)}
    print(f"{task.spec.id}: random-action env speed {env_speed(task):.0f} steps/s")
    results = []
    for name in names:
        r = expert_at_level(task, index[name], task.spec.perturbation(name), args.episodes)
        results.append(r)
        print(f"{name:16s} success {r['success']:.3f}  steps mean {r['steps_mean']:.0f} "
              f"p95 {r['steps_p95']:.0f} max {r['steps_max']}  "
              f"{r['env_steps_per_s']:.0f} env steps/s")
        for m, s in r["success_by_mode"].items():
            print(f"    {m:40s} success {s:.2f}  share {r['mode_shares'][m]:.3f}")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
