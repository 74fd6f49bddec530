"""``entropy-rl``: DPPO fine-tuning plus an entropy bonus on the denoising steps.

Same trainer as :mod:`baselines.dppo` (subclassed config, no copied code). The bonus is the
closed-form Gaussian entropy ``0.5 log(2πe σ²)`` of each fine-tuned denoising step's
sampling distribution, averaged over dimensions, weighted by ``ent_coef``. For the entropy
to be something the policy can change, the DDIM eta (which sets σ) is learned per action
dimension (DPPO's ``learn_eta`` / ``EtaAction`` option), within [min_eta, max_eta].
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.dppo import DPPOMethod
from baselines.dppo.config import DPPOConfig


@dataclass(frozen=True)
class EntropyRLConfig(DPPOConfig):
    """DPPO's config with the entropy regulariser switched on.

    Attributes:
        ent_coef: Weight of the entropy bonus (the loss subtracts ``ent_coef * H``). 0.01 is
            the usual PPO default; scaled rewards here are O(1) per decision.
        learn_eta: Learn eta so the bonus has a gradient.
        eta: Initial eta (DPPO's ``base_eta``); 1 recovers DDPM-like step noise.
        max_eta: Upper bound of eta; above 1 the early steps may become noisier than DDPM.
        eta_lr: Learning rate of eta.
    """

    ent_coef: float = 0.01
    learn_eta: bool = True
    eta: float = 1.0
    max_eta: float = 2.0
    eta_lr: float = 1e-3


class EntropyRLMethod(DPPOMethod):
    """DPPO with an entropy bonus (closed-form Gaussian entropy of the denoising steps)."""

    name = "entropy-rl"
    version = "1"
    description = "DPPO + entropy bonus on the denoising steps' Gaussians (learned eta)"
    config_class = EntropyRLConfig


__all__ = ["EntropyRLMethod", "EntropyRLConfig"]
