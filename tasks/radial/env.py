"""``radial``: from the centre, reach one of K goals on a ring (numpy, no simulator).

The many-modes-in-one-decision case of Mazza et al. (2026, "Understanding Multimodal Failure
in Action-Chunking Behavioral Cloning"): every demonstration starts at (almost) the same
state, and the first action chunk already commits to one of K = 16 well-separated goals. A
policy that averages goals heads *between* them, where nothing is (a bridge), and fails.

State (x, y, t/T); action a velocity in [-1, 1]^2 times ``speed``; an episode ends when the
point crosses the ring (radius 1) or after ``horizon`` steps. It succeeds when it crosses
within ``goal_radius`` of a goal; its mode is the goal nearest to where it crossed (the
success rule decides whether it counts).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from tasks.portable import dot, norm


class RadialEnv(gym.Env):
    """Reach one of ``n_goals`` evenly spaced goals on the unit circle.

    Args:
        n_goals: K goals at angles 2πk/K.
        goal_radius: Distance from a goal within which the crossing counts as reaching it
            (0.15: half the gap between neighbours at K = 16 is 0.196).
        speed: Distance covered per step at |a| = 1.
        horizon: Steps before truncation.
        start_noise: Std of the start position around the centre.
        time_cost: Reward subtracted per step.
        success_bonus: Reward for reaching a goal.
    """

    metadata = {"render_modes": []}

    def __init__(self, n_goals: int = 16, goal_radius: float = 0.15, speed: float = 0.125,
                 horizon: int = 16, start_noise: float = 0.02, time_cost: float = 0.02,
                 success_bonus: float = 1.0) -> None:
        self.n_goals = int(n_goals)
        angles = 2 * np.pi * np.arange(self.n_goals) / self.n_goals
        self.goals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        self.goal_radius, self.speed = float(goal_radius), float(speed)
        self.horizon, self.start_noise = int(horizon), float(start_noise)
        self.time_cost, self.success_bonus = float(time_cost), float(success_bonus)
        self.gain = 1.0  # perturbations scale it (actuator strength)
        self.observation_space = spaces.Box(-2.0, 2.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._pos = np.zeros(2)
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([*self._pos, self._t / self.horizon], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._pos = self.np_random.normal(0.0, self.start_noise, size=2)
        self._t = 0
        return self._obs(), {}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        prev = self._pos.copy()
        self._pos = prev + self.speed * self.gain * a
        self._t += 1
        reward = (norm(self._pos) - norm(prev)) - self.time_cost
        info: dict[str, Any] = {}
        crossed = norm(self._pos) >= 1.0
        truncated = not crossed and self._t >= self.horizon
        if crossed:
            # where the segment meets the unit circle
            d = self._pos - prev
            qa, qb, qc = dot(d, d), 2 * dot(prev, d), dot(prev, prev) - 1.0
            frac = (-qb + np.sqrt(max(qb * qb - 4 * qa * qc, 0.0))) / (2 * qa)
            hit = prev + frac * d
            dist = norm(self.goals - hit, axis=1)
            k = int(np.argmin(dist))
            success = bool(dist[k] <= self.goal_radius)
            reward += self.success_bonus if success else 0.0
            info.update(success=success, mode=f"g{k:02d}", miss=float(dist[k]))
        elif truncated:
            info.update(success=False, mode="", miss=float("nan"))
        return self._obs(), reward, bool(crossed), bool(truncated), info


class RadialExpert:
    """Heads straight for its goal at a drawn speed and angular offset (a human-like spread
    within the goal's region, never near a neighbour's)."""

    def __init__(self, env: RadialEnv, mode: str, rng: np.random.Generator) -> None:
        self.mode = mode
        k = int(mode[1:])
        angle = 2 * np.pi * k / env.n_goals + rng.uniform(-0.04, 0.04)
        self.target = 1.1 * np.array([np.cos(angle), np.sin(angle)])
        self.gain = rng.uniform(0.8, 1.0)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        direction = self.target - obs[:2]
        return (self.gain * direction / max(norm(direction), 1e-9)).astype(
            np.float32)
