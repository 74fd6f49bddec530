"""Measurements of the mechanism behind multimodal failure (Mazza et al. 2026), for any BC
policy whose noise-to-chunk map is a deterministic function g(s, w):

* **off-support rate** — the share of sampled first chunks farther than ``tau`` (RMS,
  normalised action units) from every demonstrated first chunk: bridges between modes for an
  action-space generator, prior holes for a latent-variable one;
* **Lipschitz estimate** — the 95th percentile over random (w, direction) of
  ‖g(s, w + εu) − g(s, w)‖ / ε: a sharp map (large constant) can separate many modes, a
  smooth one must put mass between them.

Both at the demonstrations' initial states, where the policy commits to a mode.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

OFF_SUPPORT_TAU = 0.2
"""RMS distance (normalised action units, [-1, 1] per dimension) beyond which a chunk is off
the demonstrations' support (radial: neighbouring goals' first chunks are ~0.4 apart)."""


@torch.no_grad()
def generator_diagnostics(chunk_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                          noise_dim: int, starts: torch.Tensor, demo_chunks: torch.Tensor,
                          n: int = 256, eps: float = 1e-2, seed: int = 0,
                          tau: float = OFF_SUPPORT_TAU) -> dict[str, float]:
    """Off-support rate and Lipschitz estimate of a deterministic sampler.

    Args:
        chunk_fn: g(cond (B, obs_dim) normalised, w (B, noise_dim)) -> normalised chunks
            (B, H * A).
        noise_dim: Size of w (0: no noise, no Lipschitz estimate).
        starts: Normalised initial observations of the demonstrations, (E, obs_dim).
        demo_chunks: Their normalised first chunks, (E, H * A).
        n: Samples.
        eps: Step of the finite difference.
        seed: Seed of the draws.
        tau: Off-support distance.

    Returns:
        ``{"off_support_rate": ..., "lipschitz_p95": ...}`` (the latter only with noise).
    """
    g = torch.Generator(device=starts.device).manual_seed(seed)
    cond = starts[torch.arange(n, device=starts.device) % len(starts)]
    w = torch.randn(n, noise_dim, generator=g, device=starts.device)
    x = chunk_fn(cond, w)
    dist = torch.cdist(x, demo_chunks) / np.sqrt(x.shape[1])  # RMS per dimension
    out = {"off_support_rate": float((dist.min(dim=1).values > tau).float().mean())}
    if noise_dim > 0:
        u = torch.randn(n, noise_dim, generator=g, device=starts.device)
        u = u / u.norm(dim=1, keepdim=True)
        ratio = (chunk_fn(cond, w + eps * u) - x).norm(dim=1) / eps
        out["lipschitz_p95"] = float(torch.quantile(ratio, 0.95))
    return out


def demo_starts(dataset, obs_norm, act_norm, horizon: int, device: str = "cpu"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised first observations (E, obs_dim) and first chunks (E, H * A) of the demos."""
    from baselines.common.chunks import make_chunks

    starts, chunks = [], []
    for obs, act in zip(dataset.observations, dataset.actions, strict=True):
        o, c = make_chunks([obs], [act], horizon)
        starts.append(o[0])
        chunks.append(c[0])
    s = torch.as_tensor(obs_norm.normalize(np.stack(starts)), device=device)
    c = act_norm.normalize(np.stack(chunks)).reshape(len(chunks), -1)
    return s, torch.as_tensor(c, device=device)
