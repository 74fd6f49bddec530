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


def assert_reset_seed_fixes_the_rollout(task, level: str, actions) -> None:
    """Same reset seed and actions -> identical observations; another seed -> different."""
    lv = task.spec.perturbation(level)
    a, _ = rollout(task.make_env(lv), 11, actions)
    b, _ = rollout(task.make_env(lv), 11, actions)
    c, _ = rollout(task.make_env(lv), 12, actions)
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
