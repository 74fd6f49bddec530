"""Shared by the BC diagnosis scripts: their pretraining options and checkpoint loop.

``kitchen_pretraining.py``, ``robosuite_diagnosis.py`` and ``anymal_diagnosis.py`` all
pretrain a task's ``bc`` backbone at the small tier's batch size for several budgets (or
load a saved checkpoint), then evaluate sampler / executed-steps variants of each.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def add_pretraining_args(ap: argparse.ArgumentParser, steps: str) -> None:
    """The options every script takes: budgets, backbone overrides, threads, seed, save/load."""
    ap.add_argument("--steps", default=steps, help="comma-separated pretraining steps")
    ap.add_argument("--variants", default=None,
                    help="sampler:executed-steps pairs, e.g. ddpm:4,ddim:4,ddpm:8 (default: "
                         "the task's sampler and executed steps)")
    ap.add_argument("--lr", type=float, default=None, help="pretraining learning rate")
    ap.add_argument("--hidden", default=None, help="backbone widths, e.g. 512,512,512")
    ap.add_argument("--residual", action="store_true", help="DPPO's residual MLP blocks")
    ap.add_argument("--cond-mlp", default=None,
                    help="observation-embedding MLP widths (DPPO's cond_mlp_dims), e.g. 128,128; "
                         "'none' for the raw observation")
    ap.add_argument("--horizon", default=None,
                    help="chunk length and executed steps, e.g. 16:8 (default: the task's)")
    ap.add_argument("--only-mode", default=None,
                    help="pretrain on the demonstrations of this mode only (same count)")
    ap.add_argument("--ema", default=None,
                    help="comma-separated EMA decays, all kept from the same pretraining run "
                         "and each evaluated, e.g. 0.995,0.999,0.9995 (default: the "
                         "backbone's ema_decay)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=None, help="write each checkpoint here/<steps>")
    ap.add_argument("--load", type=Path, default=None, help="evaluate this checkpoint instead")


def _widths(text: str) -> tuple[int, ...]:
    return tuple(int(w) for w in text.split(","))


def checkpoints(task: Any, args: argparse.Namespace) -> Iterator[tuple[str, Any]]:
    """``(name, policy)`` per ``--steps`` budget (pretrained now) or the ``--load`` checkpoint.

    The backbone is the one ``bench evaluate --method bc`` uses for the task (its family
    defaults), with ``--lr`` / ``--hidden`` / ``--residual`` / ``--cond-mlp`` / ``--horizon``
    applied; the
    demonstrations are the small tier's (``--only-mode``: the first ``n_demos`` of that mode),
    the batch size the small tier's.
    """
    import torch

    from baselines.common.policy import DiffusionPolicy
    from baselines.common.pretrain import pretrain_policy
    from benchmark.datasets import ensure_dataset
    from benchmark.registry import get_method_class

    torch.set_num_threads(args.threads)
    if args.load:
        yield args.load.name, DiffusionPolicy.load(args.load)
        return
    spec = task.spec
    budget = spec.budget("small")
    cfg = get_method_class("bc")().for_task(spec).diffusion
    if args.lr:
        cfg = dataclasses.replace(cfg, learning_rate=args.lr, min_lr=min(cfg.min_lr, args.lr))
    if args.hidden:
        cfg = dataclasses.replace(cfg, hidden_dims=_widths(args.hidden))
    if args.residual:
        cfg = dataclasses.replace(cfg, residual=True)
    if args.cond_mlp:
        cfg = dataclasses.replace(cfg, cond_mlp_dims=() if args.cond_mlp == "none"
                                  else _widths(args.cond_mlp))
    ds = ensure_dataset(task)
    if args.only_mode:
        if args.only_mode not in spec.modes:
            raise SystemExit(f"--only-mode: {args.only_mode!r} is not one of {spec.modes}")
        keep = [i for i, m in enumerate(ds.modes) if m == args.only_mode][:budget.n_demos]
        obs, acts = [ds.observations[i] for i in keep], [ds.actions[i] for i in keep]
    else:
        ds = ds.subset(budget.n_demos)
        obs, acts = ds.observations, ds.actions
    horizon, act_steps = ((int(v) for v in args.horizon.split(":")) if args.horizon else
                          (spec.chunk.horizon, spec.chunk.act_steps))
    decays = [float(d) for d in args.ema.split(",")] if args.ema else [cfg.ema_decay]
    cfg = dataclasses.replace(cfg, ema_decay=decays[0])
    for steps in (int(s) for s in args.steps.split(",")):
        t0 = time.perf_counter()
        tracks = EmaTracks(decays[1:])
        policy = pretrain_policy(obs, acts, horizon=horizon, act_steps=act_steps, cfg=cfg,
                                 steps=steps, batch_size=budget.batch_size, seed=args.seed,
                                 on_step=tracks.update)
        print(f"pretrained {steps} steps in {time.perf_counter() - t0:.0f} s", flush=True)
        named = [(f"ema {decays[0]}", policy)] + [
            (f"ema {d}", tracks.policy_like(policy, i)) for i, d in enumerate(decays[1:])]
        for ema_name, pol in named:
            several = len(decays) > 1
            if args.save:  # here/<steps> as before; here/<steps>_ema_<decay> with --ema
                pol.save(args.save / (f"{steps}_{ema_name.replace(' ', '_')}" if several
                                      else str(steps)))
            yield f"{steps} steps" + (f" {ema_name}" if several else ""), pol


class EmaTracks:
    """EMAs of the denoiser's weights at extra decays, kept during one pretraining run
    (``pretrain_policy``'s ``on_step``) with the same warm update as the saved EMA."""

    def __init__(self, decays: list[float]) -> None:
        self.decays = decays
        self.copies: list[Any] = []

    def update(self, step: int, module: Any) -> None:
        """Advance every track by one step towards ``module``'s raw weights."""
        from baselines.common.pretrain import update_ema

        if not self.copies:  # parameter lists built once, not on every step
            self.copies = [copy.deepcopy(module) for _ in self.decays]
            self._params = list(module.parameters())
            self._ema_params = [list(ema.parameters()) for ema in self.copies]
        for decay, ema_params in zip(self.decays, self._ema_params, strict=True):
            update_ema(ema_params, self._params, decay, step)

    def policy_like(self, policy: Any, i: int) -> Any:
        """A copy of ``policy`` whose denoiser holds track ``i``'s weights."""
        other = copy.deepcopy(policy)
        other.model.actor.load_state_dict(self.copies[i].state_dict())
        return other


def expert_actor(task: Any, env: Any) -> Callable[[Any, int, dict], list]:
    """``act(obs, episode, state)`` for the task's scripted expert: episode ``i``
    demonstrates mode ``i % n_modes`` with ``np.random.default_rng(i)``; ``state`` (one dict
    per episode) holds the expert made at its first step, after the env's reset."""
    import numpy as np

    modes = task.spec.modes

    def act(obs: Any, episode: int, state: dict) -> list:
        if "expert" not in state:
            state["expert"] = task.make_expert(env, modes[episode % len(modes)],
                                               np.random.default_rng(episode))
        return [state["expert"](obs)]

    return act


def policy_actor(policy: Any) -> Callable[[Any, int, dict], Any]:
    """``act(obs, episode, state)`` for a policy: its next chunk, (act_steps, act_dim)."""
    return lambda obs, episode, state: policy.act(obs[None])[0]


def variants(policy: Any, args: argparse.Namespace) -> Iterator[str]:
    """Set ``policy`` to each ``--variants`` sampler / executed-steps pair in turn (seeding
    torch with ``--seed`` before each) and yield its name; restores the policy after."""
    import torch

    base_cfg, base_steps = policy.model.cfg, policy.act_steps
    pairs = ([(base_cfg.pretrained_sampler, base_steps)] if not args.variants else
             [(v.split(":")[0], int(v.split(":")[1])) for v in args.variants.split(",")])
    try:
        for sampler, executed in pairs:
            policy.model.cfg = dataclasses.replace(base_cfg, pretrained_sampler=sampler)
            policy.act_steps = executed
            torch.manual_seed(args.seed)
            yield f"{sampler} x{executed}"
    finally:
        policy.model.cfg, policy.act_steps = base_cfg, base_steps
