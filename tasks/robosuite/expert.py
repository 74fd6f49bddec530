"""Scripted waypoint expert for ``robosuite-lift``: hover over the chosen cube, descend,
close, lift.

It is a closed-loop proportional controller on the gripper site's pose, emitting OSC_POSE
delta actions: position deltas proportional to the error to the current waypoint (one action
unit = 5 cm), an axis-angle orientation correction towards "pointing straight down, yawed to
the cube's nearest face" (one unit = 0.5 rad), and a binary gripper command. It reads the
noise-free simulator state (``env.state()``), never the (possibly noisy) observation.
"""

from __future__ import annotations

import math

import numpy as np

from tasks.robosuite.env import CUBES, MODE_OF_CUBE, RobosuiteLiftEnv

CUBE_OF_MODE = {mode: cube for cube, mode in MODE_OF_CUBE.items()}
POS_UNIT = 0.05  # metres per unit of OSC position action (robosuite's output_max)
ROT_UNIT = 0.5  # radians per unit of OSC rotation action
REST_YAW = math.pi / 2  # the Panda's gripper yaw in robosuite's initial pose
# gripper site pointing straight down (site z = -world z) with site x along world x
R_DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def _rot_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Axis-angle vector (3,) of the rotation taking ``current`` to ``target`` (world frame).

    Args:
        target: Rotation matrix (3, 3).
        current: Rotation matrix (3, 3).
    """
    r = target @ current.T
    cos = np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)
    angle = math.acos(cos)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    sin = math.sin(angle)
    if sin < 1e-6:  # (near) identity; a 180° error never occurs with the targets used here
        return 0.5 * axis
    return angle * axis / (2.0 * sin)


class LiftExpert:
    """Waypoint expert that lifts the cube of ``mode`` (``"red"`` or ``"green"``).

    Per-episode randomisation (from ``rng``): hover height (6-10 cm above the cube), grasp
    depth (±5 mm around the cube centre), position gain and speed cap, the number of steps
    it keeps closing the gripper before lifting (5-7) and the lift height target.

    Args:
        env: The env (its ``unwrapped`` is a :class:`RobosuiteLiftEnv`), already reset.
        mode: ``"red"`` or ``"green"``.
        rng: Per-episode randomisation.
    """

    def __init__(self, env: RobosuiteLiftEnv, mode: str, rng: np.random.Generator) -> None:
        if mode not in CUBE_OF_MODE:
            raise ValueError(f"robosuite-lift has modes {sorted(CUBE_OF_MODE)}, not {mode!r}")
        self.env = env
        self.mode = mode
        self.cube = CUBE_OF_MODE[mode]
        self.hover = rng.uniform(0.06, 0.10)
        self.depth = rng.uniform(-0.005, 0.005)
        self.gain = rng.uniform(0.9, 1.3)
        self.speed = rng.uniform(0.7, 1.0)
        self.close_steps = int(rng.integers(5, 8))
        self.lift_to = rng.uniform(0.10, 0.14)
        self.phase = "approach"
        self._phase_steps = 0
        s = env.state()
        self._start_z = float(s[f"{self.cube}_pos"][2])
        # yaw so the fingers close on a pair of faces, with the least wrist rotation
        self.yaw = REST_YAW + float(s[f"{self.cube}_yaw"])
        self.other = next(c for c in CUBES if c != self.cube)

    def _goto(self, s: dict, target: np.ndarray, grip: float) -> np.ndarray:
        dpos = self.gain * (target - s["eef_pos"]) / POS_UNIT
        norm = float(np.linalg.norm(dpos))
        if norm > self.speed:
            dpos *= self.speed / norm
        drot = rotation_error(_rot_z(self.yaw) @ R_DOWN, s["eef_mat"]) / ROT_UNIT
        drot = np.clip(1.5 * drot, -1.0, 1.0)
        return np.concatenate([dpos, drot, [grip]]).astype(np.float32)

    def _next(self, phase: str) -> None:
        self.phase = phase
        self._phase_steps = 0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Return one action (7,) in [-1, 1]; ``obs`` is unused (the true state is read)."""
        s = self.env.state()
        cube = s[f"{self.cube}_pos"]
        eef = s["eef_pos"]
        self._phase_steps += 1
        if self.phase == "approach":
            target = cube + np.array([0.0, 0.0, self.hover])
            yaw_err = abs(RobosuiteLiftEnv.eef_yaw(s["eef_mat"]) - self.yaw)
            if (np.linalg.norm(target[:2] - eef[:2]) < 0.01 and abs(target[2] - eef[2]) < 0.02
                    and yaw_err < 0.08):
                self._next("descend")
            else:
                return self._goto(s, target, -1.0)
        if self.phase == "descend":
            target = cube + np.array([0.0, 0.0, self.depth])
            if abs(target[2] - eef[2]) < 0.008 or self._phase_steps > 20:
                self._next("close")
            else:
                return self._goto(s, target, -1.0)
        if self.phase == "close":
            target = np.array([eef[0], eef[1], self._start_z + self.depth])
            if self._phase_steps > self.close_steps:
                self._next("lift")
            else:
                return self._goto(s, target, 1.0)
        target = np.array([eef[0], eef[1], self._start_z + self.lift_to])
        return self._goto(s, target, 1.0)
