"""Build (observation, action chunk) training pairs from demonstrations."""

from __future__ import annotations

import numpy as np


def make_chunks(
    observations: list[np.ndarray], actions: list[np.ndarray], horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every (obs_t, a_{t:t+horizon}) pair of every episode.

    Past an episode's end the chunk is padded with the episode's last action (the usual
    diffusion-policy convention: the robot keeps doing what it last did).

    Args:
        observations: Per episode, shape (T + 1, obs_dim) (the final observation is unused).
        actions: Per episode, shape (T, act_dim).
        horizon: Chunk length H.

    Returns:
        ``obs`` of shape (N, obs_dim) and ``chunks`` of shape (N, H, act_dim), N = sum of T.
    """
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    obs_out, chunk_out = [], []
    for obs, act in zip(observations, actions, strict=True):
        t = len(act)
        if t == 0:
            continue
        idx = np.minimum(np.arange(t)[:, None] + np.arange(horizon)[None, :], t - 1)
        obs_out.append(np.asarray(obs[:t], dtype=np.float32))
        chunk_out.append(np.asarray(act, dtype=np.float32)[idx])
    if not obs_out:
        raise ValueError("no transitions in the demonstrations")
    return np.concatenate(obs_out), np.concatenate(chunk_out)
