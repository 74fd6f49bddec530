"""BC on ``avoid``: one pretrained diffusion policy evaluated under several samplers.

Pretrains the shared diffusion backbone once (the runner's seeding, so at the ``small`` budget
it is the checkpoint ``bench evaluate --method bc --task avoid`` trains), caches it, and
evaluates the same weights with :func:`benchmark.rollout.evaluate_policy` on the same
evaluation seeds (the runner's evaluation stream is re-seeded before every variant):

* ``ddim10 eta0``: DDIM, 10 trailing steps, eta = 0, fresh noise per decision (the default
  before ``pretrained_sampler``; ``-o pretrained_sampler=ddim``);
* ``ddim10 eta1 std>=0.1``: the policy's ``deterministic=False`` path (DPPO's clip of the
  per-step std at ``min_sampling_std = 0.1``); ``std>=0``: the true eta = 1 variance;
* ``ddpm20``: all 20 training steps with eta = 1 (DDIM with eta = 1 over the full step
  sequence is DDPM ancestral sampling with the posterior variance): what ``bc`` evaluates
  with now (``DiffusionConfig.pretrained_sampler = "ddpm"``);
* ``act_steps N``: N of the 8 actions of each chunk executed per decision;
* ``no x0 clip``: the predicted clean chunk not clipped to [-1, 1] while sampling (the
  clip is a sampling-time setting; training never applies it);
* ``noise/episode``: one initial noise drawn per episode (from its reset seed) and reused
  at every decision of that episode.

Optionally a training-side variant (``--train-variant``) is pretrained at the same number
of steps and evaluated with DDIM (variant a) and one noise per episode.

    nice -n 5 python benchmarks/bc_sampling.py --episodes 1000  # small tier: 32000 steps
    nice -n 5 python benchmarks/bc_sampling.py --episodes 1000 --steps 8000 --variants 0,4,8,11
    python benchmarks/bc_sampling.py --task robosuite-lift --variants 0,4  # another task
    nice -n 5 python benchmarks/bc_sampling.py --episodes 1000 --variants none \
        --train-variant lr=1e-3

``--variants`` takes indices into :func:`sampler_variants` (``--list`` prints them). The
checkpoint cache is keyed by (tier, seed, steps, backbone config), so re-running with other
variants skips training. Runtime on one CPU thread: ~55-170 s per 8000 pretrain steps,
5-25 s per variant at 1000 episodes.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

# first, before numpy: `import benchmark` pins numpy's BLAS kernel and threads
import benchmark  # noqa: F401

# isort: split
import numpy as np


class TaskView:
    """A task whose spec has another ``act_steps`` and whose envs report their resets.

    ``evaluate_policy`` builds its envs through ``task.make_env`` and chunks them with
    ``task.spec.chunk.act_steps``; this view overrides both without touching the task.
    """

    def __init__(self, task: Any, act_steps: int, registry: list | None = None) -> None:
        self._task = task
        self.spec = dataclasses.replace(
            task.spec, chunk=dataclasses.replace(task.spec.chunk, act_steps=act_steps))
        self.registry = registry

    def make_env(self, perturbation: Any = None, **kwargs: Any) -> Any:
        env = self._task.make_env(perturbation, **kwargs)
        if self.registry is not None:
            env = ResetTracker(env)
            self.registry.append(env)
        return env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


def _reset_tracker_cls() -> type:
    import gymnasium as gym

    class _ResetTracker(gym.Wrapper):
        """Records each episode's reset seed and whether the episode is running."""

        def __init__(self, env: gym.Env) -> None:
            super().__init__(env)
            self.alive = False
            self.seed: int | None = None
            self.last_obs: np.ndarray | None = None

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            obs, info = self.env.reset(seed=seed, options=options)
            self.alive, self.seed, self.last_obs = True, seed, np.asarray(obs)
            return obs, info

        def step(self, action):
            obs, r, term, trunc, info = self.env.step(action)
            self.last_obs = np.asarray(obs)
            if term or trunc:
                self.alive = False
            return obs, r, term, trunc, info

    return _ResetTracker


def ResetTracker(env: Any) -> Any:  # noqa: N802 - a class built lazily (gymnasium import)
    return _reset_tracker_cls()(env)


