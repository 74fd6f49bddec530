"""Evaluation throughput: env steps/s with the policy in the loop vs random actions.

Both runs step the same chunked envs of one task through ``benchmark.rollout.evaluate_policy``
(the same batching, resets and bookkeeping), once with a trained policy and once with a
policy that returns uniform random chunks, so the ratio isolates the policy's cost.

    python benchmarks/eval_throughput.py --task avoid --method bc --tier smoke --episodes 64
    python benchmarks/eval_throughput.py --task avoid --tier smoke --envs 64 --ceiling 512
    MODEBENCH_CACHE=.modebench python benchmarks/eval_throughput.py --task anymal --tier small \
        --episodes 40 --envs 16,40

``--envs`` takes several batch sizes (``MODEBENCH_EVAL_ENVS`` of the runner): each is measured
with both policies, and every batch size after the first reports how many episodes ended
otherwise (success, mode or length) than at the first: none should, since the built-in
policies draw their evaluation noise per episode; an episode can only move through the last
bits of the network's batched arithmetic. ``MODEBENCH_CACHE`` pointing at the CLI's cache
reuses its seed-0 checkpoint (default: a fresh folder, so the policy is pretrained first).

``--ceiling B`` also times the denoiser alone at batch ``B`` (its own cost per env, with no
rollout overhead at all) and prints the highest ratio any batching could reach with the
same sampler on this CPU: env time per decision / (env time + denoiser passes per decision x
cost per env per pass). Measured 2026-12-02 (one thread, avoid smoke bc): a 3 x 256 pass
costs 61 / 21 / 17 us per env at batch 8 / 64 / 512 (compute-bound from ~64 on), bc's
ancestral sampler runs 20 passes per decision of 4 env steps of ~0.14 ms: ``--ceiling 512``
printed 14.4 us per pass and a ceiling of 0.66, under the issue's 0.8 whatever the
batching; the ratio measured was 0.15 (8 envs) and 0.32 (64 envs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np


class RandomPolicy:
    """Uniform random action chunks, shape (B, act_steps, act_dim)."""

    def __init__(self, act_steps: int, act_dim: int, seed: int = 0) -> None:
        self.shape = (act_steps, act_dim)
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.rng.uniform(-1, 1, size=(len(obs), *self.shape)).astype(np.float32)


def measure(policy, task, n_episodes: int, n_envs: int,
            workers: int = 1) -> tuple[float, int, float, list]:
    """Return (env steps/s, env steps, seconds, episode records) of one evaluation pass."""
    from benchmark.rollout import evaluate_policy

    steps = 0

    def count(n: int) -> None:
        nonlocal steps
        steps += n

    level = task.spec.perturbation("nominal")
    t0 = time.perf_counter()
    records = evaluate_policy(policy, task, level, 0, n_episodes, n_envs, on_step=count,
                              workers=workers)
    dt = time.perf_counter() - t0
    return steps / dt, steps, dt, records


def outcome(record) -> tuple:
    """What a metric reads from an episode: success, mode and length."""
    return record.success, record.mode, record.length


def denoiser_cost_per_env(policy, batch: int, repeats: int = 100) -> float:
    """Seconds per env of one denoiser pass at ``batch`` (a diffusion policy's ``model.actor``
    on random inputs: the arithmetic of one step of the sampler, nothing else)."""
    import torch

    net = policy.model.actor
    x = torch.randn(batch, policy.model.flat_dim)
    cond = torch.randn(batch, policy.obs_dim)
    t = torch.zeros(batch, dtype=torch.long)
    with torch.no_grad():
        for _ in range(10):  # warm-up: allocator and kernels
            net(x, t, cond)
        t0 = time.perf_counter()
        for _ in range(repeats):
            net(x, t, cond)
    return (time.perf_counter() - t0) / repeats / batch


def print_ceiling(policy, spec, batch: int, env_seconds_per_step: float) -> None:
    """Print the policy/random ratio that the sampler's arithmetic alone caps."""
    if not hasattr(policy, "model") or not hasattr(policy.model, "actor"):
        print("ceiling: not a diffusion policy, skipped")
        return
    cfg = policy.model.cfg
    passes = cfg.denoising_steps if policy.uses_ancestral_sampling else cfg.ddim_steps
    per_pass = denoiser_cost_per_env(policy, batch)
    env = env_seconds_per_step * spec.chunk.act_steps
    ceiling = env / (env + passes * per_pass)
    print(f"ceiling at batch {batch}: a denoiser pass {per_pass * 1e6:.1f} us per env, "
          f"{passes} passes per decision of {spec.chunk.act_steps} env steps "
          f"({env * 1e3:.3f} ms of env time): policy/random <= {ceiling:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="avoid")
    ap.add_argument("--method", default="bc")
    ap.add_argument("--tier", default="smoke", help="tier whose budget trains the policy")
    ap.add_argument("--episodes", type=int, default=64)
    ap.add_argument("--envs", default=None,
                    help="batch size(s), comma-separated (default: the tier's n_envs)")
    ap.add_argument("--workers", type=int, default=1,
                    help="also measure the policy with the envs in this many processes")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also profile a policy pass (cProfile) and print its N costliest "
                         "functions by own time")
    ap.add_argument("--ceiling", type=int, default=0, metavar="B",
                    help="also time the denoiser alone at batch B and print the highest "
                         "policy/random ratio its arithmetic allows (diffusion policies)")
    args = ap.parse_args()
    os.environ.setdefault("MODEBENCH_CACHE", tempfile.mkdtemp(prefix="modebench-bench-"))

    import torch

    from benchmark.adapter import RunContext
    from benchmark.datasets import ensure_dataset
    from benchmark.progress import SILENT
    from benchmark.rollout import make_training_vector_env
    from benchmark.runner import EvalRequest, _pretrained, prepare

    torch.set_num_threads(1)
    # the method configured for the task as `bench evaluate` configures it (its backbone
    # for the task's family), so that the checkpoint and its cost are the runner's
    _, task, method = prepare(EvalRequest(method=args.method, task=args.task, tier=args.tier))
    budget = task.spec.budget(args.tier)
    batches = [int(v) for v in args.envs.split(",")] if args.envs else [budget.n_envs]
    n_envs = batches[0]
    dataset = ensure_dataset(task).subset(budget.n_demos)
    ctx = RunContext(task=task, tier=args.tier, seed=0, device="cpu",
                     work_dir=__import__("pathlib").Path(tempfile.mkdtemp()), progress=SILENT,
                     make_vector_env=lambda n, s, p=None: make_training_vector_env(task, n, s, p),
                     dataset=dataset)
    policy, _ = _pretrained(method, dataset, ctx)
    spec = task.spec
    first = None
    for n in batches:
        random_sps, rs, rt, _ = measure(RandomPolicy(spec.chunk.act_steps, spec.act_dim), task,
                                        args.episodes, n)
        policy_sps, ps, pt, records = measure(policy, task, args.episodes, n)
        print(f"task {spec.id}, {args.episodes} episodes, {n} envs, torch threads 1")
        print(f"{'actions':<22}{'env steps':>10}{'seconds':>10}{'steps/s':>12}")
        print(f"{'random':<22}{rs:>10}{rt:>10.2f}{random_sps:>12.0f}")
        print(f"{args.method + ' policy':<22}{ps:>10}{pt:>10.2f}{policy_sps:>12.0f}")
        print(f"ratio policy/random: {policy_sps / random_sps:.3f}")
        if first is None:
            first = records
        else:
            moved = sum(outcome(a) != outcome(b) for a, b in zip(first, records, strict=True))
            print(f"episodes ending otherwise than at {batches[0]} envs: {moved} of "
                  f"{len(records)} (success {np.mean([r.success for r in records]):.3f} vs "
                  f"{np.mean([r.success for r in first]):.3f})")
    if args.workers > 1:
        par_sps, _, pt2, _ = measure(policy, task, args.episodes, n_envs, args.workers)
        print(f"{args.method + f' policy, {args.workers} env procs':<22}{ps:>10}{pt2:>10.2f}"
              f"{par_sps:>12.0f}")
        print(f"ratio {args.workers} env processes / 1: {par_sps / policy_sps:.2f}; "
              f"policy (parallel envs) / random (1 process): {par_sps / random_sps:.3f}")
    if args.ceiling:
        print_ceiling(policy, spec, args.ceiling, rt / rs)
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(measure, policy, task, args.episodes, n_envs)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
