"""robosuite-lift: env speed, reset/make cost, and expert success per mode and perturbation level.

Reports wall-clock *and* process-CPU rates: on a shared machine the CPU figure is the one
that compares across runs (wall time depends on what else is running).

    python benchmarks/robosuite_task.py --episodes 10            # every level, 10 per mode
    python benchmarks/robosuite_task.py --levels nominal,gain_x0.25 --episodes 20
"""

from __future__ import annotations

import argparse
import time

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def random_speed(task, steps: int) -> tuple[float, float]:
    """Env steps/s (wall, cpu) with uniform random actions, resetting when an episode ends."""
    env = task.make_env()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, task.spec.act_dim)).astype(np.float32)

    def run():
        for a in actions:
            _, _, te, tr, _ = env.step(a)
            if te or tr:
                env.reset()

    _, wall, cpu = _timed(run)
    env.close()
    return steps / wall, steps / cpu


def expert_level(task, level_name: str, episodes_per_mode: int) -> dict:
    """Expert success per mode, mean length and steps/s at one perturbation level."""
    from benchmark.task import run_expert_episode

    spec = task.spec
    env = task.make_env(spec.perturbation(level_name))
    ok = {m: 0 for m in spec.modes}
    lengths = []
    steps = 0

    def run():
        nonlocal steps
        for i in range(episodes_per_mode * len(spec.modes)):
            mode = spec.modes[i % len(spec.modes)]
            obs, _ = env.reset(seed=10_000 + i)
            expert = task.make_expert(env, mode, np.random.default_rng(i))
            length, info = run_expert_episode(env, expert, obs, spec.max_episode_steps)
            steps += length
            lengths.append(length)
            ok[mode] += bool(info["success"] and info["mode"] == mode)

    _, wall, cpu = _timed(run)
    env.close()
    return {"ok": ok, "len": float(np.mean(lengths)), "wall": steps / wall, "cpu": steps / cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="robosuite-lift")
    ap.add_argument("--episodes", type=int, default=10, help="expert episodes per mode/level")
    ap.add_argument("--levels", default="all", help="comma-separated level names or 'all'")
    ap.add_argument("--random-steps", type=int, default=1000)
    args = ap.parse_args()

    from benchmark.registry import get_task

    task = get_task(args.task)
    spec = task.spec
    env, make_wall, make_cpu = _timed(task.make_env)
    _, make2_wall, make2_cpu = _timed(task.make_env)
    env.reset(seed=0)
    _, reset_wall, reset_cpu = _timed(lambda: [env.reset(seed=s) for s in range(50)])
    print(f"{spec.id}: make (first, incl. robosuite import) {make_wall:.2f} s wall / "
          f"{make_cpu:.2f} s cpu; make (later) {make2_wall:.2f} / {make2_cpu:.2f} s; "
          f"reset {1000 * reset_wall / 50:.1f} ms wall / {1000 * reset_cpu / 50:.1f} ms cpu")
    wall, cpu = random_speed(task, args.random_steps)
    print(f"random actions: {wall:.0f} env steps/s wall, {cpu:.0f} per cpu-second")
    names = ([p.name for p in spec.perturbations] if args.levels == "all"
             else [n.strip() for n in args.levels.split(",")])
    print(f"\n{'level':16s} " + " ".join(f"{m:>8s}" for m in spec.modes)
          + f" {'mean len':>9s} {'steps/s':>8s} {'/cpu-s':>7s}")
    for name in names:
        r = expert_level(task, name, args.episodes)
        cells = " ".join(f"{r['ok'][m]:>5d}/{args.episodes:<2d}" for m in spec.modes)
        print(f"{name:16s} {cells} {r['len']:9.1f} {r['wall']:8.0f} {r['cpu']:7.0f}")


if __name__ == "__main__":
    main()
