"""Scripted expert for ``anymal``: a trotting central pattern generator steered to a gate.

Gait: a 2 Hz trot (diagonal legs LF+RH and RF+LH in phase, the pairs half a cycle apart)
driven by the env's gait clock, so the clock the policy observes is the expert's. Each foot
follows a periodic trajectory relative to its hip: in stance (the first ``duty`` of its
cycle) it moves backward at constant speed over ``stride``; in swing it returns with a cosine
profile and lifts by ``lift``. Two-link inverse kinematics (thigh 0.285 m; shank to foot
centre read from the model) turns the sagittal foot targets into HFE/KFE targets; the
lateral foot sweep becomes an HAA angle.

Feedback on the base state (read from the env, as a motion-capture system would give it):

* heading: the base turns part of the way (``heading_share``) towards the aim point; yaw is
  produced by sweeping the front feet one way and the hind feet the other in stance (plus a
  small left/right stride difference), with yaw-rate damping;
* side-step: all feet sweep sideways in proportion to the remaining bearing error, so the
  base drifts towards the gate without turning its long body much;
* posture: leg lengths change with roll and pitch (a leg on the low side extends).

Both modes use the same gait; only the aim differs. The walk first aims at a *commit point*
on its route's side (``x = 0.5``, ``|y| = 0.3`` m) until it is 5 cm short of it in x or 3 cm
short of it in y, then at the centre of the ``mode`` gate (jittered by +-6 cm) 0.2 m beyond the
goal line. The commit point is anymal-v2's change (v1 aimed at the gate from the start, with a
side-step gain of 2.0): v1's left and right walks from the same starts were 0.04 m apart at
step 30 and 0.16 m at step 60 (each route's spread 0.03-0.06 m), so the states of a walk's
first dozen chunks hardly said which route it had begun; v2's are 0.12 m apart at step 30 and
0.38 m at step 60, and cross 3-6 cm from the gate centre (v1: 5-9 cm), 30/30 per mode in
both (``benchmarks/anymal_task.py --routes``, 60 episodes).

Stride (0.17-0.20 m) and lift (9.5-10.5 cm) are drawn per episode too, so no two
demonstrations are identical. The gains were tuned by hand on the
shipped model (100 % success per mode at nominal) and work unchanged on MuJoCo Menagerie's
ANYmal C with the task's servo gains.
"""

from __future__ import annotations

import numpy as np

from tasks.anymal.env import ACTION_SCALE, AnymalEnv
from tasks.anymal.model import DEFAULT_POSE, LEG_X_SIGN, LEG_Y_SIGN

# phase offsets (fraction of a cycle) per leg LF, RF, LH, RH
TROT_OFFSETS = np.array([0.0, 0.5, 0.5, 0.0])
THIGH = 0.285