class SamplerPolicy:
    """The pretrained policy with another sampler / act_steps / noise scheme.

    Args:
        base: The pretrained :class:`~baselines.common.policy.DiffusionPolicy`.
        ddim_steps: DDIM steps (20 = every training step).
        eta: DDIM eta (0 = deterministic chain).
        min_std: Lower clip of the per-step std when eta > 0.
        act_steps: Actions executed per decision.
        registry: Envs of the evaluation (with ``noise_per_episode``).
        noise_per_episode: Reuse one initial noise per episode (drawn from its reset seed).
        x0_clip: Clip of the predicted clean chunk (the config's ``denoised_clip_value``;
            None disables it). A sampling-time setting: training never clips.
    """

    def __init__(self, base: Any, ddim_steps: int = 10, eta: float = 0.0,
                 min_std: float = 0.1, act_steps: int = 4, registry: list | None = None,
                 noise_per_episode: bool = False, x0_clip: float | None = 1.0) -> None:
        import torch

        from baselines.common.diffusion import Diffusion

        self.base = base
        cfg = dataclasses.replace(base.model.cfg, ddim_steps=ddim_steps,
                                  denoised_clip_value=x0_clip)
        if cfg == base.model.cfg:
            self.model = base.model
        else:
            self.model = Diffusion(base.obs_dim, base.horizon, base.act_dim, cfg)
            self.model.actor.load_state_dict(base.model.actor.state_dict())
            self.model.eval()
        self.eta, self.min_std, self.act_steps = eta, min_std, act_steps
        self.registry = registry
        self.noise_per_episode = noise_per_episode
        self._noise: dict[int, torch.Tensor] = {}

    def _initial_noise(self, obs: np.ndarray) -> Any:
        import torch

        if not self.noise_per_episode:
            return torch.randn(len(obs), self.model.flat_dim)
        alive = [e for e in self.registry if e.alive]
        if len(alive) != len(obs) or not all(
                np.allclose(e.last_obs, o) for e, o in zip(alive, obs, strict=True)):
            raise RuntimeError("could not match observations to episodes")
        rows = []
        for env in alive:
            if env.seed not in self._noise:
                gen = torch.Generator().manual_seed(int(env.seed))
                self._noise[env.seed] = torch.randn(self.model.flat_dim, generator=gen)
            rows.append(self._noise[env.seed])
        return torch.stack(rows)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        import torch

        with torch.no_grad():
            cond = self.base.normalize_obs(obs)
            x0 = self._initial_noise(obs)
            x, _ = self.model.sample(cond, x0, deterministic=self.eta == 0.0, eta=self.eta,
                                     min_sampling_std=self.min_std)
        chunks = x.cpu().numpy().reshape(-1, self.base.horizon, self.base.act_dim)
        actions = self.base.act_norm.unnormalize(chunks[:, : self.act_steps])
        return np.clip(actions, -1.0, 1.0).astype(np.float32)


def pretrained(task: Any, tier: str, steps: int, seed: int, overrides: dict[str, Any],
               cache: Path) -> Any:
    """Train (or load from ``cache``) the BC policy; the runner's seeding and budget."""
    from baselines.common.config import DiffusionConfig
    from baselines.common.policy import DiffusionPolicy
    from baselines.common.pretrain import pretrain_policy
    from benchmark.datasets import ensure_dataset
    from benchmark.seeding import seed_everything
    from benchmark.spec import config_hash

    budget = task.spec.budget(tier)
    from benchmark.options import apply_options

    cfg = apply_options({"diffusion": DiffusionConfig()}, overrides)[0]["diffusion"]
    folder = cache / f"{task.spec.id}-{tier}-s{seed}-{steps}-{config_hash(cfg)}"
    if (folder / "policy.json").exists():
        return DiffusionPolicy.load(folder), 0.0
    dataset = ensure_dataset(task).subset(budget.n_demos)
    seed_everything(seed)
    t0 = time.perf_counter()
    policy = pretrain_policy(dataset.observations, dataset.actions,
                             horizon=task.spec.chunk.horizon, act_steps=task.spec.chunk.act_steps,
                             cfg=cfg, steps=steps, batch_size=budget.batch_size, seed=seed)
    dt = time.perf_counter() - t0
    policy.save(folder)
    return policy, dt


def evaluate(policy: Any, task: Any, n_episodes: int, n_envs: int) -> dict[str, Any]:
    """Success, mode count and mode entropy on the nominal level (runner's eval seeding)."""
    from benchmark import metrics
    from benchmark.rollout import evaluate_policy
    from benchmark.seeding import EVAL_BASE, seed_everything

    level = task.spec.perturbation("nominal")
    seed_everything(EVAL_BASE % 2**31)  # as runner._evaluate_levels for level index 0
    recs = evaluate_policy(policy, task, level, 0, n_episodes, n_envs)
    dist = metrics.mode_distribution([r.mode for r in recs], [r.success for r in recs])
    return {
        "success": float(np.mean([r.success for r in recs])),
        "modes": metrics.mode_count(dist),
        "entropy": metrics.mode_entropy(dist, len(task.spec.modes)),
        "distinct": len(dist),
    }


