"""Unsupervised mode discovery in the pretrained policy's initial-noise space.

1. Roll out the pretrained policy with deterministic DDIM (eta = 0), one initial-noise
   vector ξ ~ N(0, I) per episode reused as the initial noise of every chunk: the episode's
   trajectory is then a function of (ξ, initial state).
2. Describe each trajectory by a generic feature (the normalised observation trajectory
   resampled at fixed times, standardised) and cluster the features with k-means into K
   modes.
3. A mode's noise region is the region of a k-NN classifier c(ξ) on the (ξ, cluster)
   pairs, p(ξ | z) ∝ N(ξ; 0, I) 1[c(ξ) = z], sampled by rejection (the default), or the
   set of discovery noises whose trajectories fell in its cluster, sampled uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from baselines.bmd.config import BMDConfig
from baselines.common.policy import DiffusionPolicy


def resample_trajectory(obs: np.ndarray, points: int) -> np.ndarray:
    """Linearly interpolate a trajectory (T, D) at ``points`` evenly spaced times -> (points*D,)."""
    obs = np.asarray(obs, dtype=np.float64)
    if len(obs) == 1:
        return np.repeat(obs, points, axis=0).ravel()
    src = np.linspace(0.0, 1.0, len(obs))
    dst = np.linspace(0.0, 1.0, points)
    return np.stack([np.interp(dst, src, obs[:, d]) for d in range(obs.shape[1])], 1).ravel()


def kmeans(x: np.ndarray, k: int, restarts: int, iters: int, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """k-means with k-means++ seeding; the restart with the lowest inertia wins.

    Args:
        x: Points, (N, F).
        k: Clusters (capped at N).
        restarts: Independent restarts.
        iters: Lloyd iterations per restart.
        rng: Randomness of the seeding.

    Returns:
        ``labels`` (N,), ``centroids`` (k, F), ``inertia``.
    """
    n = len(x)
    k = min(k, n)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(restarts):
        centroids = [x[rng.integers(n)]]
        for _ in range(1, k):
            d2 = np.min(((x[:, None] - np.asarray(centroids)[None]) ** 2).sum(-1), axis=1)
            p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
            centroids.append(x[rng.choice(n, p=p)])
        c = np.asarray(centroids)
        labels = np.zeros(n, dtype=np.int64)
        for it in range(iters):
            d2 = ((x[:, None] - c[None]) ** 2).sum(-1)
            new = d2.argmin(1)
            if it > 0 and np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                members = x[labels == j]
                # an emptied cluster is re-seeded at the worst-fitted point
                c[j] = members.mean(0) if len(members) else x[d2.min(1).argmax()]
        inertia = float(((x - c[labels]) ** 2).sum())
        if best is None or inertia < best[2]:
            best = (labels.copy(), c.copy(), inertia)
    assert best is not None
    return best


def knn_predict(bank: torch.Tensor, labels: torch.Tensor, queries: torch.Tensor, k: int,
                n_modes: int) -> torch.Tensor:
    """Majority vote of the k nearest bank points.

    Args:
        bank: Labelled noises, (N, F).
        labels: Their modes, (N,) int64.
        queries: Noises to classify, (Q, F).
        k: Neighbours.
        n_modes: Number of modes.

    Returns:
        Modes, (Q,) int64 (ties go to the lowest mode index).
    """
    k = min(k, len(bank))
    idx = torch.cdist(queries, bank).topk(k, largest=False).indices  # (Q, k)
    votes = torch.zeros(len(queries), n_modes, device=queries.device)
    votes.scatter_add_(1, labels[idx], torch.ones_like(idx, dtype=votes.dtype))
    return votes.argmax(1)


@dataclass
class Discovery:
    """What discovery found.

    Attributes:
        noises: Initial noises of the clustered episodes, (N, H * A).
        labels: Their modes, (N,).
        p_z: Prior over modes, (K,).
        centroids: Cluster centres in standardised feature space, (K, F).
        feat_mean: Feature mean, (F,).
        feat_std: Feature std, (F,).
        state_obs: Normalised observations of the clustered episodes (for the
            discriminator's warm start), (M, obs_dim).
        state_labels: Their episodes' modes, (M,).
        stats: Summary numbers (episodes, successes, cluster sizes ...).
    """

    noises: np.ndarray
    labels: np.ndarray
    p_z: np.ndarray
    centroids: np.ndarray
    feat_mean: np.ndarray
    feat_std: np.ndarray
    state_obs: np.ndarray
    state_labels: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    def assign(self, features: np.ndarray) -> np.ndarray:
        """Nearest discovered mode of raw trajectory features (N, F) -> (N,)."""
        f = (features - self.feat_mean) / self.feat_std
        return ((f[:, None] - self.centroids[None]) ** 2).sum(-1).argmin(1)


@torch.no_grad()
def rollout_with_noise(policy: DiffusionPolicy, venv: Any, obs: np.ndarray, n_episodes: int,
                       noise_fn: Any) -> list[dict[str, Any]]:
    """Roll out ``policy`` (deterministic DDIM) with one initial noise per episode.

    Args:
        policy: The policy.
        venv: Same-step autoreset vector env of chunked envs (already reset to ``obs``).
        obs: Current observations, (N, obs_dim).
        n_episodes: Episodes to finish.
        noise_fn: ``noise_fn(n) -> (n, H * A)`` tensor of fresh per-episode noises.

    Returns:
        Per episode: ``noise`` (H * A,), ``obs`` (T + 1, obs_dim) raw, ``success``,
        ``mode`` (the task's label, kept for diagnostics only; discovery never reads it).
    """
    n = len(obs)
    noise = noise_fn(n)
    trajs: list[list[np.ndarray]] = [[o.copy()] for o in obs]
    out: list[dict[str, Any]] = []
    while len(out) < n_episodes:
        cond = policy.normalize_obs(obs)
        x, _ = policy.model.sample(cond, noise.clone(), deterministic=True)
        obs, _, term, trunc, infos = venv.step(policy.chunk_to_actions(x))
        obs = np.asarray(obs, dtype=np.float32)
        done = np.logical_or(term, trunc)
        for i in range(n):
            if done[i]:
                final = infos["final_obs"][i]
                fi = infos["final_info"]
                trajs[i].append(np.asarray(final, dtype=np.float32))
                out.append({"noise": noise[i].cpu().numpy(), "obs": np.stack(trajs[i]),
                            "success": bool(fi["success"][i]), "mode": str(fi["mode"][i])})
                trajs[i] = [obs[i].copy()]
            else:
                trajs[i].append(obs[i].copy())
        if done.any():
            fresh = noise_fn(int(done.sum()))
            noise[torch.as_tensor(done)] = fresh
    return out[:n_episodes]


def discover(policy: DiffusionPolicy, venv: Any, obs: np.ndarray, cfg: BMDConfig,
             generator: torch.Generator, seed: int, n_episodes: int) -> Discovery:
    """Discover K modes of ``policy`` without labels (see the module docstring).

    Args:
        policy: The pretrained policy.
        venv: Training vector env (already reset to ``obs``).
        obs: Its current observations, (N, obs_dim).
        cfg: BMD config.
        generator: Source of the initial noises.
        seed: Seed of k-means.
        n_episodes: Rollouts to cluster (:meth:`BMDConfig.discovery_episode_count`).

    Returns:
        The :class:`Discovery`.
    """
    flat = policy.model.flat_dim

    def noise_fn(n: int) -> torch.Tensor:
        return torch.randn(n, flat, generator=generator)

    episodes = rollout_with_noise(policy, venv, obs, n_episodes, noise_fn)
    successful = [e for e in episodes if e["success"]]
    use = successful if (cfg.discovery_successful_only
                         and len(successful) >= 4 * cfg.n_modes) else episodes
    feats = np.stack([resample_trajectory(policy.obs_norm.normalize(e["obs"]),
                                          cfg.feature_points) for e in use])
    mean, std = feats.mean(0), feats.std(0) + 1e-6
    labels, centroids, inertia = kmeans((feats - mean) / std, cfg.n_modes,
                                        cfg.kmeans_restarts, cfg.kmeans_iters,
                                        np.random.default_rng([seed, 0xB3D]))
    k = len(centroids)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    p_z = counts / counts.sum() if cfg.prior == "empirical" else np.full(k, 1.0 / k)
    state_obs = np.concatenate([policy.obs_norm.normalize(e["obs"]) for e in use])
    state_labels = np.concatenate([np.full(len(e["obs"]), lab) for e, lab in zip(use, labels,
                                                                                  strict=True)])
    # how the unsupervised clusters line up with the task's labels (diagnostic only)
    purity = 0.0
    for j in range(k):
        modes = [e["mode"] for e, lab in zip(use, labels, strict=True) if lab == j]
        if modes:
            purity += max(modes.count(m) for m in set(modes))
    stats = {
        "discovery_episodes": len(episodes), "discovery_successes": len(successful),
        "clustered_episodes": len(use), "cluster_sizes": counts.astype(int).tolist(),
        "kmeans_inertia": inertia, "cluster_purity_vs_task_labels": purity / len(use),
        "task_modes_in_discovery": len({e["mode"] for e in successful}),
    }
    return Discovery(np.stack([e["noise"] for e in use]).astype(np.float32), labels, p_z,
                     centroids, mean, std, state_obs.astype(np.float32),
                     state_labels.astype(np.int64), stats)
