"""Cartesian control of FrankaKitchen's arm: damped-least-squares IK to joint velocities.

FrankaKitchen's own action is 9 normalised joint velocities: the env turns action ``a`` into
the position target ``q + 2 a dt`` of its joint servos (``dt = 0.08 s``). ``kitchen-v1`` lets
the policy command an end-effector *target* instead (its offset from the hand, yaw,
fingers) and this controller turns it into that joint-velocity action every env step:

    dq = J^T (J J^T + λ² I)^{-1} [K_p (p* - p) + K_i ∫(p* - p); K_r e_R] + N (k (q_home - q)),

with the Cartesian velocity capped, an integral term near the target (the position servos
sag ~3 cm under gravity), the redundant joint pulled toward the reset posture in the
Jacobian's null space ``N`` (so the posture, and the reach, does not depend on the skills done
before) and joints at their limits dropped from the solve (so the other joints make the
motion instead of the hand drifting sideways). These are the scripted expert's controller of
``kitchen-v0``, moved into the environment: a target is a far easier function to clone than
the joint velocities that track it (Chi et al. 2023 find position targets better than
velocities for diffusion policies).

The controller reads the true simulator state, like a robot's low-level controller reads
its encoders; the policy sees the (noisy) observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACT_RANGE = 2.0  # FrankaRobot's act_rng: action 1 = 2 rad/s
DT = 0.08  # seconds per env step (40 substeps of 2 ms)
# a position action of norm 1 puts the target this far from the hand (m). Targets farther
# away are clipped to it along their direction: at the controller's gain (9.5/s) 0.1 m
# already asks for more than its speed cap (0.65 m/s), so the clip changes no motion, while
# the action's resolution near a target, where the skills need it, is 10x finer than an
# absolute target in the 1 m workspace (measured: the scripted expert with its waypoints
# offset by N(0, 2 cm) per axis completes 0 of 12 episodes, with 1 cm 11 of 12)
DELTA_SCALE = 0.1
YAW_RANGE = 1.0  # rad: yaw action 1 = 1 rad about world z (the microwave pull needs -0.85)


@dataclass(frozen=True)
class ControllerGains:
    """Gains of :class:`ArmController` (``kitchen-v0``'s expert drew ``kp`` in [8, 11] and
    ``vmax`` in [0.55, 0.75] per episode; ``kitchen-v1`` fixes their midpoints).

    Attributes:
        kp: Position gain (1/s).
        ki: Integral gain, as a multiple of ``kp`` (1/s).
        kr: Orientation gain (1/s).
        vmax: Cap on the Cartesian speed command (m/s).
        damping: λ of the damped least squares.
        k_null: Null-space gain pulling the joints toward the reset posture.
        integral_radius: The integral accumulates only within this distance of the target
            (m): a push blocked by its object must not wind it up and fling the arm next.
            It is kept while the hand moves on (a push keeps the sag correction of the
            grasp before it) and cleared by the home switch and at reset.
        integral_limit: Bound on each component of the integral (m s).
    """

    kp: float = 9.5
    ki: float = 4.0
    kr: float = 2.0
    vmax: float = 0.65
    damping: float = 0.05
    k_null: float = 1.0
    integral_radius: float = 0.04
    integral_limit: float = 0.015


def yaw_rotation(yaw: float) -> np.ndarray:
    """Rotation matrix (3, 3) about the world z axis."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class ArmController:
    """Tracks an end-effector target with FrankaKitchen's joint-velocity action.

    Args:
        env: The FrankaKitchen env (``env.unwrapped`` is used).
        gains: Controller gains.
    """

    def __init__(self, env, gains: ControllerGains = ControllerGains()) -> None:
        import mujoco

        self._mj = mujoco
        self.env = env.unwrapped
        self.gains = gains
        m = self.env.model
        self.site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "end_effector")
        # the tighter of the joint ranges and the env's own position bounds (it clips there)
        bounds = self.env.robot_env.robot_pos_bound[:7]
        self._lo = np.maximum(m.jnt_range[:7, 0], bounds[:, 0])
        self._hi = np.minimum(m.jnt_range[:7, 1], bounds[:, 1])
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))
        self.reset()

    def reset(self) -> None:
        """Record the reset pose (call after ``env.reset``) and clear the integral."""
        d = self.env.data
        self.rot0 = d.site_xmat[self.site].reshape(3, 3).copy()
        self.pos0 = d.site_xpos[self.site].copy()
        self.q_home = d.qpos[:7].copy()
        self._integral = np.zeros(3)

    def ee(self) -> np.ndarray:
        """The end-effector site's position (3,), world frame."""
        return self.env.data.site_xpos[self.site].copy()

    def _dls(self, jac: np.ndarray, twist: np.ndarray) -> np.ndarray:
        g = self.gains
        pinv = jac.T @ np.linalg.inv(jac @ jac.T + g.damping**2 * np.eye(6))
        null = np.eye(7) - pinv @ jac
        return pinv @ twist + null @ (g.k_null * (self.q_home - self.env.data.qpos[:7]))

    def joint_velocity(self, target: np.ndarray, yaw: float = 0.0,
                       speed: float = 1.0) -> np.ndarray:
        """Joint velocities (7,) in rad/s moving the end effector toward ``target``.

        Args:
            target: Position (3,), world frame.
            yaw: Hand rotation about world z relative to the reset orientation (rad).
            speed: Fraction of ``vmax`` allowed.
        """
        g = self.gains
        m, d = self.env.model, self.env.data
        self._mj.mj_jacSite(m, d, self._jacp, self._jacr, self.site)
        jac = np.vstack([self._jacp[:, :7], self._jacr[:, :7]])
        err = target - d.site_xpos[self.site]
        if np.linalg.norm(err) < g.integral_radius:
            self._integral = np.clip(self._integral + err * DT, -g.integral_limit,
                                     g.integral_limit)
        v = g.kp * err + g.ki * g.kp * self._integral
        norm = np.linalg.norm(v)
        if norm > g.vmax * speed:
            v *= g.vmax * speed / norm
        rot = d.site_xmat[self.site].reshape(3, 3)
        goal = yaw_rotation(yaw) @ self.rot0
        # orientation error (world frame, small-angle form) toward the goal orientation
        w = g.kr * 0.5 * sum(np.cross(rot[:, i], goal[:, i]) for i in range(3))
        twist = np.concatenate([v, w])
        dq = self._dls(jac, twist)
        q = d.qpos[:7]
        stuck = ((q <= self._lo + 0.005) & (dq < 0)) | ((q >= self._hi - 0.005) & (dq > 0))
        if stuck.any():
            jac = jac.copy()
            jac[:, stuck] = 0.0
            dq = self._dls(jac, twist)
        return dq

    def home_velocity(self) -> np.ndarray:
        """Joint velocities (7,) in rad/s driving the arm back to its reset posture in
        joint space (bounded at 1.5 rad/s)."""
        # the sag differs between poses: the integral starts afresh after each return home
        self._integral[:] = 0.0
        return np.clip(3.0 * (self.q_home - self.env.data.qpos[:7]), -1.5, 1.5)

    def env_action(self, target: np.ndarray, yaw: float, grip: float, home: bool = False,
                   speed: float = 1.0) -> np.ndarray:
        """FrankaKitchen's action (9,) in [-1, 1]: joint velocities and the fingers.

        Args:
            target: End-effector position (3,), world frame (ignored when ``home``).
            yaw: Hand yaw relative to the reset orientation (rad; ignored when ``home``).
            grip: Finger command, +1 open, -1 close.
            home: Move the joints back to the reset posture instead of tracking a target.
            speed: Fraction of ``vmax`` allowed.
        """
        action = np.zeros(9)
        dq = self.home_velocity() if home else self.joint_velocity(target, yaw, speed)
        action[:7] = dq / ACT_RANGE
        action[7:] = grip
        return np.clip(action, -1.0, 1.0)


