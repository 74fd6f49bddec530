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


# the site each subtask's skill acts on (FrankaKitchen's MJCF)
HANDLE_SITES = {"microwave": "microhandle_site", "kettle": "kettle_site",
                "light switch": "light_site", "slide cabinet": "slide_site"}


class EndEffectorWrapper(gym.Wrapper):
    """``kitchen-v1``'s interface: end-effector target actions, progress in the observation.

    Actions (6,) in [-1, 1]: the end effector's target as an offset from the hand (3; 1 =
    :data:`tasks.kitchen.control.DELTA_SCALE` m), its yaw about world z relative to the
    reset orientation (1 = 1 rad), the fingers (+1 open, -1 close) and a home switch (> 0:
    drive the joints back to the reset posture instead, as the expert does between
    subtasks);
    :class:`tasks.kitchen.control.ArmController` turns them into FrankaKitchen's joint
    velocities every step (see :mod:`tasks.kitchen.control`).

    Observations (66,): FrankaKitchen's 59 (noisy joint readings, objects), the end
    effector's position computed by forward kinematics from the *observed* joint positions
    (3; so observation noise reaches it as it reaches the joints) and one flag per subtask,
    1 once it is completed (4, in :data:`tasks.kitchen.SUBTASKS` order).

    ``info["closest_unfinished_m"]``: the closest the hand has come in the episode to the
    handle of a subtask still unfinished (m), for diagnosing failures.

    Args:
        env: A :class:`KitchenWrapper`.
        subtasks: The subtask names, in flag order.
    """

    def __init__(self, env: KitchenWrapper, subtasks: tuple[str, ...]) -> None:
        import mujoco

        from tasks.kitchen.control import ACTION_DIM, ArmController

        super().__init__(env)
        self._mj = mujoco
        self.subtasks = tuple(subtasks)
        self.controller = ArmController(env)
        model = env.unwrapped.model
        self._fk = mujoco.MjData(model)  # scratch data for forward kinematics
        sites = {name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
                 for name, site in HANDLE_SITES.items()}
        self._handle_sites = [sites[name] for name in self.subtasks]
        self._closest = np.full(len(self.subtasks), np.inf)
        dim = 59 + 3 + len(self.subtasks)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,),
                                                dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(ACTION_DIM,), dtype=np.float32)

    def _observe(self, obs: np.ndarray, done: list[str]) -> np.ndarray:
        d = self.env.unwrapped.data
        self._fk.qpos[:] = d.qpos
        self._fk.qpos[:9] = obs[:9]  # the observed (noisy) arm and finger joints
        self._mj.mj_kinematics(self.env.unwrapped.model, self._fk)
        ee = self._fk.site_xpos[self.controller.site]
        flags = np.array([float(s in done) for s in self.subtasks])
        return np.concatenate([obs, ee, flags]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.controller.reset()
        self._closest[:] = np.inf
        return self._observe(obs, []), info

    def step(self, action: np.ndarray):
        from tasks.kitchen.control import decode_target

        pos, yaw, grip, home = decode_target(action, self.controller.ee())
        joint_action = self.controller.env_action(pos, yaw, grip, home)
        obs, reward, terminated, truncated, info = self.env.step(
            joint_action.astype(np.float32))
        # where an episode fails: how close the hand came to each unfinished subtask's handle
        d = self.env.unwrapped.data
        ee = d.site_xpos[self.controller.site]
        self._closest = np.minimum(self._closest, np.linalg.norm(
            d.site_xpos[self._handle_sites] - ee, axis=1))
        done = info["episode_task_completions"]
        open_ = [i for i, s in enumerate(self.subtasks) if s not in done]
        info["closest_unfinished_m"] = (float(self._closest[open_].min()) if open_ else 0.0)
        return (self._observe(obs, info["episode_task_completions"]), reward, terminated,
                truncated, info)