def _wrap(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


class LegKinematics:
    """Sagittal-plane kinematics of one ANYmal leg (HFE, KFE about +y, task convention).

    Args:
        shank: Foot centre relative to the knee at KFE = 0, ``(x, z)`` for a front leg.
    """

    def __init__(self, shank: tuple[float, float]) -> None:
        self.sx, self.sz = float(shank[0]), float(shank[1])
        self.ls = float(np.hypot(self.sx, self.sz))
        self.alpha = float(np.arctan2(self.sx, -self.sz))

    def forward(self, hfe: np.ndarray, kfe: np.ndarray, front: np.ndarray) -> np.ndarray:
        """Foot centre relative to the HFE axis, shape (..., 2) as (x, z)."""
        s0x = np.where(front > 0, self.sx, -self.sx)
        vx = s0x * np.cos(kfe) + self.sz * np.sin(kfe)
        vz = -THIGH - s0x * np.sin(kfe) + self.sz * np.cos(kfe)
        return np.stack([vx * np.cos(hfe) + vz * np.sin(hfe),
                         -vx * np.sin(hfe) + vz * np.cos(hfe)], axis=-1)

    def inverse(self, x: np.ndarray, z: np.ndarray, front: np.ndarray):
        """(HFE, KFE) placing the foot centre at ``(x, z)`` relative to HFE.

        Front legs bend the knee backward (KFE < 0), hind legs forward (KFE > 0): ANYmal C's
        "X" stance. Out-of-reach targets are clipped to the reachable annulus.
        """
        c = np.clip((x * x + z * z - THIGH**2 - self.ls**2) / (2 * THIGH * self.ls), -1, 1)
        a = front * self.alpha
        kfe = a - front * np.arccos(c)
        s0x = front * self.sx
        vx = s0x * np.cos(kfe) + self.sz * np.sin(kfe)
        vz = -THIGH - s0x * np.sin(kfe) + self.sz * np.cos(kfe)
        hfe = np.arctan2(vx, -vz) - np.arctan2(x, -z)
        return hfe, kfe


class AnymalExpert:
    """Trotting CPG that walks through the gate ``mode`` (``"left"`` or ``"right"``).

    Args:
        env: The env (unwrapped), already reset.
        mode: ``"left"`` or ``"right"``.
        rng: Per-episode randomisation.
        duty: Stance fraction of the cycle.
        height: Nominal foot depth below the HFE axis (m).
        commit_point: ``(x, |y|)`` of the first aim point (m), on the ``mode`` side;
            ``(0, 0)`` aims at the gate from the start (v1's expert, with ``k_side=2``).
        k_side: Side-step gain on the bearing error (v1: 2.0).
    """

    def __init__(self, env: AnymalEnv, mode: str, rng: np.random.Generator,
                 duty: float = 0.65, height: float = 0.48,
                 commit_point: tuple[float, float] = (0.5, 0.3), k_side: float = 2.5) -> None:
        if mode not in ("left", "right"):
            raise ValueError(f"anymal expert: unknown mode {mode!r}")
        self.env = env
        self.mode = mode
        self.duty = duty
        self.height = height
        self.stride = rng.uniform(0.17, 0.20)
        self.lift = rng.uniform(0.095, 0.105)
        gate_y = env.gates[0] if mode == "left" else env.gates[1]
        # aim a little beyond the line so the heading is still right when the base crosses it
        self.aim_beyond = 0.2
        self.gate_aim = np.array([env.goal_x + self.aim_beyond,
                                  gate_y + rng.uniform(-0.06, 0.06)])
        side_sign = 1.0 if mode == "left" else -1.0
        self.commit_aim: np.ndarray | None = np.array(
            [commit_point[0], side_sign * commit_point[1]])
        self.aim = self.commit_aim
        self.k_heading = 1.2
        self.k_yaw_rate = 0.2
        self.heading_share = 0.7
        self.k_side = k_side
        self.side_stride = 0.11
        self.yaw_stride = 0.15
        self.k_roll = 0.3
        self.k_pitch = 0.3
        m = env.model
        # foot centre relative to the knee, read from the model (front-left leg, task axes)
        foot = env.idx.foot_geoms[0]
        knee_body = m.geom_bodyid[foot]
        self.kin = LegKinematics(self._foot_offset(knee_body, foot))
        stance = self.kin.forward(DEFAULT_POSE[1::3], DEFAULT_POSE[2::3], LEG_X_SIGN)
        self.x_nominal = stance[:, 0]

    def _foot_offset(self, knee_body: int, foot: int) -> tuple[float, float]:
        """Foot centre relative to the KFE axis, in the base frame, at the zero pose."""
        import mujoco

        env = self.env
        d = mujoco.MjData(env.model)
        q = env.idx.free_qpos
        d.qpos[q:q + 7] = [0, 0, 0, 1, 0, 0, 0]  # base at the origin, identity orientation
        d.qpos[env.idx.qpos_adr] = 0.0
        mujoco.mj_kinematics(env.model, d)
        kfe_joint = next(j for j in range(env.model.njnt) if env.model.jnt_bodyid[j] == knee_body)
        rel = d.geom_xpos[foot] - d.xanchor[kfe_joint]
        return float(rel[0]), float(rel[2])

    def _update_aim(self, pos: np.ndarray) -> None:
        """Leave the commit point for the gate once the base is near it (never goes back)."""
        c = self.commit_aim
        if c is not None and (pos[0] >= c[0] - 0.05 or abs(pos[1]) >= abs(c[1]) - 0.03):
            self.commit_aim = None
            self.aim = self.gate_aim

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        env = self.env
        pos = env.base_position()
        self._update_aim(pos)
        r = env.base_rotation()
        yaw = np.arctan2(r[1, 0], r[0, 0])
        roll = np.arctan2(r[2, 1], r[2, 2])
        pitch = -np.arcsin(np.clip(r[2, 0], -1.0, 1.0))
        # turn part of the way towards the aim (a long body turns slowly) and side-step the rest
        bearing = float(np.arctan2(self.aim[1] - pos[1], self.aim[0] - pos[0]))
        yaw_des = np.clip(self.heading_share * bearing, -0.4, 0.4)
        yaw_rate = float(obs[9]) if obs is not None else 0.0
        turn = np.clip(self.k_heading * _wrap(yaw_des - yaw) - self.k_yaw_rate * yaw_rate,
                       -0.6, 0.6)
        side = np.clip(self.k_side * np.sin(_wrap(bearing - yaw)), -1.0, 1.0)
        ramp = min(1.0, env._t * env.control_dt / 0.4)  # start from the stance smoothly
        phase = (env.clock_phase() + TROT_OFFSETS) % 1.0
        # left legs shorten their stride to turn left (turn > 0)
        stride = self.stride * ramp * (1.0 - LEG_Y_SIGN * turn)
        stance = phase < self.duty
        u_st = phase / self.duty
        u_sw = (phase - self.duty) / (1.0 - self.duty)
        x = np.where(stance, stride * (0.5 - u_st),
                     stride * (-0.5 + (0.5 - 0.5 * np.cos(np.pi * u_sw))))
        z = np.where(stance, -self.height, -self.height + self.lift * ramp * np.sin(np.pi * u_sw))
        z = z + self.k_roll * LEG_Y_SIGN * roll - self.k_pitch * LEG_X_SIGN * pitch
        # lateral foot sweep (backwards in stance, forwards in swing, as x): the same way on
        # all legs to side-step, opposite ways on front and hind legs to yaw
        lat = ramp * (self.side_stride * side + self.yaw_stride * turn * LEG_X_SIGN)
        y = np.where(stance, lat * (0.5 - u_st), lat * (-0.5 + (0.5 - 0.5 * np.cos(np.pi * u_sw))))
        hfe, kfe = self.kin.inverse(self.x_nominal + x, z, LEG_X_SIGN)
        q = np.zeros(12)
        # HAA positive = foot outward: +y for left legs, -y for right legs
        q[0::3] = LEG_Y_SIGN * np.arctan2(y, -z)
        q[1::3] = hfe
        q[2::3] = kfe
        return np.clip((q - DEFAULT_POSE) / ACTION_SCALE, -1.0, 1.0).astype(np.float32)
