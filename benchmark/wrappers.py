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


class ChunkedActions(gym.Wrapper):
    """Execute an action chunk open-loop: one ``step`` = one policy decision.

    The wrapped env's action space ``Box(act_dim)`` becomes ``Box((act_steps, act_dim))``.
    ``step`` executes the chunk's actions in order and stops early when the episode ends;
    the reward is the sum over executed steps, ``info["env_steps"]`` their number, and the
    returned ``info`` is the last step's (so it carries ``success``/``mode`` at an episode's
    end).

    Args:
        env: The env to wrap.
        act_steps: Actions executed per decision.
    """

    def __init__(self, env: gym.Env, act_steps: int) -> None:
        super().__init__(env)
        inner = env.action_space
        if not isinstance(inner, gym.spaces.Box) or len(inner.shape) != 1:
            raise TypeError("ChunkedActions needs a flat Box action space")
        self.act_steps = int(act_steps)
        self.action_space = gym.spaces.Box(
            low=np.broadcast_to(inner.low, (self.act_steps, *inner.shape)).copy(),
            high=np.broadcast_to(inner.high, (self.act_steps, *inner.shape)).copy(),
            dtype=inner.dtype,
        )

    def step(self, action: np.ndarray):
        chunk = np.asarray(action, dtype=np.float32).reshape(self.action_space.shape)
        total = 0.0
        obs, terminated, truncated, info = None, False, False, {}
        n = 0
        for a in chunk:
            obs, reward, terminated, truncated, info = self.env.step(a)
            total += float(reward)
            n += 1
            if terminated or truncated:
                break
        info = dict(info)
        info["env_steps"] = n
        return obs, total, terminated, truncated, info