def sampler_variants(task: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name, SamplerPolicy kwargs + act_steps + noise_per_episode) of each variant."""
    return [
        ("(a) ddim10 eta0", {}),
        ("(b) ddim10 eta1 std>=0.1 [det=False]", {"eta": 1.0, "min_std": 0.1}),
        ("(b') ddim10 eta1 std>=0 (true)", {"eta": 1.0, "min_std": 0.0}),
        ("ddim20 eta0", {"ddim_steps": 20}),
        ("(c) ddpm20 eta1 std>=0 (true) [bc]", {"ddim_steps": 20, "eta": 1.0,
                                                 "min_std": 0.0}),
        ("(c') ddpm20 eta1 std>=0.1", {"ddim_steps": 20, "eta": 1.0, "min_std": 0.1}),
        ("(d) act_steps 8", {"act_steps": 8}),
        ("act_steps 2", {"act_steps": 2}),
        ("act_steps 1", {"act_steps": 1}),
        ("ddim10 eta0 no x0 clip", {"x0_clip": None}),
        ("ddpm20 eta1 std>=0 no x0 clip", {"ddim_steps": 20, "eta": 1.0, "min_std": 0.0,
                                           "x0_clip": None}),
        ("ddpm20 eta1 std>=0 + act_steps 1", {"ddim_steps": 20, "eta": 1.0, "min_std": 0.0,
                                              "act_steps": 1}),
        ("(e) noise/episode", {"noise_per_episode": True}),
        ("(e) noise/episode + act_steps 8", {"noise_per_episode": True, "act_steps": 8}),
        ("noise/episode + ddpm20 eta1", {"noise_per_episode": True, "ddim_steps": 20,
                                         "eta": 1.0, "min_std": 0.0}),
    ]


def run_variant(base: Any, task: Any, kw: dict[str, Any], n_episodes: int,
                n_envs: int) -> dict[str, Any]:
    kw = dict(kw)
    act_steps = kw.pop("act_steps", task.spec.chunk.act_steps)
    registry: list | None = [] if kw.get("noise_per_episode") else None
    view = TaskView(task, act_steps, registry)
    policy = SamplerPolicy(base, act_steps=act_steps, registry=registry, **kw)
    return evaluate(policy, view, n_episodes, n_envs)


def _parse_override(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="avoid")
    ap.add_argument("--tier", default="small", help="budget (demos, batch, eval episodes)")
    ap.add_argument("--steps", type=int, default=None, help="pretrain steps (default: tier's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=None, help="default: the tier's")
    ap.add_argument("--variants", default="all",
                    help="comma-separated indices into the sampler variants, or 'all'/'none'")
    ap.add_argument("--train-variant", action="append", default=[],
                    help="backbone override key=value, pretrained and evaluated with the "
                         "default sampler (repeatable; each is a separate run)")
    ap.add_argument("--list", action="store_true", help="print the sampler variants and exit")
    ap.add_argument("--cache", default=None, help="checkpoint folder (default: "
                    "<MODEBENCH_CACHE>/bc_sampling)")
    args = ap.parse_args()

    import torch

    from benchmark.paths import cache_root
    from benchmark.registry import get_task

    torch.set_num_threads(1)
    task = get_task(args.task)
    budget = task.spec.budget(args.tier)
    steps = args.steps or budget.pretrain_steps
    n_episodes = args.episodes or budget.eval_episodes
    cache = Path(args.cache) if args.cache else cache_root() / "bc_sampling"
    print(f"task {task.spec.id}, tier {args.tier}: {budget.n_demos} demos, {steps} pretrain "
          f"steps, batch {budget.batch_size}, seed {args.seed}, {n_episodes} eval episodes, "
          f"{budget.n_envs} envs, torch threads 1", flush=True)
    head = f"{'variant':<40}{'success':>8}{'modes':>7}{'entropy':>9}{'labels':>8}{'sec':>6}"

    variants = sampler_variants(task)
    if args.list:
        for i, (name, kw) in enumerate(variants):
            print(f"{i:>3}  {name:<40}{kw}")
        return
    if args.variants == "all":
        chosen = variants
    elif args.variants == "none":
        chosen = []
    else:
        chosen = [variants[int(i)] for i in args.variants.split(",")]
    if chosen:
        base, dt = pretrained(task, args.tier, steps, args.seed, {}, cache)
        print(f"pretrained in {dt:.0f} s" if dt else "pretrained policy loaded from cache")
        print(head, flush=True)
        for name, kw in chosen:
            t0 = time.perf_counter()
            r = run_variant(base, task, kw, n_episodes, budget.n_envs)
            print(f"{name:<40}{r['success']:>8.2f}{r['modes']:>7}{r['entropy']:>9.3f}"
                  f"{r['distinct']:>8}{time.perf_counter() - t0:>6.0f}", flush=True)
    if args.train_variant:
        print(head, flush=True)
    for text in ([""] if args.train_variant else []) + args.train_variant:
        key, value = _parse_override(text)
        if key == "lr":
            key = "learning_rate"
        overrides = {key: value} if key else {}
        pol, dt = pretrained(task, args.tier, steps, args.seed, overrides, cache)
        label = f"{key}={value}" if key else "default"
        for name, kw in (("ddim10 eta0", {}), ("noise/episode", {"noise_per_episode": True})):
            r = run_variant(pol, task, kw, n_episodes, budget.n_envs)
            print(f"{f'{label} {steps} st, ' + name:<40}{r['success']:>8.2f}"
                  f"{r['modes']:>7}{r['entropy']:>9.3f}{r['distinct']:>8}{dt:>6.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
