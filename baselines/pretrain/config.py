"""Configs of the BC families (Mazza et al. 2026 compare them; VersatIL trains each on the
same decoder). The optimisation fields equal the diffusion backbone's
(:class:`baselines.common.config.DiffusionConfig`), so families differ only in what they
model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratorConfig:
    """What every BC family shares: the network width and the optimiser.

    Attributes:
        hidden_dims: Widths of the Mish MLP (the backbone's 3 x 256).
        learning_rate, weight_decay, lr_warmup_steps, min_lr, ema_decay, grad_clip: As the
            diffusion backbone (same values), for a like-for-like comparison.
    """

    hidden_dims: tuple[int, ...] = (256, 256, 256)
    learning_rate: float = 3e-3
    weight_decay: float = 1e-6
    lr_warmup_steps: int = 100
    min_lr: float = 3e-4
    ema_decay: float = 0.995
    grad_clip: float | None = 1.0

    def __post_init__(self) -> None:
        if not self.hidden_dims or any(d < 1 for d in self.hidden_dims):
            raise ValueError("hidden_dims must be positive widths")
        if not self.learning_rate > 0 or not 0 <= self.min_lr <= self.learning_rate:
            raise ValueError("need learning_rate > 0 and 0 <= min_lr <= learning_rate")
        if not 0 <= self.ema_decay < 1:
            raise ValueError("ema_decay must be in [0, 1)")


@dataclass(frozen=True)
class FlowConfig(GeneratorConfig):
    """Conditional flow matching (rectified flow: Lipman et al. 2023; Liu et al. 2023).

    Attributes:
        steps: N integration steps of the sampler from noise (t = 0) to action (t = 1).
            *Choice*: 10, the backbone's DDIM steps; fewer steps make the noise-to-action
            map smoother (a smaller Lipschitz constant), which the second paper ties to
            bridges between modes.
        solver: ``"euler"`` or ``"heun"`` (second order, two network calls per step).
        time_dim: Size of the time embedding.
    """

    steps: int = 10
    solver: str = "euler"
    time_dim: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.steps < 1:
            raise ValueError("steps must be >= 1")
        if self.solver not in ("euler", "heun"):
            raise ValueError("solver must be 'euler' or 'heun'")


@dataclass(frozen=True)
class CVAEConfig(GeneratorConfig):
    """A conditional VAE over action chunks (ACT-style latent-variable BC).

    Attributes:
        latent_dim: Size of z.
        beta: Weight of the KL term (posterior vs prior). The second paper: a strong
            regularisation (large β) loses modes, a weak one lets prior samples fall off the
            support. 1.0 is the plain ELBO.
        prior: ``"gaussian"`` (fixed N(0, I)) or ``"learned"`` (a conditional Gaussian
            p(z | s), trained through the KL).
    """

    latent_dim: int = 8
    beta: float = 1.0
    prior: str = "gaussian"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent_dim < 1:
            raise ValueError("latent_dim must be >= 1")
        if not self.beta >= 0:
            raise ValueError("beta must be >= 0")
        if self.prior not in ("gaussian", "learned"):
            raise ValueError("prior must be 'gaussian' or 'learned'")


@dataclass(frozen=True)
class MLPConfig(GeneratorConfig):
    """Unimodal regression of the chunk (mean squared error): the collapse floor."""
