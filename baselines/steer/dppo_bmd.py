"""DPPO[BMD]: DPPO fine-tunes the denoiser's last K' steps while BMD's z-conditioned steering
actor chooses each chunk's initial noise; both learn from r_env + λ (log q_φ(z|s') − log p(z)).

Composition, not a copy: DPPO's trainer (:mod:`baselines.dppo.ppo`) through its hooks
(initial noise, episode starts, intrinsic reward, per-iteration extra training), and the
steering PPO, q_φ and the schedules of :class:`baselines.steer.trainer.SteerTrainer`.
*Choices* (the notes do not say how DPPO[BMD] shares z): z reaches the policy through the
steering actor only (the fine-tuned denoiser does not read it); the denoising steps DPPO does
not fine-tune run with eta = 0, so that w, hence z, keeps deciding the chunk's coarse shape;
each actor has its own critic and advantages (independent PPO on the same rewards).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from baselines.dppo.config import DPPOConfig
from baselines.dppo.ppo import DPPOTrainer, Rollout
from baselines.steer.config import BMDConfig, SteerConfig
from baselines.steer.curriculum import HorizonLimit
from baselines.steer.policy import LatentSteeredPolicy
from baselines.steer.trainer import SteerTrainer
from benchmark.progress import SILENT, Progress


class DPPOBMDTrainer(DPPOTrainer):
    """DPPO on the denoiser plus BMD's steering actor and regulariser.

    Args:
        policy: A latent steered policy with a steering actor.
        cfg: DPPO's config.
        steer: The steering actor's PPO config.
        bmd: The regulariser's config.
        n_envs: Parallel envs.
        max_decisions: The task's horizon in decisions.
        device: Torch device.
        seed: Training seed.
    """

    def __init__(self, policy: LatentSteeredPolicy, cfg: DPPOConfig, steer: SteerConfig,
                 bmd: BMDConfig, n_envs: int, max_decisions: int, device: str = "cpu",
                 seed: int = 0) -> None:
        super().__init__(policy, cfg, device, seed)
        self.deterministic_base = True
        self.bmd = bmd
        self.steer = SteerTrainer(policy, steer, bmd, n_envs, max_decisions, device, seed)
        self.latent = self.steer.latent
        assert self.latent is not None
        self.max_decisions = max_decisions
        self.steer_scaler = None
        self._decisions: list[tuple[torch.Tensor, ...]] = []
        self._itr, self._iterations = 0, 1
        self._venv: HorizonLimit | None = None

    # -------------------------------------------------------------- DPPO's hooks
    def on_episode_start(self, mask: np.ndarray) -> None:
        """Draw z for the episodes that start now."""
        self.latent.start_episodes(mask)

    def initial_noise(self, n: int, cond: torch.Tensor) -> torch.Tensor:
        """w = bound · tanh(u), u from the z-conditioned steering actor (recorded for PPO)."""
        pol = self.policy
        latent = self.latent.latent_input()
        with torch.no_grad():
            d = pol.steer_actor.dist(pol.steer_input(cond, latent))
            u = d.mean + d.stddev * torch.randn(d.mean.shape, generator=self.gen,
                                                device=self.device)
            self._decisions.append((cond, latent, u, d.log_prob(u).sum(-1)))
        return pol.noise(u)

    def step_extras(self) -> dict[str, np.ndarray]:
        """Each decision's code (for q_φ's training)."""
        return {"z": self.latent.z.cpu().numpy().copy()}

    def intrinsic_rewards(self, obs: np.ndarray, next_obs: np.ndarray,
                          dones: np.ndarray) -> np.ndarray:
        """λ (log q_φ(z|s') − log p(z)) of each env's decision, (N,)."""
        cond = self.policy.normalize_obs(next_obs)
        return self.latent.reward(cond, self.latent.z).cpu().numpy().astype(np.float64)

    def after_collect(self, batch: Rollout) -> dict[str, float]:
        """Stage 1 masks the task reward; q_φ and the steering actor train on the batch."""
        from baselines.common.ppo import RunningRewardScaler

        stage = self.bmd.stage(self._itr, self._iterations)
        if stage == 1:
            batch.rewards[:] = 0.0  # DPPO's update then sees the intrinsic reward alone
        s, n = batch.rewards.shape
        dev = self.device
        next_cond = torch.as_tensor(batch.next_obs.reshape(s * n, -1), device=dev)
        z = torch.as_tensor(batch.extras["z"].reshape(-1), dtype=torch.long, device=dev)
        stats: dict[str, float] = {"stage": stage, "intrinsic": float(batch.intrinsic.mean())}
        stats.update(self.latent.train(next_cond, z))
        cond, latent, u, logp = (torch.cat(x) for x in zip(*self._decisions, strict=True))
        self._decisions.clear()
        flat = {"cond": cond, "latent": latent, "u": u, "logp": logp,
                "v": torch.zeros_like(u), "use": torch.zeros(len(u), device=dev),
                "x_base": torch.zeros_like(u), "next_cond": next_cond,
                "terminated": torch.as_tensor(batch.terminated.reshape(-1), device=dev),
                "done": torch.as_tensor(batch.dones.reshape(-1), device=dev)}
        if self.steer_scaler is None and self.steer.cfg.reward_scale_running:
            self.steer_scaler = RunningRewardScaler(n, self.steer.cfg.gamma)
        rewards = batch.rewards + batch.intrinsic
        if self.steer_scaler is not None:
            rewards = self.steer_scaler(rewards, batch.firsts)
        stats.update({f"steer_{k}": v for k, v in self.steer.update(flat, rewards).items()})
        self._itr += 1
        if self._venv is not None:  # the curriculum's horizon of the next iteration
            self._venv.horizon = self.bmd.horizon(self._itr, self._iterations,
                                                  self.max_decisions)
        return stats

    def train(self, venv: Any, obs: np.ndarray, iterations: int, n_steps: int,
              progress: Progress = SILENT,
              checkpoints: Mapping[int, Callable[[Any], None]] | None = None,
              on_iteration: Callable[[int, dict, dict], None] | None = None,
              ) -> LatentSteeredPolicy:
        """DPPO's loop, with the curriculum's horizon limit around ``venv``."""
        self._itr, self._iterations = 0, iterations
        self._venv = HorizonLimit(venv)
        self._venv.horizon = self.bmd.horizon(0, iterations, self.max_decisions)
        return super().train(self._venv, obs, iterations, n_steps, progress, checkpoints,
                             on_iteration)
