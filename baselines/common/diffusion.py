"""DDPM training and DDIM sampling over flattened action chunks (DPPO's conventions).

Index conventions follow DPPO's ``model/diffusion/diffusion.py`` and ``diffusion_vpg.py``:
the DDIM sub-sequence ``ddim_t = [0, r, 2r, ...] * step_ratio`` is flipped so DDIM index 0 is
the noisiest step and index ``ddim_steps - 1`` the last; fine-tuned steps are the last
``ft_denoising_steps`` indices. One DDIM update at index i is the Gaussian

    x_{i+1} ~ N(mu_i, sigma_i^2),  mu_i = sqrt(a_prev) x0_hat + sqrt(1 - a_prev - sigma_i^2) eps_hat
    sigma_i = eta * sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))

with ``eta = 0`` deterministic (evaluation) and ``eta = 1`` the stochastic chain that DPPO
fine-tunes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from baselines.common.config import DiffusionConfig
from baselines.common.nets import DiffusionMLP


def cosine_beta_schedule(steps: int, s: float = 0.008) -> np.ndarray:
    """Cosine schedule of Nichol & Dhariwal (DPPO's ``cosine_beta_schedule``); betas (steps,)."""
    n = steps + 1
    x = np.linspace(0, n, n)
    alphas_cumprod = np.cos(((x / n) + s) / (1 + s) * np.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    betas = 1 - (alphas_cumprod[1:] / alphas_cumprod[:-1])
    return np.clip(betas, 0, 0.999)


class StepCoefs(NamedTuple):
    """The noise-schedule factors of one update from ``alpha`` to ``alpha_prev`` (or of a
    whole schedule, elementwise): everything in it that does not depend on x or eta.

    Precomputed once per schedule: each sampling step then runs only the tensor ops on the
    chunks (on CPU, the scalar ops were a third of a small batch's sampling time). Each factor
    is the same float32 expression as computed inline, so samples are bit-identical.
    """

    sqrt_alpha: torch.Tensor
    sqrt_one_minus_alpha: torch.Tensor
    sqrt_alpha_prev: torch.Tensor
    one_minus_alpha_prev: torch.Tensor
    sigma_unit: torch.Tensor  # sigma at eta = 1

    @classmethod
    def of(cls, alpha: torch.Tensor, alpha_prev: torch.Tensor) -> StepCoefs:
        """The factors of ``alpha`` and ``alpha_prev`` (any matching shapes)."""
        return cls(alpha.sqrt(), (1.0 - alpha).sqrt(), alpha_prev.sqrt(), 1.0 - alpha_prev,
                   ((1 - alpha_prev) / (1 - alpha) * (1 - alpha / alpha_prev)).sqrt())

    def at(self, index: int | torch.Tensor) -> StepCoefs:
        """The factors of step(s) ``index``: 0-d for an int, (B, 1) for a (B,) tensor."""
        if isinstance(index, torch.Tensor):
            return StepCoefs(*(c[index][:, None] for c in self))
        return StepCoefs(*(c[index] for c in self))


class Diffusion(nn.Module):
    """The denoiser(s) plus the noise schedule.

    ``actor`` is the pretrained denoiser. Fine-tuning methods set ``actor_ft`` (a trainable
    copy) and ``ft_denoising_steps`` K': the last K' DDIM indices then use ``actor_ft``, the
    others the (frozen) ``actor`` — DPPO's split.

    Args:
        obs_dim: Observation size.
        horizon: Chunk length H.
        act_dim: Action size A.
        cfg: Backbone config.
    """

    def __init__(self, obs_dim: int, horizon: int, act_dim: int, cfg: DiffusionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.obs_dim, self.horizon, self.act_dim = obs_dim, horizon, act_dim
        self.flat_dim = horizon * act_dim
        self.actor = DiffusionMLP(obs_dim, self.flat_dim, cfg.hidden_dims, cfg.time_dim,
                                  cfg.cond_mlp_dims, cfg.residual)
        self.actor_ft: DiffusionMLP | None = None
        self.ft_denoising_steps = 0
        betas = torch.tensor(cosine_beta_schedule(cfg.denoising_steps), dtype=torch.float32)
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.register_buffer("alphas_cumprod", alphas_cumprod, persistent=False)
        # DDPM step t goes from alphas_cumprod[t] to alphas_cumprod[t - 1] (1 at t = 0)
        self._register_coefs("ddpm", StepCoefs.of(alphas_cumprod, torch.cat(
            [torch.ones(1), alphas_cumprod[:-1]])))
        self._set_schedule(alphas_cumprod)

    def _set_schedule(self, alphas_cumprod: torch.Tensor) -> None:
        cfg = self.cfg
        step_ratio = cfg.denoising_steps // cfg.ddim_steps
        if cfg.ddim_spacing == "leading":  # DPPO's choice: first DDIM step at t < T - 1
            ddim_t = torch.arange(0, cfg.ddim_steps) * step_ratio
        else:  # "trailing": the first DDIM step is t = T - 1, where the input is pure noise
            ddim_t = torch.arange(1, cfg.ddim_steps + 1) * step_ratio - 1
        ddim_alphas = alphas_cumprod[ddim_t]
        ddim_alphas_prev = torch.cat([torch.ones(1, device=alphas_cumprod.device),
                                      alphas_cumprod[ddim_t[:-1]]])
        # flipped so index 0 is the first (noisiest) DDIM step
        self.register_buffer("ddim_t", torch.flip(ddim_t, [0]), persistent=False)
        self.register_buffer("ddim_alphas", torch.flip(ddim_alphas, [0]), persistent=False)
        self.register_buffer("ddim_alphas_prev", torch.flip(ddim_alphas_prev, [0]),
                             persistent=False)
        self._register_coefs("ddim", StepCoefs.of(self.ddim_alphas, self.ddim_alphas_prev))

    def _register_coefs(self, chain: str, coefs: StepCoefs) -> None:
        # buffers, so that .to(device) moves them with the weights
        for name, value in zip(StepCoefs._fields, coefs, strict=True):
            self.register_buffer(f"{chain}_{name}", value, persistent=False)

    def _coefs(self, chain: str) -> StepCoefs:
        return StepCoefs(*(getattr(self, f"{chain}_{name}") for name in StepCoefs._fields))

    @property
    def ddim_coefs(self) -> StepCoefs:
        """:class:`StepCoefs` of the DDIM chain, by DDIM index (0 = noisiest)."""
        return self._coefs("ddim")

    @property
    def ddpm_coefs(self) -> StepCoefs:
        """:class:`StepCoefs` of the DDPM chain, by training step t."""
        return self._coefs("ddpm")

    def set_sampling(self, cfg: DiffusionConfig) -> None:
        """Sample with ``cfg``'s sampling fields (:data:`SAMPLING_FIELDS`), keeping the
        trained weights (a pretrained checkpoint shared by configs that differ only there)."""
        import dataclasses

        from baselines.common.config import SAMPLING_FIELDS

        if self.actor_ft is not None:
            raise ValueError("a fine-tuned policy keeps the chain it was fine-tuned on")
        self.cfg = dataclasses.replace(self.cfg, **{f: getattr(cfg, f) for f in SAMPLING_FIELDS})
        self._set_schedule(self.alphas_cumprod)

    def set_ddim_steps(self, steps: int) -> None:
        """Sample (and fine-tune) with a chain of ``steps`` steps instead of the config's.

        ``steps = denoising_steps`` with eta = 1 is the DDPM chain (DPPO's state-based
        configs). The config is replaced, so a saved policy keeps its chain.
        """
        import dataclasses

        if self.actor_ft is not None and steps != self.cfg.ddim_steps:
            raise ValueError("the chain of a policy being fine-tuned cannot change")
        self.cfg = dataclasses.replace(self.cfg, ddim_steps=int(steps))
        self._set_schedule(self.alphas_cumprod)

    # ------------------------------------------------------------------ training
    def loss(self, x0: torch.Tensor, cond: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """DDPM ε-prediction loss.

        Args:
            x0: Normalised clean chunks, (B, H * A).
            cond: Normalised observations, (B, obs_dim).
            generator: Source of the step and noise draws (determinism).

        Returns:
            Scalar mean-squared error between predicted and true noise.
        """
        b = x0.shape[0]
        t = torch.randint(0, self.cfg.denoising_steps, (b,), generator=generator,
                          device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        a = self.alphas_cumprod[t][:, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        return torch.mean((self.actor(xt, t, cond) - noise) ** 2)

    # ------------------------------------------------------------------ sampling
    def is_ft_index(self, index: int) -> bool:
        """Whether DDIM index ``index`` is one of the last K' (fine-tuned) steps."""
        return self.actor_ft is not None and index >= self.cfg.ddim_steps - self.ft_denoising_steps

    def p_mean_std(self, x: torch.Tensor, index: int | torch.Tensor, cond: torch.Tensor,
                   eta: torch.Tensor | float, use_base_policy: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and (unclipped) std of one DDIM update (DPPO ``p_mean_var``, DDIM branch).

        Args:
            x: Current chunks, (B, H * A).
            index: DDIM index (0 = noisiest), an int or a (B,) int64 tensor; a tensor must
                hold only fine-tuned indices (PPO minibatches mix denoising steps).
            cond: Normalised observations, (B, obs_dim).
            eta: DDIM eta, scalar or (B, 1) / (B, H * A); 0 gives a deterministic step.
            use_base_policy: Use the frozen ``actor`` even at fine-tuned indices.

        Returns:
            ``mu`` (B, H * A) and ``sigma`` broadcastable to it.
        """
        cfg = self.cfg
        b = x.shape[0]
        if isinstance(index, torch.Tensor):
            if self.actor_ft is None or bool(
                    (index < cfg.ddim_steps - self.ft_denoising_steps).any()):
                raise ValueError("tensor indices must all be fine-tuned denoising steps")
            t = self.ddim_t[index]
            is_ft = True
        else:
            t = self.ddim_t[index].expand(b)
            is_ft = self.is_ft_index(index)
        net = self.actor_ft if (is_ft and not use_base_policy) else self.actor
        return self._update(x, net(x, t, cond), self.ddim_coefs.at(index), eta)

    def _update_mean_std(self, x: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor,
                         alpha_prev: torch.Tensor, eta: torch.Tensor | float
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of the update from ``alpha`` to ``alpha_prev`` given predicted noise."""
        return self._update(x, eps, StepCoefs.of(alpha, alpha_prev), eta)

    def _update(self, x: torch.Tensor, eps: torch.Tensor, c: StepCoefs,
                eta: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_update_mean_std` with the schedule's factors precomputed."""
        cfg = self.cfg
        x_recon = (x - c.sqrt_one_minus_alpha * eps) / c.sqrt_alpha
        if cfg.denoised_clip_value is not None:
            x_recon = x_recon.clamp(-cfg.denoised_clip_value, cfg.denoised_clip_value)
            # re-derive the noise from the clipped x0, as DPPO does for DDIM
            eps = (x - c.sqrt_alpha * x_recon) / c.sqrt_one_minus_alpha
        if cfg.eps_clip_value is not None:
            eps = eps.clamp(-cfg.eps_clip_value, cfg.eps_clip_value)
        eta_t = torch.as_tensor(eta, dtype=x.dtype, device=x.device)
        sigma = (eta_t * c.sigma_unit).clamp(min=1e-10)
        dir_coef = (c.one_minus_alpha_prev - sigma ** 2).clamp(min=0).sqrt()
        mu = c.sqrt_alpha_prev * x_recon + dir_coef * eps
        return mu, sigma

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, x: torch.Tensor, deterministic: bool = True,
               eta: torch.Tensor | float = 1.0, min_sampling_std: float = 0.1,
               randn_clip_value: float | None = None, return_chain: bool = False,
               generator: torch.Generator | None = None, deterministic_base: bool = False,
               step_noise: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the DDIM chain from initial noise ``x``.

        Args:
            cond: Normalised observations, (B, obs_dim).
            x: Initial noise, (B, H * A).
            deterministic: eta = 0 (the chain is a function of ``x``).
            eta: DDIM eta of the stochastic chain.
            min_sampling_std: Lower clip of the stochastic steps' std (DPPO
                ``min_sampling_denoising_std``).
            randn_clip_value: Clip of the per-step Gaussian draws (default: the config's).
            return_chain: Also return the chain of the fine-tuned steps.
            generator: Source of the per-step draws (default: torch's global generator).
            deterministic_base: With ``deterministic=False``, run the steps that are not
                fine-tuned with eta = 0 (only the last K' steps are stochastic).
            step_noise: Pre-drawn per-step Gaussian draws, (B, ddim_steps, H * A): step i
                of a stochastic chain uses ``step_noise[:, i]`` (clipped as the draws);
                default: drawn from ``generator``.

        Returns:
            Final normalised chunks (B, H * A) and, with ``return_chain``, the chain
            (B, K' + 1, H * A): the input of the first fine-tuned step and each fine-tuned
            step's output (DPPO's ``chains``).
        """
        cfg = self.cfg
        clip = cfg.randn_clip_value if randn_clip_value is None else randn_clip_value
        chain = []
        n = cfg.ddim_steps
        k_ft = self.ft_denoising_steps if self.actor_ft is not None else 0
        for i in range(n):
            if return_chain and i == n - max(k_ft, 1):
                chain.append(x)
            det = deterministic or (deterministic_base and not self.is_ft_index(i))
            mu, sigma = self.p_mean_std(x, i, cond, 0.0 if det else eta)
            if det:
                x = mu
            else:
                std = sigma.clamp(min=min_sampling_std)
                z = (torch.randn(x.shape, generator=generator, device=x.device)
                     if step_noise is None else step_noise[:, i]).clamp(-clip, clip)
                x = mu + std * z
            if i == n - 1 and cfg.final_action_clip_value is not None:
                x = x.clamp(-cfg.final_action_clip_value, cfg.final_action_clip_value)
            if return_chain and i >= n - max(k_ft, 1):
                chain.append(x)
        return x, (torch.stack(chain, dim=1) if return_chain else None)

    @torch.no_grad()
    def sample_ancestral(self, cond: torch.Tensor, x: torch.Tensor,
                         generator: torch.Generator | None = None,
                         step_noise: torch.Tensor | None = None) -> torch.Tensor:
        """DDPM ancestral sampling over all T training steps.

        Each step draws from the true posterior q(x_{t-1} | x_t, x0_hat) (the DDIM update with
        eta = 1 at every training step, no std floor, x0_hat clipped as in :meth:`p_mean_std`);
        this is how a DDPM-trained policy is sampled when it is not fine-tuned, with the
        pretrained ``actor``. A policy fine-tuned on the DDPM chain uses ``actor_ft`` on its
        last K' steps (t < K'): DPPO's evaluation (``diffusion_vpg.py``, ``forward`` with
        ``deterministic=True``: the posterior std floored at 1e-3, which the cosine schedule
        never reaches, and 0 at t = 0).

        Args:
            cond: Normalised observations, (B, obs_dim).
            x: Initial noise, (B, H * A).
            generator: Source of the per-step draws (default: torch's global generator).
            step_noise: Pre-drawn per-step draws, (B, T - 1, H * A): the step at t > 0 uses
                ``step_noise[:, T - 1 - t]``; default: drawn from ``generator``.

        Returns:
            Final normalised chunks, (B, H * A).

        Raises:
            ValueError: A policy fine-tuned on a chain other than the DDPM chain.
        """
        cfg = self.cfg
        b = x.shape[0]
        k_ft = self.ft_denoising_steps if self.actor_ft is not None else 0
        if k_ft and cfg.ddim_steps != cfg.denoising_steps:
            raise ValueError("only a policy fine-tuned on the DDPM chain (all T steps) samples "
                             "ancestrally; one fine-tuned on a DDIM chain samples it with "
                             "eta = 0")
        for t in range(cfg.denoising_steps - 1, -1, -1):
            net = self.actor_ft if t < k_ft else self.actor
            eps = net(x, torch.full((b,), t, dtype=torch.long, device=x.device), cond)
            mu, sigma = self._update(x, eps, self.ddpm_coefs.at(t), 1.0)
            if t > 0:
                z = (torch.randn(x.shape, generator=generator, device=x.device)
                     if step_noise is None else step_noise[:, cfg.denoising_steps - 1 - t])
                x = mu + sigma * z.clamp(-cfg.randn_clip_value, cfg.randn_clip_value)
            else:  # sigma is 0 at the last step (alpha_prev = 1)
                x = mu
        if cfg.final_action_clip_value is not None:
            x = x.clamp(-cfg.final_action_clip_value, cfg.final_action_clip_value)
        return x
