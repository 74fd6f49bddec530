"""Gymnasium wrappers shared by task families."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class ObservationNoise(gym.ObservationWrapper):
    """Add Gaussian noise σ·scale_i to observation dimension i.

    The noise generator is re-seeded from the reset seed, so a perturbed episode is as
    reproducible as a nominal one.

    Args:
        env: The env to wrap.
        sigma: Noise level as a fraction of each dimension's scale.
        scale: Per-dimension scale, shape (obs_dim,).
    """

    def __init__(self, env: gym.Env, sigma: float, scale: np.ndarray) -> None:
        super().__init__(env)
        self.sigma = float(sigma)
        self.scale = np.asarray(scale, dtype=np.float32)
        self._rng = np.random.default_rng(0)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            # a stream of its own, so noise does not shift the env's own randomness
            self._rng = np.random.default_rng([seed, 0x5EED])
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        noise = self._rng.standard_normal(observation.shape).astype(np.float32)
        return (observation + self.sigma * self.scale * noise).astype(np.float32)
