"""DPPO: PPO over the denoising chain of a diffusion policy (Ren et al. 2024).

The environment MDP (one step = one action chunk executed open-loop) is extended by the
inner denoising MDP: each fine-tuned DDIM step ``x_j -> x_{j+1}`` is an action of a Gaussian
policy ``N(mu_θ(x_j, s), σ_j^2)`` whose advantage is the environment decision's GAE
advantage, discounted by ``gamma_denoising`` per remaining denoising step. The structure
follows DPPO's ``train_ppo_diffusion_agent.py`` (collection, GAE, minibatches of decisions
that carry all K' denoising steps, target-KL stop) and ``diffusion_ppo.py`` (the loss:
advantages normalised over decisions, repeated over the K' steps and discounted by
``gamma_denoising``, a clip per step).

Deviations from the public code, all deliberate:

* truncated episodes bootstrap from ``V(final_obs)`` (DPPO bootstraps from the next
  episode's reset observation under auto-reset), and GAE traces are cut at every episode
  end; terminal steps get no bootstrap;
* learning rates are constant (DPPO's configs set the cosine schedule's min equal to lr).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.common.nets import CriticObs
from baselines.common.policy import DiffusionPolicy
from baselines.common.ppo import (
    OutcomeTally,
    RunningRewardScaler,
    clip_coef_schedule,
    gae,
    gaussian_entropy,
    ppo_policy_loss,
    successor_obs,
)
from baselines.dppo.config import DPPOConfig
from benchmark.errors import TrainingError
from benchmark.progress import SILENT, Progress


class Eta(nn.Module):
    """DDIM eta of the stochastic chain: fixed (``EtaFixed``) or learned per action
    dimension (``EtaAction``-like), squashed into [min_eta, max_eta] with tanh.

    Args:
        cfg: DPPO config.
        flat_dim: ``horizon * act_dim`` (a learned eta is per action dim, shared over time).
        act_dim: Action size.
    """

    def __init__(self, cfg: DPPOConfig, flat_dim: int, act_dim: int) -> None:
        super().__init__()
        self.min, self.max, self.learn = cfg.min_eta, cfg.max_eta, cfg.learn_eta
        self.horizon = flat_dim // act_dim
        if cfg.learn_eta:
            init = 2 * (cfg.eta - cfg.min_eta) / (cfg.max_eta - cfg.min_eta) - 1
            self.logit = nn.Parameter(torch.full((act_dim,), math.atanh(init)))
        else:
            self.register_buffer("fixed", torch.tensor(float(cfg.eta)))

    def forward(self) -> torch.Tensor:
        """Eta, shape () when fixed or (H * A,) when learned."""
        if not self.learn:
            return self.fixed
        eta = 0.5 * (torch.tanh(self.logit) + 1) * (self.max - self.min) + self.min
        return eta.repeat(self.horizon)


# ---------------------------------------------------------------------- the trainer
@dataclass
class Rollout:
    """One iteration's on-policy data; S decisions x N envs.

    Attributes:
        obs: Normalised observations, (S, N, obs_dim).
        chains: Fine-tuned denoising chains, (S, N, K' + 1, H * A).
        rewards: Environment rewards (unscaled), (S, N).
        intrinsic: Intrinsic rewards added by subclasses (unscaled), (S, N).
        terminated: (S, N).
        dones: Terminated or truncated, (S, N).
        firsts: Decision starts an episode, (S, N).
        next_obs: Normalised true successor observations (final obs at episode ends),
            (S, N, obs_dim).
        extras: Subclass data (e.g. BMD's latent per decision).
    """

    obs: np.ndarray
    chains: np.ndarray
    rewards: np.ndarray
    intrinsic: np.ndarray
    terminated: np.ndarray
    dones: np.ndarray
    firsts: np.ndarray
    next_obs: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)


class DPPOTrainer:
    """Fine-tunes a :class:`DiffusionPolicy` with DPPO.

    Subclasses customise the initial noise (:meth:`initial_noise`), episode bookkeeping
    (:meth:`on_episode_start`), intrinsic rewards (:meth:`intrinsic_rewards`) and extra
    per-iteration training (:meth:`after_collect`).

    Args:
        policy: The pretrained policy (modified in place: gains ``actor_ft``).
        cfg: DPPO config.
        device: Torch device.
        seed: Training seed (initial-noise and chain draws use a generator seeded by it).
    """

    def __init__(self, policy: DiffusionPolicy, cfg: DPPOConfig, device: str = "cpu",
                 seed: int = 0) -> None:
        self.policy, self.cfg, self.device = policy, cfg, device
        model = policy.model
        if cfg.chain == "ddpm" and model.actor_ft is None:
            model.set_ddim_steps(model.cfg.denoising_steps)
        k = min(cfg.ft_denoising_steps, model.cfg.ddim_steps)
        policy.enable_finetuning(k)
        self.k = k
        self.gen = torch.Generator(device=device).manual_seed(10_007 * seed + 17)
        torch.manual_seed(seed)
        self.critic = CriticObs(policy.obs_dim, cfg.critic_hidden_dims).to(device)
        self.eta = Eta(cfg, model.flat_dim, policy.act_dim).to(device)
        actor_params = list(model.actor_ft.parameters())
        self.actor_optim = torch.optim.Adam(actor_params, lr=cfg.actor_lr)
        self.critic_optim = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.eta_optim = (torch.optim.Adam(self.eta.parameters(), lr=cfg.eta_lr)
                          if cfg.learn_eta else None)
        self.clip_coefs = torch.as_tensor(
            clip_coef_schedule(k, cfg.clip_ploss_coef, cfg.clip_ploss_coef_base,
                               cfg.clip_ploss_coef_rate), dtype=torch.float32, device=device)
        self.timing: dict[str, float] = {"env": 0.0, "sample": 0.0, "update": 0.0}
        # DPPO samples every denoising step stochastically; BMD keeps the frozen ones
        # deterministic so the initial noise keeps selecting the mode
        self.deterministic_base = False
        self.env_steps = 0
        self.history: list[dict[str, float]] = []
        self.outcomes = OutcomeTally()
        # decision indices of each minibatch of the last update (tests check that a
        # decision's denoising steps are never split across minibatches)
        self.minibatch_decisions: list[torch.Tensor] = []

    # -------------------------------------------------------------- hooks
    def initial_noise(self, n: int, cond: torch.Tensor) -> torch.Tensor:
        """Initial DDIM noise for the N envs' current decisions, (N, H * A), given their
        normalised observations ``cond`` (N, obs_dim) (a steering policy reads them)."""
        return torch.randn(n, self.policy.model.flat_dim, generator=self.gen,
                           device=self.device)

    def on_episode_start(self, mask: np.ndarray) -> None:
        """Called with a (N,) bool mask of envs whose episode starts now."""

    def intrinsic_rewards(self, obs: np.ndarray, next_obs: np.ndarray,
                          dones: np.ndarray) -> np.ndarray:
        """Intrinsic reward of each env's decision (N,); 0 for DPPO."""
        return np.zeros(len(obs))

    def step_extras(self) -> dict[str, np.ndarray]:
        """Per-decision data a subclass records (each (N, ...))."""
        return {}

    def after_collect(self, batch: Rollout) -> dict[str, float]:
        """Extra training on the iteration's data (BMD's discriminator); returns stats."""
        return {}

    # -------------------------------------------------------------- log-probs
    def logprobs(self, cond: torch.Tensor, x_prev: torch.Tensor, x_next: torch.Tensor,
                 index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of fine-tuned denoising transitions (DPPO ``get_logprobs``).

        Args:
            cond: Normalised observations, (B, obs_dim).
            x_prev: Chain states before the step, (B, H * A).
            x_next: Chain states after the step, (B, H * A).
            index: DDIM index of each step, (B,) int64 (fine-tuned indices only).

        Returns:
            Log-probs averaged over the executed actions' dimensions, (B,), each dimension
            clipped to [logprob_min, logprob_max]; and the sampling std (B, H * A) (for the
            entropy bonus).
        """
        cfg = self.cfg
        mu, sigma = self.policy.model.p_mean_std(x_prev, index, cond, self.eta())
        std = sigma.expand_as(mu).clamp(min=cfg.min_logprob_denoising_std)
        lp = torch.distributions.Normal(mu, std).log_prob(x_next)
        lp = lp.clamp(cfg.logprob_min, cfg.logprob_max)
        h, a = self.policy.horizon, self.policy.act_dim
        # only the executed actions (DPPO's reward_horizon = act_steps) carry the signal
        lp = lp.view(-1, h, a)[:, : self.policy.act_steps].mean(dim=(1, 2))
        sample_std = sigma.expand_as(mu).clamp(min=cfg.min_sampling_denoising_std)
        return lp, sample_std

    def chain_logprobs(self, obs: torch.Tensor, chains: torch.Tensor) -> torch.Tensor:
        """Log-probs of every fine-tuned step of chains (B, K'+1, H*A) -> (B, K')."""
        b = chains.shape[0]
        n = self.policy.model.cfg.ddim_steps
        out = []
        for j in range(self.k):
            idx = torch.full((b,), n - self.k + j, dtype=torch.long, device=self.device)
            lp, _ = self.logprobs(obs, chains[:, j], chains[:, j + 1], idx)
            out.append(lp)
        return torch.stack(out, dim=1)

    # -------------------------------------------------------------- collection
    def collect(self, venv: Any, obs: np.ndarray, n_steps: int,
                firsts_now: np.ndarray) -> tuple[Rollout, np.ndarray, np.ndarray]:
        """Run ``n_steps`` decisions in every env with the stochastic fine-tuned chain.

        Returns:
            The rollout, the last observations (N, obs_dim) and the next decision's
            episode-start mask (N,).
        """
        cfg, pol = self.cfg, self.policy
        n = len(obs)
        o_buf, c_buf, r_buf, ri_buf, te_buf, d_buf, f_buf, no_buf = ([] for _ in range(8))
        extras: dict[str, list[np.ndarray]] = {}
        firsts = firsts_now
        with torch.no_grad():
            eta = self.eta()
        for _ in range(n_steps):
            t0 = time.perf_counter()
            self.on_episode_start(firsts)
            for key, val in self.step_extras().items():
                extras.setdefault(key, []).append(val)
            cond = pol.normalize_obs(obs)
            x, chain = pol.model.sample(
                cond, self.initial_noise(n, cond), deterministic=False, eta=eta,
                min_sampling_std=cfg.min_sampling_denoising_std,
                randn_clip_value=cfg.randn_clip_value, return_chain=True, generator=self.gen,
                deterministic_base=self.deterministic_base)
            actions = pol.chunk_to_actions(x)
            t1 = time.perf_counter()
            next_obs, reward, term, trunc, infos = venv.step(actions)
            t2 = time.perf_counter()
            self.timing["sample"] += t1 - t0
            self.timing["env"] += t2 - t1
            done = np.logical_or(term, trunc)
            self.outcomes.add(done, infos)
            true_next = successor_obs(next_obs, done, infos)
            self.env_steps += int(np.sum(_env_steps(infos, done, n, pol.act_steps)))
            ri = self.intrinsic_rewards(obs, true_next, done)
            o_buf.append(cond.cpu().numpy())
            c_buf.append(chain.cpu().numpy())
            r_buf.append(np.asarray(reward, dtype=np.float64))
            ri_buf.append(np.asarray(ri, dtype=np.float64))
            te_buf.append(np.asarray(term, dtype=np.float64))
            d_buf.append(done.astype(np.float64))
            f_buf.append(firsts.astype(np.float64))
            no_buf.append(pol.obs_norm.normalize(true_next))
            obs = np.asarray(next_obs, dtype=np.float32)
            firsts = done
        batch = Rollout(np.stack(o_buf), np.stack(c_buf), np.stack(r_buf), np.stack(ri_buf),
                        np.stack(te_buf), np.stack(d_buf), np.stack(f_buf), np.stack(no_buf),
                        {k: np.stack(v) for k, v in extras.items()})
        return batch, obs, firsts

    # -------------------------------------------------------------- update
    def update(self, batch: Rollout, scaler: RunningRewardScaler | None,
               train_actor: bool) -> dict[str, float]:
        """GAE + PPO epochs over minibatches of decisions (all K' steps of each)."""
        cfg, dev = self.cfg, self.device
        self.minibatch_decisions = []
        s, n = batch.rewards.shape
        obs_t = torch.as_tensor(batch.obs.reshape(s * n, -1), device=dev)
        chains_t = torch.as_tensor(batch.chains.reshape(s * n, self.k + 1, -1), device=dev)
        with torch.no_grad():
            values = self.critic(obs_t).cpu().numpy().reshape(s, n).astype(np.float64)
            nv = self.critic(torch.as_tensor(batch.next_obs.reshape(s * n, -1), device=dev))
            next_values = nv.cpu().numpy().reshape(s, n).astype(np.float64)
            old_lp = self.chain_logprobs(obs_t, chains_t)  # (S*N, K')
        next_values *= 1.0 - batch.terminated
        rewards = batch.rewards + batch.intrinsic
        if scaler is not None:
            rewards = scaler(rewards, batch.firsts)
        rewards = rewards * cfg.reward_scale_const
        adv, ret = gae(rewards, values, next_values, batch.dones, cfg.gamma, cfg.gae_lambda)
        adv_t = torch.as_tensor(adv.reshape(-1), dtype=torch.float32, device=dev)
        ret_t = torch.as_tensor(ret.reshape(-1), dtype=torch.float32, device=dev)
        val_t = torch.as_tensor(values.reshape(-1), dtype=torch.float32, device=dev)
        total = s * n
        # minibatches of decisions, each with all K' denoising steps (DPPO's agent): the
        # advantage is normalised over decisions, then discounted per denoising step
        mb = max(1, min(total, round(cfg.minibatch_fraction * total)))
        n_ddim = self.policy.model.cfg.ddim_steps
        steps = torch.arange(self.k, device=dev)
        discount = cfg.gamma_denoising ** (self.k - steps - 1).float()  # (K',)
        stats: dict[str, list[float]] = {}
        stop = False
        for _epoch in range(cfg.update_epochs):
            perm = torch.randperm(total, generator=self.gen, device=dev)
            for start in range(0, total - mb + 1, mb):  # DPPO skips a last partial batch
                bi = perm[start:start + mb]
                a = adv_t[bi]
                if cfg.norm_adv and len(a) > 1:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                # (B, K') grid: row = decision, column = its fine-tuned denoising step
                rows = bi.repeat_interleave(self.k)
                cols = steps.repeat(len(bi))
                cond = obs_t[rows]
                new_lp, std = self.logprobs(cond, chains_t[rows, cols],
                                            chains_t[rows, cols + 1], n_ddim - self.k + cols)
                a_k = (a[:, None] * discount[None, :]).reshape(-1)
                pg_loss, info = ppo_policy_loss(new_lp, old_lp[rows, cols], a_k,
                                                self.clip_coefs[cols])
                new_v = self.critic(obs_t[bi])
                if cfg.clip_vloss_coef is not None:
                    v_clip = val_t[bi] + (new_v - val_t[bi]).clamp(-cfg.clip_vloss_coef,
                                                                    cfg.clip_vloss_coef)
                    v_loss = 0.5 * torch.max((new_v - ret_t[bi]) ** 2,
                                             (v_clip - ret_t[bi]) ** 2).mean()
                else:
                    v_loss = 0.5 * ((new_v - ret_t[bi]) ** 2).mean()
                entropy = gaussian_entropy(std).mean()
                loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"{type(self).__name__}: non-finite PPO loss (pg={pg_loss.item()}, "
                        f"v={v_loss.item()}); lower actor_lr/critic_lr")
                self.actor_optim.zero_grad(set_to_none=True)
                self.critic_optim.zero_grad(set_to_none=True)
                if self.eta_optim is not None:
                    self.eta_optim.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(self.policy.model.actor_ft.parameters(),
                                             cfg.max_grad_norm)
                    nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
                self.critic_optim.step()
                if train_actor:
                    self.actor_optim.step()
                    if self.eta_optim is not None:
                        self.eta_optim.step()
                self.minibatch_decisions.append(bi)
                for key, val in (("pg_loss", pg_loss.item()), ("v_loss", v_loss.item()),
                                 ("entropy", entropy.item()), *info.items()):
                    stats.setdefault(key, []).append(val)
                if train_actor and cfg.target_kl is not None and info["approx_kl"] > cfg.target_kl:
                    stop = True
                    break
            if stop:
                break
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        out["kl_stop"] = float(stop)
        return out

    # -------------------------------------------------------------- main loop
    def train(self, venv: Any, obs: np.ndarray, iterations: int, n_steps: int,
              progress: Progress = SILENT,
              checkpoints: Mapping[int, Callable[[Any], None]] | None = None,
              on_iteration: Callable[[int, dict, dict], None] | None = None,
              ) -> DiffusionPolicy:
        """Run ``iterations`` of collect + update; returns the fine-tuned policy.

        Args:
            venv: Training vector env.
            obs: Its current observations, (n_envs, obs_dim).
            iterations: Collect + update iterations.
            n_steps: Decisions per env and iteration.
            progress: Progress reporter.
            checkpoints: ``{iteration: fn}``: ``fn(policy)`` after that many iterations.
            on_iteration: ``fn(iteration, stats, modes)`` after each iteration, with the
                training episodes' success share and mode counts (learning curves).
        """
        cfg = self.cfg
        n = len(obs)
        scaler = RunningRewardScaler(n, cfg.gamma) if cfg.reward_scale_running else None
        warmup = min(cfg.n_critic_warmup_itr, max(iterations - 1, 0))
        firsts = np.ones(n, dtype=bool)
        with progress.task(f"fine-tune {type(self).__name__.replace('Trainer', '')}",
                           total=iterations) as advance:
            for itr in range(iterations):
                self.policy.model.eval()
                batch, obs, firsts = self.collect(venv, obs, n_steps, firsts)
                t0 = time.perf_counter()
                extra = self.after_collect(batch)
                stats = self.update(batch, scaler, train_actor=itr >= warmup)
                self.timing["update"] += time.perf_counter() - t0
                ended = batch.dones.sum()
                stats.update(extra)
                stats["iteration"] = itr
                stats["episodes"] = float(ended)
                stats["reward"] = float(batch.rewards.sum() / max(ended, 1))
                outcome, modes = self.outcomes.pop()
                stats.update(outcome)
                self.history.append(stats)
                if on_iteration is not None:
                    on_iteration(itr, stats, modes)
                advance(1, ret=stats["reward"], kl=stats.get("approx_kl", 0.0))
                if checkpoints and itr + 1 in checkpoints:
                    self.policy.model.eval()
                    checkpoints[itr + 1](self.policy)
        self.policy.model.eval()
        return self.policy


def _env_steps(infos: dict[str, Any], done: np.ndarray, n: int, act_steps: int) -> np.ndarray:
    """Env steps of each env's last decision (``env_steps`` info of ChunkedActions)."""
    steps = np.full(n, act_steps)
    if "env_steps" in infos:
        steps = np.where(infos.get("_env_steps", np.ones(n, bool)), infos["env_steps"], steps)
    if done.any() and "final_info" in infos:
        fi = infos["final_info"]
        if "env_steps" in fi:
            steps = np.where(done, fi["env_steps"], steps)
    return steps
