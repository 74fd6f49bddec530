"""``entropy-rl``: DPPO with a maximum-entropy reward on the *action* distribution.

Soft RL (Haarnoja et al. 2018) maximises E[Σ r − α log π(a | s)]. For a diffusion policy
log π(a | s) of the executed action chunk has no closed form, and the Gaussian entropy of
the denoising transitions does not help: with the noise schedule fixed, a sampled
transition's log-density is −z²/2 − log σ − log(2π)/2 whatever the denoiser predicts, so
that bonus (version 1 of this method) never reached the denoiser. Instead the density of the
executed action a is estimated with the Kozachenko–Leonenko k-nearest-neighbour estimator
(Kozachenko & Leonenko 1987; as used for entropy bonuses by e.g. Liu & Abbeel 2021, APT) from
M fresh samples of π(· | s):

    −log π̂(a | s) = d · log ρ_k(a) + const,

ρ_k(a) being the distance from a to its k-th nearest of the M samples and d the executed
action's dimension. The reward α · d · log ρ_k(a) is larger for actions in sparse regions of
π(· | s) (a rare mode), so PPO's score-function gradient moves the denoiser towards spreading
its actions — the soft-RL gradient with an estimated log-density. DPPO's trainer does the rest
(subclass, no copied code); eta stays at 1 (the DDPM chain the denoiser was trained on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baselines.dppo import DPPOMethod
from baselines.dppo.config import DPPOConfig


@dataclass(frozen=True)
class EntropyRLConfig(DPPOConfig):
    """DPPO's config plus the k-NN maximum-entropy reward.

    Attributes:
        alpha: Temperature α of the reward α · d · log ρ_k(a) (*choice*: 0.01: on ``avoid``
            (d = 8) the reward spans about −0.2..0 per decision, below a decision's progress
            reward and far below success (1), so the task still dominates).
        entropy_samples: M, fresh samples of π(· | s) per decision for the estimate (*choice*:
            8; the estimator's bias shrinks with M, its cost grows linearly).
        entropy_k: k of the k-th nearest neighbour (1, the classic estimator).
    """

    alpha: float = 0.01
    entropy_samples: int = 8
    entropy_k: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0:
            raise ValueError("alpha must be >= 0")
        if not 1 <= self.entropy_k <= self.entropy_samples:
            raise ValueError("entropy_k must be in [1, entropy_samples]")
        if self.eta > 1.0 or (self.learn_eta and self.max_eta > 1.0):
            # above 1 the chain's noise exceeds the DDPM posterior the denoiser was trained on
            raise ValueError("entropy-rl keeps eta <= 1")


class EntropyRLMethod(DPPOMethod):
    """DPPO + a k-NN estimate of −log π(a | s) as a soft-RL reward."""

    name = "entropy-rl"
    # 3: evaluated as dppo 3 (ancestrally through its DDPM chain)
    # 4: evaluation draws per episode, not per batch (EpisodeStreams)
    version = "4"
    description = "DPPO + max-entropy reward -alpha log pi(a|s), k-NN density estimate"
    config_class = EntropyRLConfig

    def make_trainer(self, policy: Any, cfg: Any, ctx: Any) -> Any:
        """The entropy-regularised trainer."""
        from baselines.entropy_rl.trainer import EntropyRLTrainer

        return EntropyRLTrainer(policy, cfg, ctx.device, ctx.seed)


__all__ = ["EntropyRLConfig", "EntropyRLMethod"]
