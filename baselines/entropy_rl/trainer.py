"""The k-NN maximum-entropy reward on top of DPPO's trainer (see the package docstring)."""

from __future__ import annotations

import numpy as np
import torch

from baselines.dppo.ppo import DPPOTrainer, Rollout


def knn_log_distance(actions: torch.Tensor, samples: torch.Tensor, k: int = 1) -> torch.Tensor:
    """log of the distance from each action to its k-th nearest sample.

    Args:
        actions: (B, d).
        samples: (B, M, d), M samples of the same state's action distribution.
        k: Which neighbour.

    Returns:
        log ρ_k, (B,); d · log ρ_k is −log π̂(a | s) up to a constant (Kozachenko–Leonenko).
    """
    dist = torch.cdist(actions[:, None, :], samples).squeeze(1)  # (B, M)
    rho = dist.kthvalue(k, dim=1).values
    return torch.log(rho.clamp(min=1e-6))


def knn_entropy(samples: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Kozachenko–Leonenko entropy estimate of each row's samples, up to a constant.

    Args:
        samples: (B, M, d), M >= k + 1.

    Returns:
        (d / M) Σ_i log ρ_k(x_i) with ρ_k the distance to the k-th nearest *other* sample,
        (B,); higher = more spread out.
    """
    dist = torch.cdist(samples, samples)  # (B, M, M); the zero self-distance is neighbour 0
    rho = dist.kthvalue(k + 1, dim=2).values.clamp(min=1e-6)
    return samples.shape[-1] * torch.log(rho).mean(dim=1)


class EntropyRLTrainer(DPPOTrainer):
    """DPPO whose decisions earn α · d · log ρ_k(a) on top of the task reward."""

    def executed(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised chunks (..., H * A) -> the executed part (..., act_steps * A)."""
        pol = self.policy
        lead = x.shape[:-1]
        x = x.reshape(*lead, pol.horizon, pol.act_dim)[..., : pol.act_steps, :]
        return x.reshape(*lead, pol.act_steps * pol.act_dim)

    @torch.no_grad()
    def action_entropy_reward(self, batch: Rollout) -> np.ndarray:
        """α · d · log ρ_k of each decision's executed action among M fresh samples, (S, N)."""
        cfg, pol = self.cfg, self.policy
        s, n = batch.rewards.shape
        m = cfg.entropy_samples
        cond = torch.as_tensor(batch.obs.reshape(s * n, -1), device=self.device)
        taken = self.executed(torch.as_tensor(batch.chains[:, :, -1].reshape(s * n, -1),
                                              device=self.device))
        rep = cond.repeat_interleave(m, dim=0)
        x, _ = pol.model.sample(
            rep, torch.randn(len(rep), pol.model.flat_dim, generator=self.gen,
                             device=self.device),
            deterministic=False, eta=self.eta(),
            min_sampling_std=cfg.min_sampling_denoising_std,
            randn_clip_value=cfg.randn_clip_value, generator=self.gen)
        samples = self.executed(x).reshape(s * n, m, -1)
        logrho = knn_log_distance(taken, samples, cfg.entropy_k)
        return (cfg.alpha * taken.shape[-1] * logrho).cpu().numpy().reshape(s, n)

    def after_collect(self, batch: Rollout) -> dict[str, float]:
        """Add the entropy reward to the batch's intrinsic rewards."""
        stats = super().after_collect(batch)
        bonus = self.action_entropy_reward(batch)
        batch.intrinsic += bonus
        stats["entropy_reward"] = float(bonus.mean())
        return stats
