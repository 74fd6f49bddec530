"""BMD fine-tuning: DPPO on the policy whose noise is drawn per episode's latent z, with the
intrinsic reward α (log q_φ(z | s') − log p(z)) from a discriminator trained alongside."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from baselines.bmd.config import BMDConfig
from baselines.bmd.discovery import Discovery
from baselines.bmd.policy import BMDPolicy
from baselines.common.nets import mlp
from baselines.dppo.ppo import DPPOTrainer, Rollout
from benchmark.errors import TrainingError


class Discriminator(nn.Module):
    """q_φ(z | s): logits over K modes from a normalised observation.

    Args:
        obs_dim: Observation size.
        n_modes: K.
        hidden_dims: MLP widths.
    """

    def __init__(self, obs_dim: int, n_modes: int, hidden_dims: tuple[int, ...]) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *hidden_dims, n_modes])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) of normalised observations (B, obs_dim)."""
        return self.net(obs)


def intrinsic_reward(logits: torch.Tensor, z: torch.Tensor, log_p_z: torch.Tensor,
                     alpha: float, log_q_min: float) -> torch.Tensor:
    """α (max(log q(z|s), log_q_min) − log p(z)) per sample.

    Args:
        logits: Discriminator logits, (B, K).
        z: Latent modes, (B,) int64.
        log_p_z: Log prior, (K,).
        alpha: Weight.
        log_q_min: Lower clip of log q.

    Returns:
        Rewards, (B,): positive when the discriminator recognises z better than chance.
    """
    log_q = torch.log_softmax(logits, dim=-1).gather(1, z[:, None]).squeeze(1)
    return alpha * (log_q.clamp(min=log_q_min) - log_p_z[z])


class BMDTrainer(DPPOTrainer):
    """DPPO trainer with per-episode latent modes and the MI intrinsic reward.

    Args:
        policy: The BMD policy (discovery done).
        cfg: BMD config.
        discovery: Discovery results (the discriminator warm-starts on them).
        device: Torch device.
        seed: Training seed.
    """

    def __init__(self, policy: BMDPolicy, cfg: BMDConfig, discovery: Discovery,
                 device: str = "cpu", seed: int = 0) -> None:
        super().__init__(policy, cfg, device, seed)
        self.bmd_cfg = cfg
        self.deterministic_base = cfg.deterministic_base_steps
        self.disc = Discriminator(policy.obs_dim, policy.n_modes, cfg.disc_hidden_dims).to(device)
        self.disc_optim = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr)
        self.log_p_z = torch.log(policy.p_z.clamp(min=1e-8)).to(device)
        self.z = torch.zeros(0, dtype=torch.long, device=device)
        self.xi = torch.zeros(0, policy.model.flat_dim, device=device)
        self.last_disc_acc = float("nan")
        self.train_discriminator(torch.as_tensor(discovery.state_obs, device=device),
                                 torch.as_tensor(discovery.state_labels, device=device),
                                 cfg.disc_pretrain_epochs)

    # -------------------------------------------------------------- hooks
    def on_episode_start(self, mask: np.ndarray) -> None:
        """Draw z ~ p(z) (and, per episode, its initial noise) for envs starting an episode."""
        pol: BMDPolicy = self.policy  # type: ignore[assignment]
        if len(self.z) != len(mask):
            mask = np.ones(len(mask), dtype=bool)
            self.z = pol.sample_z(len(mask), self.gen)
            self.xi = pol.noise_for(self.z, self.gen)
            return
        m = torch.as_tensor(mask, device=self.device)
        if m.any():
            self.z[m] = pol.sample_z(int(m.sum()), self.gen)
            self.xi[m] = pol.noise_for(self.z[m], self.gen)

    def initial_noise(self, n: int) -> torch.Tensor:
        """Each env's episode noise (reused for every chunk) or a fresh draw from z's region."""
        pol: BMDPolicy = self.policy  # type: ignore[assignment]
        if self.bmd_cfg.train_noise_per_episode:
            return self.xi.clone()
        return pol.noise_for(self.z, self.gen)

    def step_extras(self) -> dict[str, np.ndarray]:
        """Record each decision's z."""
        return {"z": self.z.cpu().numpy().copy()}

    @torch.no_grad()
    def intrinsic_rewards(self, obs: np.ndarray, next_obs: np.ndarray,
                          dones: np.ndarray) -> np.ndarray:
        """α (log q_φ(z | s') − log p(z)) for each env's decision."""
        cond = self.policy.normalize_obs(next_obs)
        r = intrinsic_reward(self.disc(cond), self.z, self.log_p_z, self.bmd_cfg.alpha,
                             self.bmd_cfg.log_q_min)
        return r.cpu().numpy().astype(np.float64)

    def after_collect(self, batch: Rollout) -> dict[str, float]:
        """Train q_φ on the iteration's (s', z) pairs."""
        s, n = batch.rewards.shape
        obs = torch.as_tensor(batch.next_obs.reshape(s * n, -1), device=self.device)
        z = torch.as_tensor(batch.extras["z"].reshape(-1), device=self.device)
        self.train_discriminator(obs, z, self.bmd_cfg.disc_epochs)
        return {"disc_acc": self.last_disc_acc,
                "intrinsic": float(batch.intrinsic.mean())}

    def train_discriminator(self, obs: torch.Tensor, z: torch.Tensor, epochs: int) -> None:
        """Cross-entropy epochs of q_φ on (normalised obs (M, obs_dim), z (M,))."""
        bs = self.bmd_cfg.disc_batch_size
        m = len(obs)
        correct = 0
        seen = 0
        for _ in range(epochs):
            perm = torch.randperm(m, generator=self.gen, device=self.device)
            for start in range(0, m, bs):
                ids = perm[start:start + bs]
                logits = self.disc(obs[ids])
                loss = nn.functional.cross_entropy(logits, z[ids])
                if not torch.isfinite(loss):
                    raise TrainingError("BMD discriminator: non-finite loss; lower disc_lr")
                self.disc_optim.zero_grad(set_to_none=True)
                loss.backward()
                self.disc_optim.step()
                correct += int((logits.argmax(1) == z[ids]).sum())
                seen += len(ids)
        self.last_disc_acc = correct / max(seen, 1)
