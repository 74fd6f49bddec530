"""Configuration of the shared diffusion backbone (pretraining stage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SAMPLING_FIELDS = ("ddim_steps", "ddim_spacing", "denoised_clip_value", "randn_clip_value",
                   "final_action_clip_value", "eps_clip_value", "pretrained_sampler")
"""Fields that change how a trained denoiser is sampled, never how it is trained: they are
not part of the pretrained checkpoint's identity (``-o pretrained_sampler=ddim`` or
``-o diffusion.ddim_steps=5`` reuse the checkpoint instead of training it again)."""


@dataclass(frozen=True)
class DiffusionConfig:
    """Architecture, noise schedule and pretraining optimiser of the diffusion policy.

    The defaults follow DPPO's public MLP configs (``DiffusionMLP`` with a 16-dim sinusoidal
    time embedding, Mish, 20 DDPM denoising steps, cosine schedule, AdamW) at the width
    STACK.md measured (3 x 256).

    Attributes:
        hidden_dims: Widths of the denoiser MLP's hidden layers.
        time_dim: Size of the sinusoidal denoising-step embedding.
        cond_mlp_dims: Widths of the small MLP that embeds the (normalised) observation;
            empty means the raw normalised observation is concatenated (DPPO's default).
        residual: Use DPPO's residual MLP blocks (pairs of layers with a skip connection).
        denoising_steps: DDPM steps T of training (DPPO: 20).
        ddim_steps: DDIM steps used for sampling at evaluation and during fine-tuning.
            DPPO's DDIM fine-tuning configs use 5; on ``avoid`` 10 halves the share of
            samples bridging two modes (measured: 9 % vs 18 % on a two-mode toy) at twice
            the sampling cost (STACK.md: ~4.5 ms for a batch of 64).
        ddim_spacing: ``"trailing"`` (DDIM steps T-1, T-1-r, ...: the first step sees pure
            noise, as the sampler assumes) or ``"leading"`` (DPPO's 0, r, 2r, ... flipped,
            whose first step treats pure noise as step (n-1)r < T-1; with T = 20 and 5 steps
            it starts at t = 16 and measurably blurs the modes).
        denoised_clip_value: Clip of the predicted clean action x0 (normalised units),
            as in DPPO; keeps sampled chunks inside the data's range.
        randn_clip_value: Clip of the sampled Gaussian noise during sampling (DPPO: 10
            pretraining, 3 fine-tuning; fine-tuning overrides it).
        final_action_clip_value: Clip of the final action (normalised units).
        eps_clip_value: Clip of the predicted noise in DDIM updates (DPPO: None or 1.0 for
            DDIM fine-tuning); None disables it.
        learning_rate: AdamW learning rate of pretraining. 3e-3 (above DPPO's 1e-4 for
            long GPU runs) because CPU tiers train for only thousands of steps; on
            ``avoid`` it reached 0.46 BC success after 6000 steps (10 DDIM steps) where 1e-3
            (5 DDIM steps) was at 0.17 after 4500.
        weight_decay: AdamW weight decay.
        lr_warmup_steps: Linear warm-up steps before a cosine decay to ``min_lr``.
        min_lr: Final learning rate of the cosine decay.
        ema_decay: Decay of the exponential moving average of the weights that is saved
            (DPPO pretraining keeps an EMA too); 0 disables it.
        grad_clip: Max gradient norm (None disables).
        pretrained_sampler: How the *pretrained* policy samples at evaluation (``bc``, and
            the reference distribution of mode retention): ``"ddpm"`` (ancestral sampling
            over all ``denoising_steps`` with the true posterior variance, as DDPM-trained
            policies are sampled) or ``"ddim"`` (the ``ddim_steps`` chain with eta = 0).
            Fine-tuned policies always sample with the DDIM chain they were fine-tuned on.
            On ``avoid`` (small tier, 32k pretraining steps, 1,000 episodes, two training
            seeds) DDPM gave 0.87/0.86 success against DDIM's 0.76/0.75, both with 8 of 8
            modes (``benchmarks/bc_sampling.py``).
        normalization: ``"minmax"`` (DPPO: each obs/action dimension mapped to [-1, 1]
            using the dataset's min/max) — the only one implemented, recorded for hashing.
    """

    hidden_dims: tuple[int, ...] = (256, 256, 256)
    time_dim: int = 16
    cond_mlp_dims: tuple[int, ...] = ()
    residual: bool = False
    denoising_steps: int = 20
    ddim_steps: int = 10
    ddim_spacing: str = "trailing"
    denoised_clip_value: float = 1.0
    randn_clip_value: float = 10.0
    final_action_clip_value: float = 1.0
    eps_clip_value: float | None = None
    learning_rate: float = 3e-3
    weight_decay: float = 1e-6
    lr_warmup_steps: int = 100
    min_lr: float = 3e-4
    ema_decay: float = 0.995
    grad_clip: float | None = 1.0
    pretrained_sampler: str = "ddpm"
    normalization: str = "minmax"

    def __post_init__(self) -> None:
        if self.denoising_steps < 1 or self.ddim_steps < 1:
            raise ValueError("denoising_steps and ddim_steps must be >= 1")
        if self.ddim_steps > self.denoising_steps:
            raise ValueError("ddim_steps cannot exceed denoising_steps")
        if self.ddim_spacing not in ("trailing", "leading"):
            raise ValueError("ddim_spacing must be 'trailing' or 'leading'")
        if self.pretrained_sampler not in ("ddpm", "ddim"):
            raise ValueError("pretrained_sampler must be 'ddpm' or 'ddim'")
        for name in ("learning_rate", "time_dim", "denoised_clip_value", "randn_clip_value",
                     "final_action_clip_value"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.ema_decay < 1 or not 0 <= self.min_lr <= self.learning_rate:
            raise ValueError("ema_decay must be in [0, 1) and min_lr in [0, learning_rate]")
        if not self.hidden_dims or any(d < 1 for d in self.hidden_dims + self.cond_mlp_dims):
            raise ValueError("hidden_dims (non-empty) and cond_mlp_dims must be positive widths")
        if self.normalization != "minmax":
            raise ValueError(f"unknown normalization {self.normalization!r}; use 'minmax'")


BACKBONE_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    # kitchen: the BMD paper's base policy is an MLP 512 x 3 (bmd-method-notes.md) and
    # DPPO's robot configs use residual MLP blocks. Measured on kitchen-v1 (one seed, 20k
    # pretraining steps, 16 episodes): 3 x 256 plain 0 of 16 (median first-action error
    # 2.4 cm at 10k steps for 512 residual against 11 cm for 3 x 256 over a chunk); the
    # avoid and radial tasks keep the class defaults, which their published numbers use.
    # ddim_steps 20: the deterministic chain the steered methods (dsrl, res, bmd, res-bmd)
    # run needs all 20 steps on kitchen: the small tier's checkpoint, seed 0, 96 episodes
    # (bench evaluate --method bc -o pretrained_sampler=ddim [-o ddim_steps=N]): DDIM 2 / 10
    # / 20 steps 0.01 / 0.28 / 0.60, ancestral DDPM 0.52 (robosuite-lift, 50 episodes:
    # DDIM 10 / 20 0.72 / 0.76, DDPM 0.80, so it keeps 10)
    "kitchen": {"hidden_dims": (512, 512, 512), "residual": True, "ddim_steps": 20},
    # robosuite-lift: DPPO's robomimic lift config (cfg/robomimic/pretrain/lift/
    # pre_diffusion_mlp.yaml: mlp_dims [512, 512, 512], residual_style True). Measured
    # (benchmarks/robosuite_diagnosis.py, seed 0, 8,000 steps, 40 episodes): 3 x 256 plain
    # 6/40, the gripper heading to the right side but never over the cube (22 episodes never
    # within 3 cm of either); 512 x 3 residual 36/40 (red 23, green 13)
    "robosuite-lift": {"hidden_dims": (512, 512, 512), "residual": True},
    # anymal: the same 512 x 3 residual backbone. Measured (benchmarks/anymal_diagnosis.py
    # --switches, anymal-v2, seed 0, 24,000 steps, 40 episodes, the small tier's
    # demonstrations): 3 x 256 plain 21/40 (left 1, right 20; 8.0 route changes per episode),
    # with a 128 x 128 observation MLP 30/40 (left 8, right 22; 4.1), 512 x 3 residual 35/40
    # (left 20, right 15; 3.1 changes; the demonstrations' own 1.9)
    "anymal": {"hidden_dims": (512, 512, 512), "residual": True},
}
"""Backbone fields that differ from :class:`DiffusionConfig`'s defaults for a task family;
every built-in diffusion method takes them (:meth:`DiffusionMethodBase.for_task`), so they
still share one pretrained checkpoint per task."""

