"""Scripted expert for ``avoid``: waypoint tracking on the chosen side of every obstacle."""

from __future__ import annotations

import numpy as np

from tasks.avoid.env import AvoidEnv


class AvoidExpert:
    """Tracks waypoints beside each obstacle on the sides given by ``mode``.

    For row ``r`` passed on side ``s`` the expert holds ``x = c_r ± (radius + margin)`` while
    ``y`` is within the obstacle's extent (an entry and an exit waypoint), then heads for the
    goal line at a random ``x``. Margin, cruise speed and goal ``x`` are drawn per episode, so
    no two demonstrations are identical.

    Args:
        env: The (nominal) env, already reset.
        mode: Sides to pass, e.g. ``"LRL"``.
        rng: Draws margins, speed and final x.
    """

    def __init__(self, env: AvoidEnv, mode: str, rng: np.random.Generator) -> None:
        self.env = env
        self.mode = mode
        self.speed = rng.uniform(0.55, 0.75)
        wps = []
        clearance = env.obstacle_radius + 0.03
        for r, side in enumerate(mode):
            sign = -1.0 if side == "L" else 1.0
            x = env.obstacle_x[r] + sign * (env.obstacle_radius + rng.uniform(0.05, 0.08))
            wps.append((x, env.row_y[r] - clearance))
            wps.append((x, env.row_y[r] + clearance))
        wps.append((wps[-1][0] * rng.uniform(0.3, 1.0), env.goal_y + 0.1))
        self.waypoints = np.asarray(wps)
        self._i = 0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        pos, vel = obs[:2].astype(np.float64), obs[2:4].astype(np.float64)
        while self._i < len(self.waypoints) - 1 and (
            pos[1] >= self.waypoints[self._i, 1]
            or np.linalg.norm(self.waypoints[self._i] - pos) < 0.03
        ):
            self._i += 1
        delta = self.waypoints[self._i] - pos
        v_des = self.speed * delta / max(np.linalg.norm(delta), 1e-6)
        env = self.env
        # feed-forward drag compensation plus a proportional velocity correction
        force = env.mass * (env.drag * v_des + 0.5 * (v_des - vel) / env.dt) / env.gain
        return np.clip(force, -1.0, 1.0).astype(np.float32)
