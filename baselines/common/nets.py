"""Torch networks of the backbone: DPPO's ``DiffusionMLP`` denoiser and ``CriticObs`` critic."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalPosEmb(nn.Module):
    """Sinusoidal embedding of the denoising step (as in DDPM / DPPO).

    Args:
        dim: Embedding size (even).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError("time embedding dim must be even")
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Embed steps ``t`` of shape (B,) into (B, dim)."""
        half = self.dim // 2
        scale = math.log(10000) / max(half - 1, 1)
        freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * -scale)
        args = t.float()[:, None] * freqs[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1)


def mlp(dims: list[int], residual: bool = False) -> nn.Sequential:
    """Mish MLP ``dims[0] -> ... -> dims[-1]`` with a linear output layer.

    With ``residual`` the hidden layers (which must share one width) are wrapped in DPPO's
    two-layer residual blocks.
    """
    layers: list[nn.Module] = []
    if residual and len(dims) > 3:
        layers += [nn.Linear(dims[0], dims[1]), nn.Mish()]
        hidden = dims[1:-1]
        if len(set(hidden)) != 1:
            raise ValueError("residual MLPs need equal hidden widths")
        for _ in range((len(hidden) - 1 + 1) // 2):
            layers.append(_ResidualBlock(hidden[0]))
        layers.append(nn.Linear(hidden[-1], dims[-1]))
        return nn.Sequential(*layers)
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.Mish())
    return nn.Sequential(*layers)


class _ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, width), nn.Mish(), nn.Linear(width, width),
                                 nn.Mish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class DiffusionMLP(nn.Module):
    """Noise predictor ε_θ(x_t, t, s) over a flattened action chunk.

    Args:
        obs_dim: Observation size.
        action_flat_dim: ``horizon * act_dim``.
        hidden_dims: Hidden widths.
        time_dim: Time-embedding size.
        cond_mlp_dims: Optional observation-embedding MLP widths.
        residual: DPPO residual style.
    """

    def __init__(self, obs_dim: int, action_flat_dim: int, hidden_dims: tuple[int, ...],
                 time_dim: int = 16, cond_mlp_dims: tuple[int, ...] = (),
                 residual: bool = False) -> None:
        super().__init__()
        self.time_embedding = nn.Sequential(
            SinusoidalPosEmb(time_dim), nn.Linear(time_dim, time_dim * 2), nn.Mish(),
            nn.Linear(time_dim * 2, time_dim))
        if cond_mlp_dims:
            self.cond_mlp: nn.Module = mlp([obs_dim, *cond_mlp_dims])
            cond_out = cond_mlp_dims[-1]
        else:
            self.cond_mlp = nn.Identity()
            cond_out = obs_dim
        self.net = mlp([action_flat_dim + time_dim + cond_out, *hidden_dims, action_flat_dim],
                       residual=residual)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Predict noise.

        Args:
            x: Noisy chunks, (B, horizon * act_dim).
            t: DDPM step per sample, (B,) int64.
            cond: Normalised observations, (B, obs_dim).

        Returns:
            Predicted noise, (B, horizon * act_dim).
        """
        return self.net(torch.cat([x, self.time_embedding(t), self.cond_mlp(cond)], dim=-1))


class CriticObs(nn.Module):
    """State-value critic V(s): Mish MLP on the normalised observation (DPPO ``CriticObs``).

    Args:
        obs_dim: Observation size.
        hidden_dims: Hidden widths.
    """

    def __init__(self, obs_dim: int, hidden_dims: tuple[int, ...] = (256, 256, 256)) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *hidden_dims, 1])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Values (B,) of normalised observations (B, obs_dim)."""
        return self.net(obs).squeeze(-1)
