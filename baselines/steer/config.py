"""Configuration of the fine-tuners on a frozen diffusion base (DSRL steering, residual
policies) and of the BMD regulariser that composes with them.

Sources: Wagenmaker et al. 2025 (DSRL, "Steering Your Diffusion Policy with Latent Space
Reinforcement Learning"); Yuan et al. 2024 (Policy Decorator, residual policies); Longhini et
al., ICML 2026 (BMD; only its abstract and public reading notes were available, see the
project's ``papers/bmd-method-notes.md``). Values the notes leave open are marked *choice*
with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SteerConfig:
    """PPO over a frozen diffusion policy's noise (steering) and/or a residual on its chunk.

    Attributes:
        steer: Learn a steering actor π_ψ(w | s [, z]) over the chunk's initial noise w
            (DSRL); False samples w ~ N(0, I) as the pretrained policy does.
        residual: Learn a residual actor on top of the base's chunk (Policy Decorator).
        noise_bound: DSRL's bound of the noise action: w = bound · tanh(u), u Gaussian. 1.5
            keeps w within the pretrained noise's typical range (DSRL bounds its latent
            action to a box of about this size).
        residual_scale: Largest residual, in normalised action units ([-1, 1] per
            dimension): a = base + scale · tanh(v). *Choice*: 0.2 lets the residual correct,
            not replace, the base (Policy Decorator keeps the residual small and bounded).
        residual_ramp_fraction: Policy Decorator's controlled exploration: the probability
            that a decision uses the residual grows linearly from 0 to 1 over this fraction
            of the fine-tuning iterations (before, the base acts alone with that
            probability; those decisions carry no residual log-probability).
        hidden_dims: Widths of the actor and critic MLPs (BMD notes: 256 x 3).
        init_log_std: Initial log standard deviation of the Gaussian actors (state
            independent, learned). *Choice*: exp(-0.5) = 0.61 explores a good part of the
            ±1.5 noise box from the start.
        lr: Adam learning rate of actors and critics (BMD notes: 3e-4).
        gamma: Discount over decisions (BMD notes: 0.99).
        gae_lambda: GAE λ (BMD notes: 0.95).
        clip: PPO ratio clip (BMD notes: 0.2).
        update_epochs: PPO epochs per iteration (*choice*: 10, the usual PPO value).
        minibatch_size: Decisions per minibatch (*choice*: 256).
        vf_coef: Value-loss weight.
        max_grad_norm: Gradient-norm clip.
        target_kl: Stop an iteration's epochs once the approximate KL exceeds it (None: off).
        reward_scale_running: DPPO's running reward scaling (the same scaler as ``dppo``).
        deterministic_eval: Evaluate with the actors' means (DSRL acts with its actor's mean
            at evaluation); False samples them.
    """

    steer: bool = True
    residual: bool = False
    noise_bound: float = 1.5
    residual_scale: float = 0.2
    residual_ramp_fraction: float = 0.3
    hidden_dims: tuple[int, ...] = (256, 256, 256)
    init_log_std: float = -0.5
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    update_epochs: int = 10
    minibatch_size: int = 256
    vf_coef: float = 0.5
    max_grad_norm: float | None = 0.5
    target_kl: float | None = 0.05
    reward_scale_running: bool = True
    deterministic_eval: bool = True

    def __post_init__(self) -> None:
        if not (self.steer or self.residual):
            raise ValueError("a fine-tuner needs steer or residual (or both)")
        for name in ("noise_bound", "residual_scale", "lr", "clip", "update_epochs",
                     "minibatch_size"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError("gamma and gae_lambda must be in [0, 1]")
        if not 0 <= self.residual_ramp_fraction <= 1:
            raise ValueError("residual_ramp_fraction must be in [0, 1]")
        if not self.hidden_dims or any(d < 1 for d in self.hidden_dims):
            raise ValueError("hidden_dims must be positive widths")


@dataclass(frozen=True)
class BMDConfig:
    """The BMD regulariser: a per-episode latent z, q_φ(z | s) and the MI reward.

    Attributes:
        n_latent: K, the number of latent modes z (BMD notes: K ∈ {4, 8, 16}; 4 too few,
            8 and 16 better). 8.
        lam: λ of r = r_env + λ (log q_φ(z|s') − log p(z)). *Choice*: 0.1. The bonus of a
            decision lies in [log q_min − log p, log K] (K = 8: up to 2.08), so λ = 0.1 adds
            at most ~0.2 per decision, about ``avoid``'s progress reward of a decision,
            and an episode's bonus stays near its success reward (1): the task reward
            dominates once it is switched on. The notes say results are sensitive to λ.
        discovery_fraction: E_wp as a fraction of the fine-tuning iterations: stage 1 uses
            the intrinsic reward alone (mode discovery), stage 2 adds the task reward.
            *Choice*: 0.25 (the notes give no value).
        curriculum_start: H_0 as a fraction of the task's horizon T (in decisions).
            *Choice*: 0.25: the early part of an episode is where paths split on ``avoid``
            and kitchen (the first obstacle row, the first subtask).
        curriculum_fraction: The horizon grows linearly from H_0 to T over this fraction of
            the iterations (*choice*: 0.5; the rest train at the full horizon).
        q_hidden_dims: q_φ's MLP widths (BMD notes: 256 x 3, Mish).
        q_input_noise: Std of the Gaussian noise added to q_φ's (normalised) inputs while it
            trains (BMD notes: input noise against over-fitting; *choice* of scale 0.05).
        q_lr: Adam learning rate of q_φ (*choice*: 3e-4, as the policy).
        q_epochs: Passes over an iteration's (s', z) pairs (*choice*: 4).
        log_q_min: Lower clip of log q_φ in the reward (a confidently wrong q would give
            unbounded penalties).
    """

    n_latent: int = 8
    lam: float = 0.1
    discovery_fraction: float = 0.25
    curriculum_start: float = 0.25
    curriculum_fraction: float = 0.5
    q_hidden_dims: tuple[int, ...] = (256, 256, 256)
    q_input_noise: float = 0.05
    q_lr: float = 3e-4
    q_epochs: int = 4
    log_q_min: float = -5.0

    def __post_init__(self) -> None:
        if self.n_latent < 2:
            raise ValueError(f"n_latent must be >= 2, got {self.n_latent}")
        if not self.lam >= 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        for name in ("discovery_fraction", "curriculum_start", "curriculum_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.curriculum_start <= 0:
            raise ValueError("curriculum_start must be > 0")
        for name in ("q_lr", "q_epochs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if self.q_input_noise < 0:
            raise ValueError("q_input_noise must be >= 0")

    def stage(self, iteration: int, iterations: int) -> int:
        """1 during the first ``discovery_fraction`` of the iterations (intrinsic reward
        only), else 2. With a single iteration there is no stage 1."""
        return 1 if iteration < round(self.discovery_fraction * iterations) and iterations > 1 \
            else 2

    def horizon(self, iteration: int, iterations: int, full: int) -> int:
        """Rollout horizon in decisions at ``iteration`` (short-to-long curriculum).

        Linear from ``ceil(curriculum_start · full)`` at iteration 0 to ``full`` at
        ``curriculum_fraction · iterations``, then ``full``.
        """
        start = max(1, math.ceil(self.curriculum_start * full))
        ramp = self.curriculum_fraction * iterations
        if ramp <= 0 or iteration >= ramp:
            return full
        return min(full, int(round(start + (full - start) * iteration / ramp)))
