"""Helpers shared by the task-family tests (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

import numpy as np


def rollout(env, seed: int, actions) -> tuple[np.ndarray, dict]:
    """Reset ``env`` with ``seed`` and play ``actions`` until the episode ends.

    Returns:
        The observations, shape (steps + 1, obs_dim), and the last step's info.
    """
    obs, _ = env.reset(seed=seed)
    out = [obs]
    info: dict = {}
    for a in actions:
        obs, _r, te, tr, info = env.step(a)
        out.append(obs)
        if te or tr:
            break
    return np.asarray(out), info
