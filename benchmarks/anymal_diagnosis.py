"""Where do ANYmal BC episodes fail? Closed-loop episodes classified by how they end.

Pretrains the anymal diffusion policy (the bc backbone, the small tier's demonstrations and
batch size) for each ``--steps`` value, runs episodes from fixed reset seeds for each
sampler / executed-steps variant (and the scripted expert from the same seeds, for
reference), and classifies each episode: ``success``, ``fell``, ``missed gate`` (crossed the
line outside both gates, with the distance to the nearest gate centre), ``timeout`` (with
how far it got). Also reports the forward speed over the first 2 s.

    python benchmarks/anymal_diagnosis.py --steps 8000,24000 --variants ddpm:4,ddpm:2 --threads 2
    python benchmarks/anymal_diagnosis.py --only-mode left --cond-mlp 128,128 --threads 2
    python benchmarks/anymal_diagnosis.py --cond-mlp 128,128 --routes --threads 2
    python benchmarks/anymal_diagnosis.py --switches --threads 2

``--switches`` labels every executed chunk of a closed-loop episode with the route whose
mean demonstrated actions at that step it is nearer (normalised), for the policy and for
held-out demonstrations, and counts the changes of label per episode: a policy that commits
to a route changes it as rarely as the demonstrations do.
"""

from __future__ import annotations

import argparse
from collections import Counter

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np
from _pretraining import add_pretraining_args, checkpoints, expert_actor, policy_actor, variants

from benchmark.seeding import seed_everything


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
                     "gate_error": info["gate_error"],
                     "between": kind == "missed gate" and bool(
                         env.unwrapped.gates[1] < env.unwrapped.base_position()[1]
                         < env.unwrapped.gates[0])})
    return rows


def route_means(policy, task, n_demos: int, steps: int) -> dict[str, np.ndarray]:
    """Each route's mean normalised action at every step, (steps, act_dim), over the first
    ``n_demos`` demonstrations that last ``steps`` steps or more."""
    from benchmark.datasets import ensure_dataset

    ds = ensure_dataset(task).subset(n_demos)
    return {m: np.mean([policy.act_norm.normalize(a[:steps]) for a, mode
                        in zip(ds.actions, ds.modes, strict=True)
                        if mode == m and len(a) >= steps], axis=0) for m in task.spec.modes}


def chunk_routes(chunks: list[np.ndarray], means: dict[str, np.ndarray], policy) -> str:
    """One letter per chunk (the route's initial): the route whose mean actions over the
    chunk's steps are nearer; ``chunks`` are consecutive executed chunks from step 0."""
    out, t = [], 0
    steps = min(len(v) for v in means.values())
    for c in chunks:
        if t + len(c) > steps:
            break
        x = policy.act_norm.normalize(c).ravel()
        out.append(min(means, key=lambda m: np.linalg.norm(x - means[m][t:t + len(c)].ravel()))[0])
        t += len(c)
    return "".join(out)


def switch_counts(env, policy, task, n: int, steps: int = 200) -> tuple[list[int], list[int]]:
    """Route changes between consecutive chunks: ``n`` closed-loop policy episodes (run by
    :func:`run_episodes`), and ``n`` demonstrations held out of the small tier's (cut into the
    policy's executed steps)."""
    from benchmark.datasets import ensure_dataset

    n_demos = task.spec.budget("small").n_demos
    means = route_means(policy, task, n_demos, steps)
    chunks: dict[int, list[np.ndarray]] = {}
    act = policy_actor(policy)

    def recording(obs, episode: int, state: dict):
        chunk = act(obs, episode, state)
        chunks.setdefault(episode, []).append(chunk)
        return chunk

    run_episodes(env, recording, n, task.spec.max_episode_steps)
    h = policy.act_steps
    ds = ensure_dataset(task)
    demos = [[a[t:t + h] for t in range(0, len(a) - h + 1, h)]
             for a in ds.actions[n_demos:n_demos + n]]
    return ([_changes(chunk_routes(chunks[i], means, policy)) for i in range(n)],
            [_changes(chunk_routes(c, means, policy)) for c in demos])


def _changes(labels: str) -> int:
    """How often consecutive labels differ."""
    return sum(a != b for a, b in zip(labels, labels[1:], strict=False))


