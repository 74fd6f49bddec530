"""The PPO core shared by every fine-tuner (DPPO, DSRL steering, residual policies).

Pure functions and small state holders, each written once: GAE over environment decisions,
the clipped surrogate, DPPO's running reward scaler, a diagonal Gaussian actor head, and
DPPO's per-step clip schedule.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, dones: np.ndarray,
        gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over environment decisions.

    Args:
        rewards: r_t, shape (S, N) (S decisions, N envs).
        values: V(s_t), shape (S, N).
        next_values: Value of the true successor of s_t, shape (S, N): V(s_{t+1}) while the
            episode runs, V(final_obs) when it was truncated, 0 when it terminated.
        dones: Whether the episode ended at t (terminated or truncated), shape (S, N); the
            advantage trace does not cross an episode boundary.
        gamma: Discount.
        lam: GAE λ.

    Returns:
        ``advantages`` and ``returns`` (= advantages + values), each (S, N).
    """
    s = rewards.shape[0]
    adv = np.zeros_like(rewards, dtype=np.float64)
    last = np.zeros(rewards.shape[1:], dtype=np.float64)
    for t in reversed(range(s)):
        delta = rewards[t] + gamma * next_values[t] - values[t]
        last = delta + gamma * lam * (1.0 - dones[t]) * last
        adv[t] = last
    return adv, adv + values


def clip_coef_schedule(k: int, coef: float, base: float, rate: float) -> np.ndarray:
    """PPO clip per fine-tuned denoising step (DPPO ``diffusion_ppo.py``), shape (k,).

    Exponential interpolation from ``base`` (first fine-tuned step, j = 0) to ``coef`` (last
    step, j = k - 1): ``base + (coef - base) * (exp(rate * j/(k-1)) - 1) / (exp(rate) - 1)``.
    """
    if k == 1:
        return np.array([coef])
    t = np.arange(k) / (k - 1)
    return base + (coef - base) * (np.exp(rate * t) - 1) / (math.exp(rate) - 1)


