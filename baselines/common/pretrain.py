"""Diffusion pretraining on demonstrations (DDPM ε-prediction, AdamW, EMA)."""

from __future__ import annotations

import copy
import math

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

    Returns:
        The policy with the EMA weights (or the raw ones when ``ema_decay == 0``).

    Raises:
        TrainingError: On a NaN/inf loss.
    """
    obs, chunks = make_chunks(observations, actions, horizon)
    if not (np.isfinite(obs).all() and np.isfinite(chunks).all()):
        raise TrainingError("the demonstrations contain NaN/inf values")
    obs_norm = MinMaxNormalizer.fit(np.concatenate(observations))
    act_norm = MinMaxNormalizer.fit(np.concatenate(actions))
    obs_t = torch.as_tensor(obs_norm.normalize(obs), device=device)
    x0_t = torch.as_tensor(act_norm.normalize(chunks).reshape(len(chunks), -1), device=device)

    torch.manual_seed(seed)
    model = Diffusion(obs.shape[1], horizon, chunks.shape[2], cfg).to(device)
    ema = copy.deepcopy(model.actor) if cfg.ema_decay > 0 else None
    optim = torch.optim.AdamW(model.actor.parameters(), lr=cfg.learning_rate,
                              weight_decay=cfg.weight_decay)
    gen = torch.Generator(device=device).manual_seed(seed)
    params = list(model.actor.parameters())
    ema_params = list(ema.parameters()) if ema is not None else []
    n = len(obs_t)
    report_every = max(1, steps // 100)
    with progress.task("pretrain diffusion", total=steps) as advance:
        for step in range(steps):
            idx = torch.randint(0, n, (batch_size,), generator=gen, device=device)
            loss = model.loss(x0_t[idx], obs_t[idx], generator=gen)
            check_finite(loss, "diffusion pretraining", step)
            for group in optim.param_groups:
                group["lr"] = lr_at(step, steps, cfg)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.actor.parameters(), cfg.grad_clip)
            optim.step()
            if ema is not None:
                with torch.no_grad():
                    # warm EMA (as in diffusion-policy codebases): early steps follow the raw
                    # weights so short smoke-tier runs are not dominated by the random init
                    decay = min(cfg.ema_decay, (1 + step) / (10 + step))
                    torch._foreach_mul_(ema_params, decay)
                    torch._foreach_add_(ema_params, params, alpha=1 - decay)
            if (step + 1) % report_every == 0 or step == steps - 1:
                advance(report_every if (step + 1) % report_every == 0
                        else (step + 1) % report_every, loss=float(loss.detach()))
    if ema is not None:
        model.actor.load_state_dict(ema.state_dict())
    return DiffusionPolicy(model, obs_norm, act_norm, act_steps, device)
