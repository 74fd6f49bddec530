"""Diffusion pretraining on demonstrations (DDPM ε-prediction, AdamW, EMA)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from baselines.common.chunks import make_chunks
from baselines.common.config import DiffusionConfig
from baselines.common.diffusion import Diffusion
from baselines.common.normalizer import MinMaxNormalizer
from baselines.common.policy import DiffusionPolicy
from benchmark.errors import TrainingError
from benchmark.progress import SILENT, Progress


def lr_at(step: int, total: int, cfg: DiffusionConfig) -> float:
    """Linear warm-up then cosine decay from ``learning_rate`` to ``min_lr``."""
    if step < cfg.lr_warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.lr_warmup_steps
    frac = (step - cfg.lr_warmup_steps) / max(total - cfg.lr_warmup_steps, 1)
    return cfg.min_lr + 0.5 * (cfg.learning_rate - cfg.min_lr) * (1 + math.cos(math.pi * frac))


def check_finite(loss: torch.Tensor, what: str, step: int) -> None:
    """Raise :class:`TrainingError` when ``loss`` is NaN or infinite."""
    if not torch.isfinite(loss).all():
        raise TrainingError(
            f"{what}: non-finite loss ({loss.item()}) at step {step}. Training diverged; "
            "lower the learning rate or check the data for NaN/inf values.")


def normalized_chunks(observations: list[np.ndarray], actions: list[np.ndarray], horizon: int,
                      device: str = "cpu"
                      ) -> tuple[torch.Tensor, torch.Tensor, MinMaxNormalizer, MinMaxNormalizer]:
    """Every (observation, chunk) pair, min-max normalised, as tensors.

    Returns:
        ``obs`` (N, obs_dim), ``chunks`` (N, H * A), and the two normalisers.

    Raises:
        TrainingError: NaN/inf in the demonstrations.
    """
    obs, chunks = make_chunks(observations, actions, horizon)
    if not (np.isfinite(obs).all() and np.isfinite(chunks).all()):
        raise TrainingError("the demonstrations contain NaN/inf values")
    obs_norm = MinMaxNormalizer.fit(np.concatenate(observations))
    act_norm = MinMaxNormalizer.fit(np.concatenate(actions))
    obs_t = torch.as_tensor(obs_norm.normalize(obs), device=device)
    x0_t = torch.as_tensor(act_norm.normalize(chunks).reshape(len(chunks), -1), device=device)
    return obs_t, x0_t, obs_norm, act_norm


def update_ema(ema_params: list[torch.Tensor], params: list[torch.Tensor], decay: float,
               step: int) -> None:
    """One step of a warm exponential moving average: ``ema = d * ema + (1 - d) * params``
    with ``d = min(decay, (1 + step) / (10 + step))``.

    The warm-up (as in diffusion-policy codebases) makes early steps follow the raw weights,
    so that short smoke-tier runs are not dominated by the random initialisation.
    """
    d = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        torch._foreach_mul_(ema_params, d)
        torch._foreach_add_(ema_params, params, alpha=1 - d)


def fit_module(module: torch.nn.Module, loss_fn: Any, n: int, cfg: Any, *, steps: int,
               batch_size: int, generator: torch.Generator, progress: Progress = SILENT,
               label: str = "policy",
               on_step: Callable[[int, torch.nn.Module], None] | None = None) -> None:
    """The one pretraining loop of every BC family: AdamW, warm-up + cosine learning rate,
    gradient clipping and an EMA of the weights, which ``module`` holds at the end.

    Args:
        module: What trains (its parameters; EMA weights are loaded back into it).
        loss_fn: ``loss_fn(idx)`` -> scalar loss of the minibatch of pair indices (B,).
        n: Number of training pairs.
        cfg: Any config with ``learning_rate``, ``min_lr``, ``lr_warmup_steps``,
            ``weight_decay``, ``ema_decay`` and ``grad_clip``.
        steps: Gradient steps.
        batch_size: Minibatch size.
        generator: Source of the minibatch draws.
        progress: Progress reporter.
        label: Name in the progress line and error messages.
        on_step: Called as ``on_step(step, module)`` after each optimiser step (the raw
            weights), e.g. by a diagnosis script that keeps EMAs of other decays; it must
            not change ``module``.

    Raises:
        TrainingError: On a NaN/inf loss.
    """
    device = next(module.parameters()).device
    ema = copy.deepcopy(module) if cfg.ema_decay > 0 else None
    optim = torch.optim.AdamW(module.parameters(), lr=cfg.learning_rate,
                              weight_decay=cfg.weight_decay)
    params = list(module.parameters())
    ema_params = list(ema.parameters()) if ema is not None else []
    report_every = max(1, steps // 100)
    with progress.task(f"pretrain {label}", total=steps) as advance:
        for step in range(steps):
            idx = torch.randint(0, n, (batch_size,), generator=generator, device=device)
            loss = loss_fn(idx)
            check_finite(loss, f"{label} pretraining", step)
            for group in optim.param_groups:
                group["lr"] = lr_at(step, steps, cfg)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optim.step()
            if ema is not None:
                update_ema(ema_params, params, cfg.ema_decay, step)
            if on_step is not None:
                on_step(step, module)
            if (step + 1) % report_every == 0 or step == steps - 1:
                advance(report_every if (step + 1) % report_every == 0
                        else (step + 1) % report_every, loss=float(loss.detach()))
    if ema is not None:
        module.load_state_dict(ema.state_dict())


def pretrain_policy(
    observations: list[np.ndarray],
    actions: list[np.ndarray],
    *,
    horizon: int,
    act_steps: int,
    cfg: DiffusionConfig,
    steps: int,
    batch_size: int,
    seed: int,
    device: str = "cpu",
    progress: Progress = SILENT,
    on_step: Callable[[int, torch.nn.Module], None] | None = None,
) -> DiffusionPolicy:
    """Train a diffusion policy on demonstrations.

    Deterministic given ``seed`` (weights are initialised under ``torch.manual_seed(seed)``
    and minibatches/noise come from a generator seeded with it) on a fixed device and thread
    count.

    Args:
        observations: Per episode, (T + 1, obs_dim).
        actions: Per episode, (T, act_dim) in [-1, 1].
        horizon: Chunk length H.
        act_steps: Actions executed per decision.
        cfg: Backbone config.
        steps: Gradient steps.
        batch_size: Minibatch size.
        seed: Training seed.
        device: Torch device.
        progress: Progress reporter.
        on_step: Passed to :func:`fit_module` (called with the denoiser, ``model.actor``).

    Returns:
        The policy with the EMA weights (or the raw ones when ``ema_decay == 0``).

    Raises:
        TrainingError: On a NaN/inf loss.
    """
    obs_t, x0_t, obs_norm, act_norm = normalized_chunks(observations, actions, horizon, device)
    torch.manual_seed(seed)
    model = Diffusion(obs_t.shape[1], horizon, x0_t.shape[1] // horizon, cfg).to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    fit_module(model.actor, lambda idx: model.loss(x0_t[idx], obs_t[idx], generator=gen),
               len(obs_t), cfg, steps=steps, batch_size=batch_size, generator=gen,
               progress=progress, label="diffusion", on_step=on_step)
    return DiffusionPolicy(model, obs_norm, act_norm, act_steps, device)