ACTION_DIM = 6


def encode_target(offset: np.ndarray, yaw: float, grip: float,
                  home: bool = False) -> np.ndarray:
    """The ``kitchen-v1`` action (6,) for an end-effector target (inverse of decode).

    Args:
        offset: Target minus the hand's current position (3,), metres; clipped to
            :data:`DELTA_SCALE` along its direction.
        yaw: Hand yaw relative to the reset orientation (rad; 1 = :data:`YAW_RANGE`).
        grip: Fingers, +1 open, -1 close.
        home: +1: return to the reset posture in joint space; -1: track the target.
    """
    out = np.empty(ACTION_DIM)
    offset = np.asarray(offset, dtype=np.float64)
    norm = np.linalg.norm(offset)
    if norm > DELTA_SCALE:
        offset = offset * (DELTA_SCALE / norm)
    out[:3] = offset / DELTA_SCALE
    out[3] = yaw / YAW_RANGE
    out[4] = grip
    out[5] = 1.0 if home else -1.0
    return np.clip(out, -1.0, 1.0)


def decode_target(action: np.ndarray, hand: np.ndarray
                  ) -> tuple[np.ndarray, float, float, bool]:
    """``(target position (3,), yaw, grip, home)`` of a ``kitchen-v1`` action (6,) in
    [-1, 1], for the hand at ``hand`` (3,)."""
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    return (np.asarray(hand) + DELTA_SCALE * a[:3], float(a[3] * YAW_RANGE), float(a[4]),
            bool(a[5] > 0.0))