def ppo_policy_loss(new_logprob: torch.Tensor, old_logprob: torch.Tensor,
                    advantages: torch.Tensor, clip: torch.Tensor | float
                    ) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped PPO surrogate ``mean(max(-A r, -A clip(r, 1-c, 1+c)))``.

    Args:
        new_logprob: log π_new, (B,).
        old_logprob: log π_old, (B,).
        advantages: (B,), already normalised/discounted.
        clip: Clip coefficient, scalar or (B,).

    Returns:
        The loss and diagnostics ``approx_kl``, ``clipfrac``, ``ratio``.
    """
    logratio = new_logprob - old_logprob
    ratio = logratio.exp()
    clip_t = torch.as_tensor(clip, dtype=ratio.dtype, device=ratio.device)
    pg1 = -advantages * ratio
    pg2 = -advantages * torch.clamp(ratio, 1 - clip_t, 1 + clip_t)
    loss = torch.max(pg1, pg2).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean().item()
        clipfrac = ((ratio - 1.0).abs() > clip_t).float().mean().item()
    return loss, {"approx_kl": approx_kl, "clipfrac": clipfrac, "ratio": ratio.mean().item()}


def gaussian_entropy(std: torch.Tensor) -> torch.Tensor:
    """Closed-form differential entropy per dimension of N(·, std²): 0.5 log(2πe std²)."""
    return 0.5 * torch.log(2 * math.pi * math.e * std ** 2)


def successor_obs(next_obs: np.ndarray, done: np.ndarray, infos: dict) -> np.ndarray:
    """Each env's true successor of its last decision, (N, obs_dim): the returned obs while
    the episode runs, the ended episode's last obs (``infos["final_obs"]``) where it ended
    (a same-step-autoreset vector env returns the next episode's reset obs there)."""
    out = np.array(next_obs, dtype=np.float32, copy=True)
    if done.any() and "_final_obs" in infos:
        for i in np.flatnonzero(infos["_final_obs"]):
            out[i] = infos["final_obs"][i]
    return out


class OutcomeTally:
    """Success and mode of the training episodes that ended, per fine-tuning iteration (the
    learning curves the runner logs).

    ``add`` reads a same-step-autoreset vector env's ``final_info`` (``success``, ``mode``)
    of the envs whose episode ended; ``pop`` returns and clears the iteration's tally.
    """

    def __init__(self) -> None:
        self.outcomes: list[tuple[bool, str]] = []

    def add(self, done: np.ndarray, infos: dict) -> None:
        """Record the ended episodes of one vector step (``done``: (N,) bool)."""
        if not np.any(done) or "final_info" not in infos:
            return
        fi = infos["final_info"]
        success, mode = fi.get("success"), fi.get("mode")
        for i in np.flatnonzero(done):
            ok = bool(success[i]) if success is not None else False
            self.outcomes.append((ok, str(mode[i]) if mode is not None and ok else ""))

    def pop(self) -> tuple[dict[str, float], dict[str, int]]:
        """``({"train_success": share, "train_episodes": n}, {mode: successes})`` of the
        episodes recorded since the last call (share NaN when none ended)."""
        n = len(self.outcomes)
        wins = [m for ok, m in self.outcomes if ok]
        modes: dict[str, int] = {}
        for m in wins:
            modes[m] = modes.get(m, 0) + 1
        self.outcomes = []
        return ({"train_success": len(wins) / n if n else float("nan"),
                 "train_episodes": float(n)}, modes)


class RunningMeanStd:
    """Running mean/variance (Welford, parallel form) of scalars."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def update(self, x: np.ndarray) -> None:
        """Fold a batch of values in."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size == 0:
            return
        bm, bv, bc = x.mean(), x.var(), x.size
        delta, tot = bm - self.mean, self.count + bc
        m2 = self.var * self.count + bv * bc + delta ** 2 * self.count * bc / tot
        self.mean, self.var, self.count = self.mean + delta * bc / tot, m2 / tot, tot


class RunningRewardScaler:
    """DPPO's ``RunningRewardScaler``: divide rewards by the running std of the discounted
    return (per env, reset at episode starts), then clip.

    Args:
        n_envs: Number of envs.
        gamma: Discount of the tracked return.
        clip: Clip of scaled rewards.
    """

    def __init__(self, n_envs: int, gamma: float, clip: float = 10.0) -> None:
        self.ret = np.zeros(n_envs)
        self.rms = RunningMeanStd()
        self.gamma, self.clip = gamma, clip

    def __call__(self, rewards: np.ndarray, firsts: np.ndarray) -> np.ndarray:
        """Scale rewards (S, N); ``firsts`` (S, N) marks decisions that start an episode."""
        rets = np.zeros_like(rewards, dtype=np.float64)
        ret = self.ret
        for t in range(rewards.shape[0]):
            ret = ret * self.gamma * (1.0 - firsts[t]) + rewards[t]
            rets[t] = ret
        self.ret = ret
        self.rms.update(rets)
        return np.clip(rewards / np.sqrt(self.rms.var + 1e-8), -self.clip, self.clip)




class GaussianActor(torch.nn.Module):
    """A diagonal Gaussian policy head: Mish MLP mean and a learned, state-independent
    log standard deviation (CleanRL's continuous PPO actor).

    Args:
        in_dim: Input size.
        out_dim: Action size.
        hidden_dims: MLP widths.
        init_log_std: Initial log std of every dimension.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dims: tuple[int, ...],
                 init_log_std: float) -> None:
        super().__init__()
        from baselines.common.nets import mlp

        self.mean = mlp([in_dim, *hidden_dims, out_dim])
        # a small last layer: the initial policy's mean is near 0 (DSRL: near the base's own
        # noise distribution; a residual: near no correction)
        last = self.mean[-1]
        torch.nn.init.uniform_(last.weight, -1e-3, 1e-3)
        torch.nn.init.zeros_(last.bias)
        self.log_std = torch.nn.Parameter(torch.full((out_dim,), float(init_log_std)))

    def dist(self, x: torch.Tensor) -> torch.distributions.Normal:
        """The action distribution of inputs (B, in_dim): Normal with (B, out_dim) params."""
        mu = self.mean(x)
        return torch.distributions.Normal(mu, self.log_std.clamp(-5.0, 2.0).exp().expand_as(mu))

    def log_prob(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Summed log-density of actions u (B, out_dim) at inputs x (B, in_dim), (B,)."""
        return self.dist(x).log_prob(u).sum(-1)
