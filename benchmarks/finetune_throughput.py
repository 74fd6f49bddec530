"""Fine-tuning throughput of the built-in RL methods, and where the time goes.

For each requested task (default ``avoid``), tier (default: smoke and small) and method (dppo,
entropy-rl, dsrl, res, bmd, res-bmd, dppo-bmd; dppo-family methods with their task-family
defaults), pretrains a policy briefly (throughput does not depend on how good it is),
then runs ``--iterations`` fine-tuning iterations at the tier's sizes (n_envs, decisions per
iteration) and reports environment steps per second and the split of wall time between
env stepping, denoising (sampling the DDIM chain, BMD's noise-region draws included) and
the update (GAE, PPO epochs, BMD's discriminator). BMD's one-off mode discovery is timed
separately.

    python benchmarks/finetune_throughput.py
    python benchmarks/finetune_throughput.py --tiers small --iterations 10 --methods dppo
    python benchmarks/finetune_throughput.py --tasks avoid,robosuite-lift,anymal --tiers small \
        --methods dppo --iterations 3

``arith_ratio`` is the update's denoiser arithmetic per decision over the rollout's, for the
PPO-trained methods (0 for the steered ones, bmd included: their update trains the noise
policy, not the denoiser): each PPO epoch runs every decision's K' fine-tuned steps
forward and backward (~3 forward passes each), the rollout samples the chain once. With DPPO's
D3IL avoid config (10 epochs, K' = 10, the 20-step DDPM chain) that is 3 x 10 x 10 / 20 =
15: the update's share of the denoiser's time cannot fall below 15 / 16 = 94 % at DPPO's
settings, so the update's share of the wall can only fall as the env's cost grows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from tempfile import TemporaryDirectory


def measure(method_id: str, task, tier: str, iterations: int, pretrain_steps: int) -> dict:
    """Time ``iterations`` fine-tuning iterations of ``method_id`` at ``tier``'s sizes."""
    import dataclasses

    import torch

    from baselines.common.pretrain import pretrain_policy
    from benchmark.adapter import RunContext
    from benchmark.datasets import ensure_dataset
    from benchmark.options import configure_method
    from benchmark.progress import SILENT
    from benchmark.registry import get_method_class
    from benchmark.rollout import make_training_vector_env
    from benchmark.spec import TierBudget

    spec = task.spec
    budget: TierBudget = spec.budget(tier)
    ds = ensure_dataset(task).subset(min(budget.n_demos, 64))
    method, _ = configure_method(get_method_class(method_id)(), method_id, {}, spec)
    policy = pretrain_policy(ds.observations, ds.actions, horizon=spec.chunk.horizon,
                             act_steps=spec.chunk.act_steps, cfg=method.diffusion,
                             steps=pretrain_steps, batch_size=64, seed=0)
    # same sizes as the tier, fewer iterations
    short = dataclasses.replace(budget, finetune_iterations=iterations)
    tiers = dict(spec.tiers) | {tier: short}
    task_short = type(task)(dataclasses.replace(spec, tiers=tiers))
    with TemporaryDirectory() as tmp:
        ctx = RunContext(
            task=task_short, tier=tier, seed=0, device="cpu", work_dir=Path(tmp),
            progress=SILENT,
            make_vector_env=lambda n, seed, perturbation=None: make_training_vector_env(
                task_short, n, seed, perturbation))
        torch.manual_seed(0)
        t0 = time.perf_counter()
        method.finetune(policy, ctx)
        wall = time.perf_counter() - t0
    tr = method.last_trainer
    loop = sum(tr.timing.values())
    arith = float("nan")
    if hasattr(getattr(method, "finetune_config", None), "update_epochs"):  # PPO-trained
        model = tr.policy.model  # the trainer set the sampled chain (all T steps for "ddpm")
        arith = (3 * method.finetune_config.update_epochs * model.ft_denoising_steps
                 / model.cfg.ddim_steps)
    return {
        "task": spec.id, "method": method_id, "tier": tier, "n_envs": budget.n_envs,
        "decisions/iter/env": budget.finetune_steps_per_iter, "iterations": iterations,
        "env_steps": tr.env_steps, "wall_s": wall, "setup_s": wall - loop,
        "env_steps_per_s": tr.env_steps / loop if loop else float("nan"),
        "env_s": tr.timing["env"], "denoise_s": tr.timing["sample"],
        "update_s": tr.timing["update"],
        "s_per_iter": loop / iterations,
        "arith_ratio": arith,
    }


def main() -> None:
    """Parse arguments, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiers", default="smoke,small")
    parser.add_argument("--methods", default="dppo,entropy-rl,dsrl,res,bmd,res-bmd,dppo-bmd")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--pretrain-steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tasks", default="avoid",
                        help="comma-separated task ids (e.g. avoid,robosuite-lift,anymal)")
    args = parser.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    from benchmark.registry import get_task

    torch.set_num_threads(args.threads)
    rows = [measure(m, get_task(name), t, args.iterations, args.pretrain_steps)
            for name in args.tasks.split(",") for t in args.tiers.split(",")
            for m in args.methods.split(",")]
    table = Table(title=f"fine-tuning throughput ({args.iterations} iterations, "
                        f"{args.threads} thread(s))")
    cols = ["task", "method", "tier", "n_envs", "decisions/iter/env", "env_steps",
            "env_steps_per_s", "s_per_iter", "env_s", "denoise_s", "update_s", "setup_s",
            "arith_ratio"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("task", "method", "tier") else "right")
    for r in rows:
        loop = r["env_s"] + r["denoise_s"] + r["update_s"]
        cells = []
        for c in cols:
            v = r[c]
            if c in ("env_s", "denoise_s", "update_s"):
                cells.append(f"{v:.2f} ({100 * v / loop:.0f}%)")
            elif isinstance(v, float):
                cells.append(f"{v:.2f}" if v < 100 else f"{v:.0f}")
            else:
                cells.append(str(v))
        table.add_row(*cells)
    Console(width=170).print(table)
    print("setup_s: outside the iteration loop (vector env creation, actors and critics).")


if __name__ == "__main__":
    main()
