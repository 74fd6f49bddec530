"""The BC families' generators over normalised, flattened action chunks (B, H * A).

Each has ``loss(x, cond, generator)`` (training, x the clean chunk) and
``sample(cond, noise)`` (a deterministic function of its noise, so the noise-to-action map's
Lipschitz constant and bridges can be measured); ``noise_dim`` is the size of that noise.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.common.nets import SinusoidalPosEmb, mlp
from baselines.pretrain.config import CVAEConfig, FlowConfig, MLPConfig


class FlowModel(nn.Module):
    """Velocity field v_θ(x_t, t, s) of the straight path x_t = (1 − t) w + t x.

    Args:
        obs_dim: Observation size.
        flat_dim: H * A.
        cfg: Flow config.
    """

    def __init__(self, obs_dim: int, flat_dim: int, cfg: FlowConfig) -> None:
        super().__init__()
        self.cfg, self.flat_dim, self.noise_dim = cfg, flat_dim, flat_dim
        self.time = nn.Sequential(SinusoidalPosEmb(cfg.time_dim),
                                  nn.Linear(cfg.time_dim, cfg.time_dim * 2), nn.Mish(),
                                  nn.Linear(cfg.time_dim * 2, cfg.time_dim))
        self.net = mlp([flat_dim + cfg.time_dim + obs_dim, *cfg.hidden_dims, flat_dim])

    def velocity(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """v_θ at points (B, H * A), times (B,) in [0, 1], observations (B, obs_dim)."""
        # the sinusoidal embedding is made for step indices: t in [0, 1] scaled to [0, 100]
        return self.net(torch.cat([x, self.time(100.0 * t), cond], dim=-1))

    def loss(self, x: torch.Tensor, cond: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Conditional flow matching: ‖v_θ(x_t, t, s) − (x − w)‖² at t ~ U(0, 1)."""
        w = torch.randn(x.shape, generator=generator, device=x.device)
        t = torch.rand(x.shape[0], generator=generator, device=x.device)
        xt = (1 - t[:, None]) * w + t[:, None] * x
        return torch.mean((self.velocity(xt, t, cond) - (x - w)) ** 2)

    def sample(self, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Integrate from w = ``noise`` at t = 0 to t = 1 with ``steps`` Euler/Heun steps."""
        x, n = noise, self.cfg.steps
        for i in range(n):
            t = torch.full((x.shape[0],), i / n, device=x.device)
            v = self.velocity(x, t, cond)
            if self.cfg.solver == "heun":
                x_euler = x + v / n
                v2 = self.velocity(x_euler, t + 1.0 / n, cond)
                v = 0.5 * (v + v2)
            x = x + v / n
        return x.clamp(-1.0, 1.0)


class CVAEModel(nn.Module):
    """Encoder q(z | s, x), decoder x̂ = d(s, z), prior N(0, I) or a learned p(z | s).

    Args:
        obs_dim: Observation size.
        flat_dim: H * A.
        cfg: CVAE config.
    """

    def __init__(self, obs_dim: int, flat_dim: int, cfg: CVAEConfig) -> None:
        super().__init__()
        self.cfg, self.flat_dim, self.noise_dim = cfg, flat_dim, cfg.latent_dim
        self.encoder = mlp([obs_dim + flat_dim, *cfg.hidden_dims, 2 * cfg.latent_dim])
        self.decoder = mlp([obs_dim + cfg.latent_dim, *cfg.hidden_dims, flat_dim])
        self.prior_net = (mlp([obs_dim, *cfg.hidden_dims, 2 * cfg.latent_dim])
                          if cfg.prior == "learned" else None)

    def prior(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of p(z | s), each (B, latent_dim)."""
        if self.prior_net is None:
            zeros = torch.zeros(cond.shape[0], self.cfg.latent_dim, device=cond.device)
            return zeros, zeros
        mu, logvar = self.prior_net(cond).chunk(2, dim=-1)
        return mu, logvar.clamp(-8, 4)

    def kl(self, cond: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior sample pieces and KL(q(z|s,x) ‖ p(z|s)) per row, (B,)."""
        mu_q, logvar_q = self.encoder(torch.cat([cond, x], dim=-1)).chunk(2, dim=-1)
        logvar_q = logvar_q.clamp(-8, 4)
        mu_p, logvar_p = self.prior(cond)
        kl = 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2)
                    / logvar_p.exp() - 1).sum(-1)
        return torch.stack([mu_q, logvar_q]), kl

    def loss(self, x: torch.Tensor, cond: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """β-ELBO: mean ‖x − d(s, z)‖² (per dimension) + β KL / (H * A), z ~ q(z | s, x)."""
        (mu_q, logvar_q), kl = self.kl(cond, x)
        eps = torch.randn(mu_q.shape, generator=generator, device=x.device)
        z = mu_q + (0.5 * logvar_q).exp() * eps
        recon = self.decoder(torch.cat([cond, z], dim=-1))
        return torch.mean((recon - x) ** 2) + self.cfg.beta * kl.mean() / self.flat_dim

    def sample(self, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Decode z = μ_p + σ_p · ``noise`` (noise (B, latent_dim) ~ N(0, I))."""
        mu, logvar = self.prior(cond)
        z = mu + (0.5 * logvar).exp() * noise
        return self.decoder(torch.cat([cond, z], dim=-1)).clamp(-1.0, 1.0)


class MLPModel(nn.Module):
    """x̂ = f(s), trained with the mean squared error (no noise: ``noise_dim`` 0)."""

    def __init__(self, obs_dim: int, flat_dim: int, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg, self.flat_dim, self.noise_dim = cfg, flat_dim, 0
        self.net = mlp([obs_dim, *cfg.hidden_dims, flat_dim])

    def loss(self, x: torch.Tensor, cond: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean squared error of the predicted chunk."""
        return torch.mean((self.net(cond) - x) ** 2)

    def sample(self, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The regressed chunk (``noise`` is ignored, (B, 0))."""
        return self.net(cond).clamp(-1.0, 1.0)


MODELS = {"bc-flow": FlowModel, "bc-cvae": CVAEModel, "bc-mlp": MLPModel}
"""Policy kind -> generator class."""