def summarise(name: str, rows: list[dict]) -> str:
    """One line: outcome counts, modes of successes, speed, what the failures looked like."""
    kinds = Counter(r["kind"] for r in rows)
    modes = Counter(r["mode"] for r in rows if r["kind"] == "success")
    missed = [r["gate_error"] for r in rows if r["kind"] == "missed gate"]
    timeouts = [r["x"] for r in rows if r["kind"] == "timeout"]
    return (f"{name:>24}: success {kinds['success']}/{len(rows)} {dict(modes)}  fell "
            f"{kinds['fell']}  missed gate {len(missed)} ({sum(r['between'] for r in rows)} "
            f"between the gates; median gate error "
            f"{np.median(missed) if missed else float('nan'):.2f} m)  timeout {len(timeouts)} "
            f"(median x {np.median(timeouts) if timeouts else float('nan'):.2f} m)  speed "
            f"{np.mean([r['speed'] for r in rows]):.2f} m/s")


def route_fidelity(policy, task, n_demos: int, times: tuple[int, ...] = (5, 15, 30, 50),
                   states: int = 50, samples: int = 8, seed: int = 0) -> list[str]:
    """Open-loop check of the two routes at demonstration states (no closed loop).

    At step ``t`` of ``states`` left and ``states`` right demonstrations (the first
    ``n_demos``), draws ``samples`` chunks per state with the policy's sampler and compares
    their executed steps (normalised) with the mean of each route's demonstrated actions
    at ``t``: the share nearer the state's own route, and the share farther from both means
    than any demonstration is from its own (off the data's support: a bridge or a blur).
    """
    import torch

    from benchmark.datasets import ensure_dataset

    ds = ensure_dataset(task).subset(n_demos)
    h = policy.act_steps  # the executed steps: what act_from_noise returns
    torch.manual_seed(seed)
    lines = []
    for t in times:
        chunks = {m: np.array([policy.act_norm.normalize(a[t:t + h]).ravel()
                               for a, mode in zip(ds.actions, ds.modes, strict=True)
                               if mode == m and len(a) >= t + h]) for m in ("left", "right")}
        means = {m: c.mean(0) for m, c in chunks.items()}
        spread = max(np.linalg.norm(c - means[m], axis=1).max() for m, c in chunks.items())
        for own, other in (("left", "right"), ("right", "left")):
            idx = [i for i, m in enumerate(ds.modes) if m == own][:states]
            obs = np.repeat(np.array([ds.observations[i][t] for i in idx], dtype=np.float32),
                            samples, axis=0)
            x = policy.act_from_noise(policy.normalize_obs(obs), policy.initial_noise(len(obs)))
            got = policy.act_norm.normalize(x).reshape(len(obs), -1)
            d_own = np.linalg.norm(got - means[own], axis=1)
            d_other = np.linalg.norm(got - means[other], axis=1)
            off = np.minimum(d_own, d_other) > spread
            lines.append(f"step {t:3d}, {own:>5} states: nearer the {own} route "
                         f"{np.mean(d_own < d_other):.2f}, off-support {np.mean(off):.2f}")
    return lines


def main() -> None:
    """Parse arguments, run the expert, pretrain each budget, print one line per variant."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pretraining_args(ap, steps="8000")
    ap.add_argument("--task", default="anymal")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--routes", action="store_true",
                    help="also sample chunks at demonstration states: which route, on support?")
    ap.add_argument("--switches", action="store_true",
                    help="also count route changes between chunks (policy vs demonstrations)")
    args = ap.parse_args()

    from benchmark.registry import get_task

    task = get_task(args.task)
    spec = task.spec
    env = task.make_env()
    print(summarise("expert", run_episodes(env, expert_actor(task, env), args.episodes,
                                           spec.max_episode_steps)), flush=True)
    for name, policy in checkpoints(task, args):
        for variant in variants(policy, args):
            rows = run_episodes(env, policy_actor(policy), args.episodes,
                                spec.max_episode_steps)
            print(summarise(f"{name}, {variant}", rows), flush=True)
            if args.routes:
                for line in route_fidelity(policy, task, spec.budget("small").n_demos,
                                           seed=args.seed):
                    print(f"{'':>26}{line}", flush=True)
            if args.switches:
                seed_everything(args.seed)
                got, demos = switch_counts(env, policy, task, args.episodes)
                print(f"{'':>26}route changes per episode (first 200 steps): policy mean "
                      f"{np.mean(got):.1f} (none in {got.count(0)}/{len(got)}), held-out "
                      f"demonstrations {np.mean(demos):.1f} (none in {demos.count(0)}/"
                      f"{len(demos)})", flush=True)


if __name__ == "__main__":
    main()
