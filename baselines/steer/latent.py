"""The BMD regulariser, written once: latent codes z, the inference model q_φ(z | s) and the
mutual-information reward λ (log q_φ(z | s') − log p(z)).

Any fine-tuner composes with it (``bmd`` = DSRL[BMD], ``res-bmd``, ``dppo-bmd``): it draws z
once per episode, gives the intrinsic reward of each decision, and trains q_φ on every
iteration's (s', z) pairs, in both stages (the notes: freezing it is catastrophic).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from baselines.common.nets import mlp
from baselines.steer.config import BMDConfig


def one_hot(z: torch.Tensor, k: int) -> torch.Tensor:
    """Codes (B,) int64 -> one-hot (B, k) float32."""
    return nn.functional.one_hot(z.long(), k).float()


class InferenceModel(nn.Module):
    """q_φ(z | s): a categorical classifier over K codes (Mish MLP, BMD notes 256 x 3).

    Args:
        obs_dim: Size of the (normalised) observation.
        cfg: The regulariser's config.
    """

    def __init__(self, obs_dim: int, cfg: BMDConfig) -> None:
        super().__init__()
        self.k = cfg.n_latent
        self.net = mlp([obs_dim, *cfg.q_hidden_dims, cfg.n_latent])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Log-probabilities log q_φ(· | s), (B, K), of normalised observations (B, obs_dim)."""
        return torch.log_softmax(self.net(obs), dim=-1)


def intrinsic_reward(log_q: torch.Tensor, z: torch.Tensor, log_p: float, lam: float,
                     log_q_min: float) -> torch.Tensor:
    """λ (max(log q(z | s'), log_q_min) − log p(z)) per row.

    Args:
        log_q: log q_φ(· | s'), (B, K).
        z: Codes, (B,) int64.
        log_p: log p(z) (uniform prior: −log K).
        lam: λ.
        log_q_min: Lower clip of log q.

    Returns:
        Rewards, (B,).
    """
    picked = log_q.gather(1, z.long().view(-1, 1)).squeeze(1).clamp(min=log_q_min)
    return lam * (picked - log_p)


class LatentRegularizer:
    """Per-episode codes, q_φ and its training, and the BMD reward for N parallel envs.

    Args:
        obs_dim: Observation size.
        n_envs: Parallel envs (one current code each).
        cfg: The regulariser's config.
        device: Torch device.
        generator: Source of the code draws (seeded by the trainer).
    """

    def __init__(self, obs_dim: int, n_envs: int, cfg: BMDConfig, device: str,
                 generator: torch.Generator) -> None:
        self.cfg, self.device, self.gen = cfg, device, generator
        self.k = cfg.n_latent
        self.log_p = -math.log(cfg.n_latent)  # uniform prior p(z) = 1/K (DIAYN, BMD)
        self.q = InferenceModel(obs_dim, cfg).to(device)
        self.optim = torch.optim.Adam(self.q.parameters(), lr=cfg.q_lr)
        self.z = torch.zeros(n_envs, dtype=torch.long, device=device)

    def start_episodes(self, mask: np.ndarray) -> None:
        """Draw a new code for every env whose episode starts now (mask (N,) bool)."""
        idx = np.flatnonzero(mask)
        if idx.size:
            self.z[torch.as_tensor(idx, device=self.device)] = torch.randint(
                self.k, (idx.size,), generator=self.gen, device=self.device)

    def latent_input(self) -> torch.Tensor:
        """One-hot codes of the N envs, (N, K): what a z-conditioned actor reads."""
        return one_hot(self.z, self.k)

    @torch.no_grad()
    def reward(self, next_obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The intrinsic reward of decisions that led to ``next_obs`` (B, obs_dim) under
        codes ``z`` (B,); (B,)."""
        self.q.eval()
        return intrinsic_reward(self.q(next_obs), z, self.log_p, self.cfg.lam,
                                self.cfg.log_q_min)

    def train(self, obs: torch.Tensor, z: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
        """Fit q_φ to (s', z) pairs (B, obs_dim), (B,) for ``q_epochs`` passes.

        Returns:
            Mean cross-entropy and accuracy of the last pass (accuracy on clean inputs).
        """
        self.q.train()
        n = len(z)
        losses = []
        for _ in range(self.cfg.q_epochs):
            perm = torch.randperm(n, generator=self.gen, device=self.device)
            losses = []
            for start in range(0, n, batch_size):
                ids = perm[start:start + batch_size]
                x = obs[ids]
                if self.cfg.q_input_noise > 0:  # against over-fitting (BMD notes)
                    x = x + self.cfg.q_input_noise * torch.randn(
                        x.shape, generator=self.gen, device=self.device)
                loss = nn.functional.nll_loss(self.q(x), z[ids])
                self.optim.zero_grad(set_to_none=True)
                loss.backward()
                self.optim.step()
                losses.append(loss.item())
        self.q.eval()
        with torch.no_grad():
            acc = (self.q(obs).argmax(-1) == z).float().mean().item()
        return {"q_loss": float(np.mean(losses)) if losses else 0.0, "q_acc": acc}
