"""The ``avoid`` environment: a 2-D point mass crossing rows of obstacles.

The mass starts near ``(0, 0)`` and must reach the goal line ``y >= goal_y`` without touching
an obstacle or leaving the corridor ``|x| <= half_width``. Row ``r`` holds one disk obstacle
centred at ``(obstacle_x[r], row_y[r])``; passing it on the left (``L``) or right (``R``)
gives ``2**rows`` homotopy classes. The centres are offset from the corridor axis, so the
modes have different path lengths: with a per-step time cost, a pure reward maximiser has a
reason to prefer the shortest one.

Dynamics (dt = 0.1)::

    v <- v + dt * (gain * a / mass - drag * v);   p <- p + dt * v

Observation: ``(x, y, vx, vy)`` (float32). Action: a 2-D force in ``[-1, 1]^2``.
Reward: ``progress_weight * Δy - time_cost`` per step, ``+ success_bonus`` on reaching the goal,
``- crash_penalty`` on a collision. Episode info at the end: ``success`` and ``mode`` (the
sides passed so far, e.g. ``"LRL"``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class AvoidEnv(gym.Env):
    """See the module docstring."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        row_y: tuple[float, ...] = (0.3, 0.6, 0.9),
        obstacle_x: tuple[float, ...] = (0.04, -0.04, 0.04),
        obstacle_radius: float = 0.08,
        goal_y: float = 1.2,
        half_width: float = 0.5,
        start_x_range: float = 0.05,
        dt: float = 0.1,
        max_speed: float = 1.0,
        drag: float = 2.0,
        mass: float = 1.0,
        gain: float = 4.0,
        time_cost: float = 0.02,
        progress_weight: float = 1.0,
        success_bonus: float = 1.0,
        crash_penalty: float = 0.5,
        horizon: int = 80,
    ) -> None:
        if len(row_y) != len(obstacle_x):
            raise ValueError("row_y and obstacle_x must have the same length")
        self.row_y = np.asarray(row_y, dtype=np.float64)
        self.obstacle_x = np.asarray(obstacle_x, dtype=np.float64)
        self.obstacle_radius = float(obstacle_radius)
        self.goal_y = float(goal_y)
        self.half_width = float(half_width)
        self.start_x_range = float(start_x_range)
        self.dt = float(dt)
        self.max_speed = float(max_speed)
        self.drag = float(drag)
        self.mass = float(mass)
        self.gain = float(gain)
        self.time_cost = float(time_cost)
        self.progress_weight = float(progress_weight)
        self.success_bonus = float(success_bonus)
        self.crash_penalty = float(crash_penalty)
        # not `max_episode_steps`: gymnasium.make takes that keyword for its own TimeLimit
        self.horizon = int(horizon)
        high = np.array([1.0, 2.0, 2.0, 2.0], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._pos = np.zeros(2)
        self._vel = np.zeros(2)
        self._sides: list[str] = []
        self._t = 0

    @property
    def n_rows(self) -> int:
        """Number of obstacle rows (the mode label has this many letters)."""
        return len(self.row_y)

    def _obs(self) -> np.ndarray:
        return np.concatenate([self._pos, self._vel]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        x0 = self.np_random.uniform(-self.start_x_range, self.start_x_range)
        self._pos = np.array([x0, 0.0])
        self._vel = np.zeros(2)
        self._sides = []
        self._t = 0
        return self._obs(), {}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        prev = self._pos.copy()
        self._vel = self._vel + self.dt * (self.gain * a / self.mass - self.drag * self._vel)
        speed = np.linalg.norm(self._vel)
        if speed > self.max_speed:
            self._vel *= self.max_speed / speed
        self._pos = self._pos + self.dt * self._vel
        self._t += 1
        crashed = self._collides(prev, self._pos)
        # a row is passed when y crosses its height; the side is where x is then (a step
        # that crashes passes nothing)
        for r in range(len(self._sides), self.n_rows if not crashed else 0):
            if prev[1] < self.row_y[r] <= self._pos[1]:
                frac = (self.row_y[r] - prev[1]) / max(self._pos[1] - prev[1], 1e-12)
                x_cross = prev[0] + frac * (self._pos[0] - prev[0])
                self._sides.append("L" if x_cross < self.obstacle_x[r] else "R")
            else:
                break
        reached = bool(self._pos[1] >= self.goal_y) and not crashed
        reward = self.progress_weight * (self._pos[1] - prev[1]) - self.time_cost
        if reached:
            reward += self.success_bonus
        if crashed:
            reward -= self.crash_penalty
        terminated = crashed or reached
        truncated = (not terminated) and self._t >= self.horizon
        info: dict[str, Any] = {}
        if terminated or truncated:
            info["success"] = reached
            info["mode"] = "".join(self._sides)
            info["crashed"] = crashed
        return self._obs(), float(reward), terminated, truncated, info

    def _collides(self, p0: np.ndarray, p1: np.ndarray) -> bool:
        if abs(p1[0]) > self.half_width:
            return True
        # distance from each centre to the segment p0-p1 (the mass cannot tunnel through)
        centres = np.stack([self.obstacle_x, self.row_y], axis=1)
        d = p1 - p0
        denom = float(d @ d)
        if denom < 1e-18:
            closest = np.broadcast_to(p1, centres.shape)
        else:
            t = np.clip(((centres - p0) @ d) / denom, 0.0, 1.0)
            closest = p0 + t[:, None] * d
        return bool(np.any(np.linalg.norm(centres - closest, axis=1) < self.obstacle_radius))
