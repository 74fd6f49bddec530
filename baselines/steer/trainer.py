"""PPO for actors on a frozen diffusion base: DSRL steering, residuals, and BMD on top.

One decision = one action chunk. The joint action of a decision is (u, v): the steering
actor's pre-squash noise action u (w = bound · tanh(u)) and the residual actor's v; its
log-probability is the sum of the two Gaussians' (a residual left out by the controlled-
exploration schedule contributes nothing). PPO (clip, GAE, epochs over decision minibatches)
as the BMD notes give it; the squashing's Jacobian cancels in the ratio, since old and new
log-probabilities are taken at the same u.

With a :class:`~baselines.steer.latent.LatentRegularizer` (BMD) the trainer draws z per
episode, feeds it to the steering actor and the critic, adds λ (log q_φ(z|s') − log p(z)) to
every decision's reward, trains q_φ every iteration, uses the intrinsic reward alone during
stage 1, and truncates episodes at the curriculum's horizon.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.common.nets import CriticObs
from baselines.common.ppo import (
    OutcomeTally,
    RunningRewardScaler,
    gae,
    ppo_policy_loss,
    successor_obs,
)
from baselines.steer.config import BMDConfig, SteerConfig
from baselines.steer.curriculum import HorizonLimit
from baselines.steer.latent import LatentRegularizer
from baselines.steer.policy import SteeredPolicy
from benchmark.errors import TrainingError
from benchmark.progress import SILENT, Progress


class SteerTrainer:
    """Trains a :class:`SteeredPolicy`'s actors with PPO (and BMD when ``bmd`` is given).

    Args:
        policy: The policy (its actors are created by the caller).
        cfg: Fine-tuner config.
        bmd: The regulariser's config, or None (plain DSRL / RES).
        n_envs: Parallel training envs.
        max_decisions: The task's horizon T in decisions (the curriculum's end point).
        device: Torch device.
        seed: Training seed.
    """

    def __init__(self, policy: SteeredPolicy, cfg: SteerConfig, bmd: BMDConfig | None,
                 n_envs: int, max_decisions: int, device: str = "cpu", seed: int = 0) -> None:
        self.policy, self.cfg, self.bmd, self.device = policy, cfg, bmd, device
        self.max_decisions = max_decisions
        self.gen = torch.Generator(device=device).manual_seed(7_919 * seed + 3)
        torch.manual_seed(seed)
        self.latent = (LatentRegularizer(policy.obs_dim, n_envs, bmd, device, self.gen)
                       if bmd is not None else None)
        k = bmd.n_latent if bmd is not None else 0
        self.critic = CriticObs(policy.obs_dim + k, cfg.hidden_dims).to(device)
        self.actors = [a for a in (policy.steer_actor, policy.residual_actor) if a is not None]
        params = [p for a in self.actors for p in a.parameters()]
        self.optim = torch.optim.Adam(params + list(self.critic.parameters()), lr=cfg.lr)
        self.history: list[dict[str, float]] = []
        self.outcomes = OutcomeTally()
        self.timing = {"sample": 0.0, "env": 0.0, "update": 0.0}
        self.env_steps = 0

    # -------------------------------------------------------------- schedules
    def residual_probability(self, itr: int, iterations: int) -> float:
        """Policy Decorator's controlled exploration: P(the residual acts) at ``itr``."""
        ramp = self.cfg.residual_ramp_fraction * iterations
        return 1.0 if ramp <= 0 else float(min(1.0, (itr + 1) / ramp))

    # -------------------------------------------------------------- collection
    def _latent(self) -> torch.Tensor | None:
        return None if self.latent is None else self.latent.latent_input()

    def collect(self, venv: Any, obs: np.ndarray, n_steps: int, firsts: np.ndarray,
                p_residual: float) -> tuple[dict[str, torch.Tensor], np.ndarray, np.ndarray]:
        """Run ``n_steps`` decisions in every env; returns tensors (S*N, ...), the last
        observations and the next decision's episode-start mask."""
        pol, dev = self.policy, self.device
        n = len(obs)
        keys = ("cond", "latent", "u", "v", "use", "x_base", "logp", "reward", "terminated",
                "done", "first", "next_cond", "z")
        buf: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
        for _ in range(n_steps):
            t0 = time.perf_counter()
            if self.latent is not None:
                self.latent.start_episodes(firsts)
            with torch.no_grad():
                cond = pol.normalize_obs(obs)
                latent = self._latent()
                logp = torch.zeros(n, device=dev)
                if pol.steer_actor is not None:
                    d = pol.steer_actor.dist(pol.steer_input(cond, latent))
                    u = d.mean + d.stddev * torch.randn(d.mean.shape, generator=self.gen,
                                                        device=dev)
                    logp += d.log_prob(u).sum(-1)
                    w = pol.noise(u)
                else:
                    u = torch.zeros(n, pol.model.flat_dim, device=dev)
                    w = torch.randn(n, pol.model.flat_dim, generator=self.gen, device=dev)
                x_base = pol.base_chunk(cond, w)
                v = torch.zeros_like(x_base)
                use = torch.zeros(n, device=dev)
                x = x_base
                if pol.residual_actor is not None:
                    d = pol.residual_actor.dist(torch.cat([cond, x_base], dim=-1))
                    v = d.mean + d.stddev * torch.randn(d.mean.shape, generator=self.gen,
                                                        device=dev)
                    use = (torch.rand(n, generator=self.gen, device=dev) < p_residual).float()
                    logp += use * d.log_prob(v).sum(-1)
                    x = pol.add_residual(x_base, v, use)
            actions = pol.chunk_to_actions(x)
            t1 = time.perf_counter()
            next_obs, reward, term, trunc, infos = venv.step(actions)
            t2 = time.perf_counter()
            self.timing["sample"] += t1 - t0
            self.timing["env"] += t2 - t1
            term = np.asarray(term, dtype=bool)
            done = np.logical_or(term, trunc)
            self.outcomes.add(done, infos)
            true_next = successor_obs(next_obs, done, infos)
            self.env_steps += int(np.sum(infos.get("env_steps", pol.act_steps)))
            z = (self.latent.z.clone() if self.latent is not None
                 else torch.zeros(n, dtype=torch.long, device=dev))
            for key, val in (("cond", cond), ("latent", latent if latent is not None else
                                              torch.zeros(n, 0, device=dev)),
                             ("u", u), ("v", v), ("use", use), ("x_base", x_base),
                             ("logp", logp), ("z", z),
                             ("reward", torch.as_tensor(reward, dtype=torch.float64)),
                             ("terminated", torch.as_tensor(term, dtype=torch.float64)),
                             ("done", torch.as_tensor(done, dtype=torch.float64)),
                             ("first", torch.as_tensor(firsts, dtype=torch.float64)),
                             ("next_cond", pol.normalize_obs(true_next))):
                buf[key].append(val)
            obs = np.asarray(next_obs, dtype=np.float32)
            firsts = done.copy()
        out = {k: torch.stack(v) for k, v in buf.items()}  # (S, N, ...)
        return out, obs, firsts

    # -------------------------------------------------------------- update
    def new_logprob(self, b: dict[str, torch.Tensor], ids: torch.Tensor) -> torch.Tensor:
        """Joint log-probability of decisions ``ids`` under the current actors, (B,)."""
        pol = self.policy
        lp = torch.zeros(len(ids), device=self.device)
        if pol.steer_actor is not None:
            inp = pol.steer_input(b["cond"][ids], b["latent"][ids] if self.latent else None)
            lp = lp + pol.steer_actor.log_prob(inp, b["u"][ids])
        if pol.residual_actor is not None:
            inp = torch.cat([b["cond"][ids], b["x_base"][ids]], dim=-1)
            lp = lp + b["use"][ids] * pol.residual_actor.log_prob(inp, b["v"][ids])
        return lp

    def update(self, b: dict[str, torch.Tensor], rewards: np.ndarray) -> dict[str, float]:
        """GAE over decisions and PPO epochs; ``b`` holds (S*N, ...) tensors."""
        cfg, dev = self.cfg, self.device
        s, n = rewards.shape
        crit_in = torch.cat([b["cond"], b["latent"]], dim=-1)
        next_in = torch.cat([b["next_cond"], b["latent"]], dim=-1)
        with torch.no_grad():
            values = self.critic(crit_in).cpu().numpy().reshape(s, n).astype(np.float64)
            next_values = self.critic(next_in).cpu().numpy().reshape(s, n).astype(np.float64)
        next_values *= 1.0 - b["terminated"].cpu().numpy().reshape(s, n)
        adv, ret = gae(rewards, values, next_values, b["done"].cpu().numpy().reshape(s, n),
                       cfg.gamma, cfg.gae_lambda)
        adv_t = torch.as_tensor(adv.reshape(-1), dtype=torch.float32, device=dev)
        ret_t = torch.as_tensor(ret.reshape(-1), dtype=torch.float32, device=dev)
        total = s * n
        mb = min(cfg.minibatch_size, total)
        stats: dict[str, list[float]] = {}
        stop = False
        for _ in range(cfg.update_epochs):
            perm = torch.randperm(total, generator=self.gen, device=dev)
            for start in range(0, total, mb):
                ids = perm[start:start + mb]
                a = adv_t[ids]
                if len(a) > 1:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pg, info = ppo_policy_loss(self.new_logprob(b, ids), b["logp"][ids], a, cfg.clip)
                v_loss = 0.5 * ((self.critic(crit_in[ids]) - ret_t[ids]) ** 2).mean()
                loss = pg + cfg.vf_coef * v_loss
                if not torch.isfinite(loss):
                    raise TrainingError(f"{type(self).__name__}: non-finite PPO loss "
                                        f"(pg={pg.item()}, v={v_loss.item()}); lower lr")
                self.optim.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm is not None:
                    for module in (*self.actors, self.critic):
                        nn.utils.clip_grad_norm_(module.parameters(), cfg.max_grad_norm)
                self.optim.step()
                for key, val in (("pg_loss", pg.item()), ("v_loss", v_loss.item()),
                                 *info.items()):
                    stats.setdefault(key, []).append(val)
                if cfg.target_kl is not None and info["approx_kl"] > cfg.target_kl:
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
              ) -> SteeredPolicy:
        """Run ``iterations`` of collect + (q_φ training) + PPO; returns the policy.

        Args:
            venv: Training vector env (a gymnasium ``SyncVectorEnv``).
            obs: Its current observations, (n_envs, obs_dim).
            iterations: Iterations.
            n_steps: Decisions per env and iteration.
            progress: Progress reporter.
            checkpoints: ``{iteration: fn}``: ``fn(policy)`` after that many iterations.
            on_iteration: ``fn(iteration, stats, modes)`` after each iteration, with the
                training episodes' success share and mode counts (learning curves).
        """
        n = len(obs)
        scaler = RunningRewardScaler(n, self.cfg.gamma) if self.cfg.reward_scale_running \
            else None
        firsts = np.ones(n, dtype=bool)
        venv = HorizonLimit(venv)
        name = type(self).__name__.replace("Trainer", "")
        with progress.task(f"fine-tune {name}", total=iterations) as advance:
            for itr in range(iterations):
                stage = self.bmd.stage(itr, iterations) if self.bmd is not None else 2
                horizon = (self.bmd.horizon(itr, iterations, self.max_decisions)
                           if self.bmd is not None else None)
                venv.horizon = horizon
                b, obs, firsts = self.collect(venv, obs, n_steps, firsts,
                                              self.residual_probability(itr, iterations))
                t0 = time.perf_counter()
                flat = {k: v.reshape(v.shape[0] * v.shape[1], *v.shape[2:]).to(self.device)
                        for k, v in b.items()}
                env_r = b["reward"].numpy()
                stats: dict[str, float] = {"iteration": itr, "stage": stage,
                                           "horizon": horizon or self.max_decisions}
                intrinsic = np.zeros_like(env_r)
                if self.latent is not None:
                    intrinsic = self.latent.reward(flat["next_cond"], flat["z"]).cpu().numpy()
                    intrinsic = intrinsic.reshape(env_r.shape).astype(np.float64)
                    # q_φ keeps training in both stages (the notes: freezing it is catastrophic)
                    stats.update(self.latent.train(flat["next_cond"], flat["z"]))
                    stats["intrinsic"] = float(intrinsic.mean())
                rewards = (env_r if stage == 2 else 0.0 * env_r) + intrinsic
                if scaler is not None:
                    rewards = scaler(rewards, b["first"].numpy())
                stats.update(self.update(flat, rewards))
                self.timing["update"] += time.perf_counter() - t0
                ended = b["done"].numpy().sum()
                stats["reward"] = float(env_r.sum() / max(ended, 1))
                outcome, modes = self.outcomes.pop()
                stats.update(outcome)
                self.history.append(stats)
                if on_iteration is not None:
                    on_iteration(itr, stats, modes)
                advance(1, ret=stats["reward"], stage=stage)
                if checkpoints and itr + 1 in checkpoints:
                    checkpoints[itr + 1](self.policy)
        return self.policy

