"""The anymal task's own figures: physics and env speed, expert success and mode shares.

Measures, on one core:

* raw MuJoCo physics steps/s of the compiled model (robot standing, contacts active);
* env steps/s with zero actions and with the scripted expert in the loop;
* the expert's success per mode and the mode shares of its successful episodes at every
  perturbation level of the spec (or the levels given), over evaluation seeds;
* with ``--routes``: how early the two routes part, the mean lateral distance between the
  left and the right demonstrations' bases at steps 20-60 (and each route's spread), and how
  far from the gate centre they cross, for the expert's commit point (or another one given:
  ``--commit-point 0,0 --k-side 2`` is anymal-v1's expert, which aimed at the gate from the
  start).

    python benchmarks/anymal_task.py --episodes 40
    python benchmarks/anymal_task.py --episodes 20 --levels nominal,slope_5deg
    python benchmarks/anymal_task.py --routes --levels none
    python benchmarks/anymal_task.py --routes --commit-point 0,0 --k-side 2 --levels none
    MENAGERIE_ROOT=~/mujoco_menagerie python benchmarks/anymal_task.py --task anymal-menagerie
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np


def physics_speed(task, n_steps: int = 20_000) -> float:
    """Raw ``mj_step`` calls per second on the nominal model, robot standing."""
    import mujoco

    env = task.make_env().unwrapped
    env.reset(seed=0)
    t0 = time.perf_counter()
    mujoco.mj_step(env.model, env.data, nstep=n_steps)
    return n_steps / (time.perf_counter() - t0)


def env_speed(task, n_steps: int = 2_000) -> float:
    """Env steps per second with zero actions (the nominal stance), resets included."""
    env = task.make_env()
    env.reset(seed=0)
    a = np.zeros(task.spec.act_dim, dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(n_steps):
        _, _, te, tr, _ = env.step(a)
        if te or tr:
            env.reset()
    return n_steps / (time.perf_counter() - t0)


def expert_at_level(task, level_index: int, level, n_episodes: int) -> dict:
    """Expert success per mode, mode shares, episode length and env steps/s at one level."""
    from benchmark.seeding import eval_seed
    from benchmark.task import run_expert_episode

    spec = task.spec
    env = task.make_env(level)
    ok = Counter()
    tried = Counter()
    labels = Counter()
    lengths = []
    steps = 0
    t0 = time.perf_counter()
    for e in range(n_episodes):
        mode = spec.modes[e % len(spec.modes)]
        obs, _ = env.reset(seed=eval_seed(level_index, e))
        expert = task.make_expert(env, mode, np.random.default_rng([e, 0xB3]))
        length, info = run_expert_episode(env, expert, obs, spec.max_episode_steps)
        steps += length
        lengths.append(length)
        tried[mode] += 1
        if info.get("success"):
            labels[info["mode"]] += 1
            ok[mode] += info["mode"] == mode
    dt = time.perf_counter() - t0
    n_ok = sum(labels.values())
    return {
        "success": {m: ok[m] / max(tried[m], 1) for m in spec.modes},
        "shares": {m: labels[m] / n_ok for m in spec.modes} if n_ok else {},
        "length": float(np.mean(lengths)),
        "steps_per_s": steps / dt,
    }


def route_separation(task, n_episodes: int, steps: tuple[int, ...] = (20, 30, 40, 60),
                     **expert_kwargs) -> str:
    """When do the routes part? Lateral base position of nominal expert episodes per step.

    Episode ``e`` demonstrates mode ``e % 2`` from reset seed ``900 + e`` (the diagnosis
    scripts' seeds). Returns one line: success per mode, gate error of the successes per
    mode, and at each step of ``steps`` the mean y of the left episodes minus that of the
    right ones, with each route's standard deviation.
    """
    from tasks.anymal.expert import AnymalExpert

    spec = task.spec
    env = task.make_env()
    ys: dict[str, list[np.ndarray]] = {m: [] for m in spec.modes}
    ok = Counter()
    gate_error: dict[str, list[float]] = {m: [] for m in spec.modes}
    for e in range(n_episodes):
        mode = spec.modes[e % len(spec.modes)]
        obs, _ = env.reset(seed=900 + e)
        expert = AnymalExpert(env.unwrapped, mode, np.random.default_rng(e), **expert_kwargs)
        y = np.full(max(steps), np.nan)
        info: dict = {}
        for t in range(spec.max_episode_steps):
            obs, _, term, trunc, info = env.step(expert(obs))
            if t < len(y):
                y[t] = env.unwrapped.base_position()[1]
            if term or trunc:
                break
        ys[mode].append(y)
        if info.get("success") and info["mode"] == mode:
            ok[mode] += 1
            gate_error[mode].append(info["gate_error"])
    left, right = (np.array(ys[m]) for m in spec.modes)
    parts = [f"ok left {ok['left']}/{len(left)} right {ok['right']}/{len(right)}",
             "gate error left {:.3f} right {:.3f} m".format(
                 *(np.mean(gate_error[m]) if gate_error[m] else np.nan for m in spec.modes))]
    for k in steps:
        lk, rk = left[:, k - 1], right[:, k - 1]
        parts.append(f"step {k}: {np.nanmean(lk) - np.nanmean(rk):.2f} m "
                     f"(sd {np.nanstd(lk):.2f} / {np.nanstd(rk):.2f})")
    return "  ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="anymal",
                    help="anymal, anymal-v3 or anymal-menagerie (needs $MENAGERIE_ROOT)")
    ap.add_argument("--episodes", type=int, default=40, help="expert episodes per level")
    ap.add_argument("--levels", default="all",
                    help="comma-separated level names, 'all' or 'none'")
    ap.add_argument("--routes", action="store_true", help="also: when do the routes part?")
    ap.add_argument("--commit-point", default=None, help="x,y of the expert's commit point")
    ap.add_argument("--k-side", type=float, default=None, help="the expert's side-step gain")
    args = ap.parse_args()

    if args.task.startswith("anymal-menagerie"):
        # resolved here too, so this works before the registry lists the menagerie family
        from tasks.anymal import menagerie_tasks

        (task,) = menagerie_tasks()
    else:
        from benchmark.registry import get_task

        task = get_task(args.task)
    spec = task.spec
    print(f"{spec.id}  spec {spec.hash()}  model {spec.extra['model']}")
    print(f"physics: {physics_speed(task):,.0f} mj_step/s")
    print(f"env (zero actions): {env_speed(task):,.0f} steps/s")
    if args.routes:
        kwargs: dict = {}
        if args.commit_point:
            kwargs["commit_point"] = tuple(float(v) for v in args.commit_point.split(","))
        if args.k_side is not None:
            kwargs["k_side"] = args.k_side
        print(f"routes ({kwargs or 'the expert as shipped'}): "
              f"{route_separation(task, args.episodes, **kwargs)}", flush=True)
    if args.levels == "none":
        return
    names = [p.name for p in spec.perturbations] if args.levels == "all" else [
        n.strip() for n in args.levels.split(",")]
    print(f"{'level':16s} " + " ".join(f"{'ok ' + m:>9s}" for m in spec.modes)
          + f" {'shares':>22s} {'len':>5s} {'steps/s':>8s}")
    for i, level in enumerate(spec.perturbations):
        if level.name not in names:
            continue
        r = expert_at_level(task, i, level, args.episodes)
        shares = " ".join(f"{m}={r['shares'].get(m, 0):.2f}" for m in spec.modes)
        print(f"{level.name:16s} " + " ".join(f"{r['success'][m]:9.2f}" for m in spec.modes)
              + f" {shares:>22s} {r['length']:5.0f} {r['steps_per_s']:8.0f}", flush=True)


if __name__ == "__main__":
    main()
