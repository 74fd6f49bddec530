"""FrankaKitchen wrapper (flat observations, success/mode/progress) and dynamics scaling."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

MODE_SEP = ">"


def apply_dynamics(model: Any, damping_scale: float = 1.0, friction_scale: float = 1.0,
                    gain_scale: float = 1.0) -> None:
    """Scale a MuJoCo model's dynamics in place (each env owns its model).

    Args:
        model: The env's ``mujoco.MjModel``.
        damping_scale: Factor on every joint's damping (``dof_damping``).
        friction_scale: Factor on every geom's sliding friction (``geom_friction[:, 0]``).
        gain_scale: Factor on the position servos' stiffness (``gainprm[0]``,
            ``biasprm[1:3]``).

    Raises:
        ValueError: A factor that is not positive.
    """
    for name, v in (("damping_scale", damping_scale), ("friction_scale", friction_scale),
                    ("gain_scale", gain_scale)):
        if not v > 0:
            raise ValueError(f"kitchen: {name} must be > 0, got {v}")
    model.dof_damping[:] *= damping_scale
    model.geom_friction[:, 0] *= friction_scale  # sliding friction; torsion/rolling kept
    # position servos: force = gain * ctrl + bias1 * q + bias2 * qdot; scaling gain and the
    # bias terms together keeps the set point and weakens (or stiffens) the servo
    model.actuator_gainprm[:, 0] *= gain_scale
    model.actuator_biasprm[:, 1:3] *= gain_scale


class KitchenWrapper(gym.Wrapper):
    """Flatten FrankaKitchen's dict observation and add ``success``/``mode``/``progress``.

    Observations: the env's 59-dim ``observation`` (9 arm+finger joint positions, 9 joint
    velocities, 21 object positions, 20 object velocities) as float32. The goal dicts are
    dropped: the goal is fixed for the task.

    Args:
        env: ``gym.make("FrankaKitchen-v1", ...)``.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(59,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(9,), dtype=np.float32)
        self.n_subtasks = len(env.unwrapped.goal)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return np.asarray(obs["observation"], dtype=np.float32), dict(info)

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, info = self.env.step(
            np.asarray(action, dtype=np.float64))
        info = dict(info)
        done = list(info.get("episode_task_completions", []))
        info["episode_task_completions"] = done  # a copy: the env mutates its own list
        info["progress"] = len(done)
        info["mode"] = MODE_SEP.join(done)
        info["success"] = len(done) == self.n_subtasks
        return (np.asarray(obs["observation"], dtype=np.float32), float(reward),
                bool(terminated), bool(truncated), info)
