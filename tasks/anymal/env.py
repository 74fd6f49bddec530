"""The ``anymal`` environment: an ANYmal C-class quadruped walks to one of two goal gates.

The robot starts near the origin facing ``+x``. The goal line ``x = goal_x`` has two gates,
centred at ``y = +gate_y`` (left) and ``y = -gate_y`` (right), each ``2 * gate_half_width``
wide; crossing the line inside either gate is a success, between or outside them a failure.
The gate the robot walks through is the episode's behaviour **mode** (a route: ``"left"`` or
``"right"``). Both gates are shifted by ``gate_shift`` (+0.05 m: the right gate is a little
closer to the start line's axis, so a pure reward maximiser has a reason to prefer it) and
jittered per episode; their positions are observed.

Control (50 Hz; 5 physics substeps of 4 ms for the shipped model): the action ``a`` in
``[-1, 1]^12`` sets joint position targets ``q* = q_default + action_scale * a`` (joint order
LF, RF, LH, RH; per leg HAA, HFE, KFE) tracked by the model's PD position actuators (torque
limit 80 Nm).

Observation (float32, 40 dims, all in the base frame unless stated)::

    [0]      base height (m, world z)
    [1:4]    gravity direction (unit vector)
    [4:7]    base linear velocity (m/s)
    [7:10]   base angular velocity (rad/s)
    [10:22]  joint positions minus the nominal stance (rad)
    [22:34]  joint velocities (rad/s)
    [34:36]  gait clock: sin, cos of 2 pi f t (f = gait_freq, t = episode time)
    [36:38]  left gate centre relative to the base (x, y)
    [38:40]  right gate centre relative to the base (x, y)

Reward: ``progress_weight * Δx`` of the base per step, ``+ success_bonus`` on success,
``- fail_penalty`` on a fall, leaving the arena or crossing the line outside the gates.

Episode end: success (the base crosses ``goal_x`` inside a gate); failure on a fall (base
below 0.32 m, tilted more than 60° or touching the floor), ``|y| > arena_half_width`` or
crossing ``goal_x`` outside the gates; truncation at ``horizon``. The final ``info`` holds
``success``, ``mode`` (``"left"``/``"right"``: the gate crossed, ``""`` when the episode
ended before the line or outside the gates), ``fell`` and ``gate_error`` (distance in y from
the nearest gate centre at the end).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from tasks.anymal.model import DEFAULT_POSE, build_model, index_robot

OBS_DIM = 40
ACT_DIM = 12
# per joint (HAA, HFE, KFE): the action's reach around the nominal stance (rad)
ACTION_SCALE = np.tile(np.array([0.4, 0.8, 1.0]), 4)
MODES = ("left", "right")
# a fall: base below this height (m; the expert's demonstrations never go below 0.43 m), tilted
# more than 60 degrees, or the base touching the floor
FALL_HEIGHT = 0.32


class AnymalEnv(gym.Env):
    """See the module docstring.

    Args:
        model_source: ``"shipped"`` (the project's MJCF) or ``"menagerie"``.
        horizon: Episode length limit in control steps (truncation). Not called
            ``max_episode_steps``: ``gym.make`` would consume that name.
        control_dt: Control period (s); the env runs ``round(control_dt / timestep)``
            physics steps per control step (5 for the shipped model's 4 ms timestep).
        goal_x: x of the goal line (m).
        gate_y: Distance of each gate centre from the axis (m).
        gate_half_width: Half-width of each gate (m).
        gate_shift: y shift of both gates (m); positive makes the right gate closer.
        gate_jitter: Half-width of the uniform per-episode jitter of the gates' y (m).
        arena_half_width: The episode fails when ``|y|`` exceeds this (m).
        gait_freq: Frequency of the observed gait clock (Hz).
        servo_kp: Position gain of every joint servo (Nm/rad), set on any model so the
            action means the same on the shipped and menagerie models; None keeps the model's.
        servo_kv: Damping gain of every joint servo (Nm s/rad); None keeps the model's.
        start_jitter: Half-width of the uniform jitter of the start x, y (m).
        yaw_jitter: Half-width of the uniform jitter of the start heading (rad).
        joint_jitter: Half-width of the uniform jitter of the initial joint angles (rad).
        progress_weight: Reward per metre of forward progress.
        success_bonus: Reward on success.
        fail_penalty: Penalty on a fall, leaving the arena or missing the gates.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        model_source: str = "shipped",
        horizon: int = 300,
        control_dt: float = 0.02,
        goal_x: float = 1.6,
        gate_y: float = 0.45,
        gate_half_width: float = 0.2,
        gate_shift: float = 0.05,
        gate_jitter: float = 0.05,
        arena_half_width: float = 1.2,
        gait_freq: float = 2.0,
        servo_kp: float | None = 250.0,
        servo_kv: float | None = 5.0,
        start_jitter: float = 0.05,
        yaw_jitter: float = 0.1,
        joint_jitter: float = 0.03,
        progress_weight: float = 1.0,
        success_bonus: float = 1.0,
        fail_penalty: float = 1.0,
    ) -> None:
        self.model_source = model_source
        self.model = build_model(model_source)
        self.data = mujoco.MjData(self.model)
        self.idx = index_robot(self.model)
        self._set_servo(servo_kp, servo_kv)
        self.horizon = int(horizon)
        self.frame_skip = max(1, int(round(control_dt / float(self.model.opt.timestep))))
        self.control_dt = self.frame_skip * float(self.model.opt.timestep)
        self.goal_x = float(goal_x)
        self.gate_y = float(gate_y)
        self.gate_half_width = float(gate_half_width)
        self.gate_shift = float(gate_shift)
        self.gate_jitter = float(gate_jitter)
        self.arena_half_width = float(arena_half_width)
        self.gait_freq = float(gait_freq)
        self.start_jitter = float(start_jitter)
        self.yaw_jitter = float(yaw_jitter)
        self.joint_jitter = float(joint_jitter)
        self.progress_weight = float(progress_weight)
        self.success_bonus = float(success_bonus)
        self.fail_penalty = float(fail_penalty)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(ACT_DIM,), dtype=np.float32)
        self._gate_mocap = [int(self.model.body_mocapid[
            mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)])
            for name in ("gate_left", "gate_right")]
        self._base_geoms = np.flatnonzero(self.model.geom_bodyid == self.idx.base_body)
        self.stand_height = self._stand_height()
        # y of the left and right gate centres in the current episode
        self.gates = np.array([self.gate_y + self.gate_shift, -self.gate_y + self.gate_shift])
        self._t = 0
        self._x_prev = 0.0
    # ---------------------------------------------------------------- model helpers
    def _set_servo(self, kp: float | None, kv: float | None) -> None:
        """Make every joint actuator a PD servo ``kp (q* - q) - kv qdot`` (position type)."""
        m, a = self.model, self.idx.actuators
        if kp is not None:
            m.actuator_gainprm[a, 0] = kp
            m.actuator_biasprm[a, 1] = -kp
        if kv is not None:
            m.actuator_biasprm[a, 2] = -kv

    def _stand_height(self) -> float:
        """Base height at which the feet of the nominal stance touch the floor."""
        d = mujoco.MjData(self.model)
        self._set_joints(d, DEFAULT_POSE)
        d.qpos[self.idx.free_qpos:self.idx.free_qpos + 7] = [0, 0, 0, 1, 0, 0, 0]
        mujoco.mj_kinematics(self.model, d)
        lowest = float(d.geom_xpos[self.idx.foot_geoms, 2].min())
        return -lowest + self.idx.foot_radius + 0.002

    def _set_joints(self, d: Any, q_task: np.ndarray) -> None:
        d.qpos[self.idx.qpos_adr] = self.idx.signs * q_task

    def joint_positions(self) -> np.ndarray:
        """Joint angles in the task convention, shape (12,)."""
        return self.idx.signs * self.data.qpos[self.idx.qpos_adr]

    def joint_velocities(self) -> np.ndarray:
        """Joint velocities in the task convention, shape (12,)."""
        return self.idx.signs * self.data.qvel[self.idx.qvel_adr]

    def base_rotation(self) -> np.ndarray:
        """Rotation matrix base -> world, shape (3, 3)."""
        return self.data.xmat[self.idx.base_body].reshape(3, 3)

    def base_position(self) -> np.ndarray:
        """Base position in the world, shape (3,)."""
        return self.data.xpos[self.idx.base_body].copy()

    def base_yaw(self) -> float:
        """Heading of the base's x axis in the world (rad)."""
        r = self.base_rotation()
        return float(np.arctan2(r[1, 0], r[0, 0]))

    def clock_phase(self) -> float:
        """Gait clock phase in [0, 1): ``gait_freq * t mod 1``."""
        return (self._t * self.control_dt * self.gait_freq) % 1.0

    def _base_touches_floor(self) -> bool:
        n = self.data.ncon
        if n == 0:
            return False
        pairs = self.data.contact.geom[:n]
        on_floor = np.isin(pairs, self.idx.floor_geoms).any(axis=1)
        return bool(np.any(on_floor & np.isin(pairs, self._base_geoms).any(axis=1)))

    def foot_contacts(self) -> np.ndarray:
        """Which feet (LF, RF, LH, RH) touch the floor now, shape (4,), bool."""
        n = self.data.ncon
        if n == 0:
            return np.zeros(4, dtype=bool)
        pairs = self.data.contact.geom[:n]
        return np.isin(self.idx.foot_geoms, pairs)

    # ---------------------------------------------------------------- perturbations
    def apply_dynamics(
        self,
        friction_scale: float = 1.0,
        payload_kg: float = 0.0,
        strength_scale: float = 1.0,
        slope_deg: float = 0.0,
    ) -> None:
        """Perturb the model in place (persists across resets).

        Args:
            friction_scale: Multiplies the feet's sliding friction. The feet have contact
                priority, so their friction (not the floor's) is the contact's.
            payload_kg: Point mass added to the base at its centre of mass (inertia unchanged).
            strength_scale: Multiplies the actuators' gains (kp, kv) and torque limits: every
                actuator delivers ``strength_scale`` times the nominal torque.
            slope_deg: Tilts gravity so the floor acts as an incline rising along ``+x``.
        """
        m, idx = self.model, self.idx
        m.geom_friction[idx.foot_geoms, 0] *= friction_scale
        m.body_mass[idx.base_body] += payload_kg
        a = idx.actuators
        m.actuator_gainprm[a, 0] *= strength_scale
        m.actuator_biasprm[a, 1:3] *= strength_scale
        m.actuator_forcerange[a] *= strength_scale
        th = np.deg2rad(slope_deg)
        g = float(np.linalg.norm(m.opt.gravity))
        m.opt.gravity[:] = [-g * np.sin(th), 0.0, -g * np.cos(th)]

    # ---------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        m, d, idx = self.model, self.data, self.idx
        mujoco.mj_resetData(m, d)
        q = DEFAULT_POSE + rng.uniform(-self.joint_jitter, self.joint_jitter, 12)
        self._set_joints(d, q)
        x0, y0 = rng.uniform(-self.start_jitter, self.start_jitter, 2)
        yaw = rng.uniform(-self.yaw_jitter, self.yaw_jitter)
        d.qpos[idx.free_qpos:idx.free_qpos + 7] = [
            x0, y0, self.stand_height, np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        d.ctrl[idx.actuators] = idx.signs * DEFAULT_POSE
        self.gates = np.array([self.gate_y, -self.gate_y]) + self.gate_shift + rng.uniform(
            -self.gate_jitter, self.gate_jitter)
        for mocap, gy in zip(self._gate_mocap, self.gates, strict=True):
            d.mocap_pos[mocap] = [self.goal_x, gy, 0.0]
        mujoco.mj_forward(m, d)
        self._t = 0
        self._x_prev = float(d.qpos[idx.free_qpos])
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        d, idx = self.data, self.idx
        r = self.base_rotation()
        pos = d.qpos[idx.free_qpos:idx.free_qpos + 3]
        lin = r.T @ d.qvel[idx.free_qvel:idx.free_qvel + 3]
        ang = d.qvel[idx.free_qvel + 3:idx.free_qvel + 6]  # free joint: already base frame
        phase = 2.0 * np.pi * self.clock_phase()
        rot2 = r[:2, :2].T
        rel_left = rot2 @ np.array([self.goal_x - pos[0], self.gates[0] - pos[1]])
        rel_right = rot2 @ np.array([self.goal_x - pos[0], self.gates[1] - pos[1]])
        out = np.empty(OBS_DIM, dtype=np.float32)
        out[0] = pos[2]
        out[1:4] = -r[2, :]  # world -z expressed in the base frame
        out[4:7] = lin
        out[7:10] = ang
        out[10:22] = self.joint_positions() - DEFAULT_POSE
        out[22:34] = self.joint_velocities()
        out[34:36] = (np.sin(phase), np.cos(phase))
        out[36:38] = rel_left
        out[38:40] = rel_right
        return out

    def step(self, action: np.ndarray):
        m, d, idx = self.model, self.data, self.idx
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(ACT_DIM), -1.0, 1.0)
        d.ctrl[idx.actuators] = idx.signs * (DEFAULT_POSE + ACTION_SCALE * a)
        mujoco.mj_step(m, d, nstep=self.frame_skip)
        self._t += 1
        x, y, z = d.qpos[idx.free_qpos:idx.free_qpos + 3]
        progress = float(x - self._x_prev)
        self._x_prev = float(x)
        up_z = self.base_rotation()[2, 2]
        fell = bool(z < FALL_HEIGHT or up_z < 0.5 or self._base_touches_floor()
                    or not np.isfinite(d.qpos).all())
        out_of_arena = bool(abs(y) > self.arena_half_width)
        crossed = bool(x >= self.goal_x)
        gate_error = np.abs(y - self.gates)
        gate = int(np.argmin(gate_error))
        success = crossed and not fell and bool(gate_error[gate] <= self.gate_half_width)
        failed = fell or out_of_arena or (crossed and not success)
        reward = self.progress_weight * progress
        if success:
            reward += self.success_bonus
        if failed:
            reward -= self.fail_penalty
        terminated = success or failed
        truncated = (not terminated) and self._t >= self.horizon
        info: dict[str, Any] = {}
        if terminated or truncated:
            info = {"success": bool(success), "mode": MODES[gate] if success else "",
                    "fell": fell, "gate_error": float(gate_error[gate])}
        obs = self._obs()
        if not np.isfinite(obs).all():  # a blown-up simulation ends as a fall
            obs = np.nan_to_num(obs, nan=0.0, posinf=0.0, neginf=0.0)
        return obs, float(reward), terminated, truncated, info
