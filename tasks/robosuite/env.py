"""``robosuite-lift``: lift the red or the green cube, a gymnasium env over robosuite.

The scene is robosuite's own ``Stack`` environment (a Panda arm, a table, a red 4 cm cube
``cubeA`` and a green 5 cm cube ``cubeB``) driven by robosuite's ``OSC_POSE`` controller in
delta mode at 20 Hz. The task is not Stack's: an episode succeeds as soon as **either** cube
is held between both finger pads with its bottom at least ``lift_height`` (4 cm) above the
table. Which cube was lifted is the episode's **mode** (``"red"`` or ``"green"``): two
strategies a user sees at a glance, decided early (the arm heads to one cube or the other)
and equally rewarded, so a pure reward maximiser has no reason to keep both.

Placement: the cubes are placed by :class:`TwoCubeSampler` (a robosuite
``ObjectPositionSampler``): the red cube uniformly in a 16 x 10 cm patch on the robot's right
(y in [-0.16, -0.06]), the green one in the mirror patch on its left, each with a uniform yaw
in [-45°, 45°) (all distinct orientations of a cube), at least ``min_separation`` apart (so
the open fingers never touch the other cube). Keeping each colour on its side makes the two
modes two consistent directions (reach right / reach left), as a user would describe them;
with both cubes anywhere, the diffusion BC baseline averaged the modes (8-17 % success on
the mixture, 100 % on red-only demonstrations).

Observation (flat float32, 23 dims; see :data:`OBS_NAMES`): gripper-site position, gripper
yaw as (cos, sin), the two finger joint positions, and for each cube its position, its yaw
folded by the cube's 90° symmetry as (cos 4ψ, sin 4ψ), and its offset from the gripper site.
Yaws are encoded as angles rather than quaternions because a quaternion has a sign ambiguity
(q and -q) that a regression policy would see as a jump.

Action (7 dims in [-1, 1]): OSC_POSE deltas (dx, dy, dz) × 5 cm, (drx, dry, drz) × 0.5 rad
in the robot base frame, and the gripper command (-1 open, +1 close).

Reward: sparse, 1.0 on the step that succeeds (the episode then terminates), 0 otherwise.
Both modes earn the same reward; only their length differs.

Seeding: robosuite draws the arm's initial joint noise and the cube placement from
``env.rng`` and the sampler's ``rng``. Both are pointed at this env's ``np_random`` on every
reset, so ``reset(seed=s)`` fully determines the episode even though the simulator is built
once (``hard_reset=False``: 1 ms resets instead of ~95 ms model rebuilds).

Dynamics perturbations are applied once, at construction: ``mass_scale`` multiplies both
cubes' masses and inertias, ``friction_scale`` the sliding friction of the cubes *and* of
the gripper's collision geoms (MuJoCo uses the larger of two geoms' frictions, so scaling
the cubes alone would leave the finger pads' 2.0 in force), ``gain_scale`` the OSC
stiffness ``kp`` (damping follows, critically damped).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

CUBES = ("cubeA", "cubeB")
MODE_OF_CUBE = {"cubeA": "red", "cubeB": "green"}
OBS_NAMES: tuple[str, ...] = (
    "eef_x", "eef_y", "eef_z", "eef_yaw_cos", "eef_yaw_sin", "finger_l", "finger_r",
    "red_x", "red_y", "red_z", "red_yaw4_cos", "red_yaw4_sin", "red_dx", "red_dy", "red_dz",
    "green_x", "green_y", "green_z", "green_yaw4_cos", "green_yaw4_sin",
    "green_dx", "green_dy", "green_dz",
)
OBS_DIM = len(OBS_NAMES)
ACT_DIM = 7
TABLE_TOP_Z = 0.8  # robosuite Stack's table_offset z: the table surface height
CUBE_HALF_SIZE = {"cubeA": 0.02, "cubeB": 0.025}


def _import_robosuite():
    """Import robosuite without its import-time console warnings (missing private macros)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        import robosuite
    finally:
        logging.disable(previous)
    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    return robosuite


def yaw_of_quat_wxyz(q: np.ndarray) -> float:
    """Rotation about world z of a (w, x, y, z) quaternion (exact for z-only rotations)."""
    w, x, y, z = (float(v) for v in q)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def fold_cube_yaw(yaw: float) -> float:
    """Fold a cube's yaw by its 90° symmetry into [-π/4, π/4)."""
    return (yaw + math.pi / 4) % (math.pi / 2) - math.pi / 4


def make_two_cube_sampler(
    x_range: tuple[float, float], y_ranges: dict[str, tuple[float, float]],
    min_separation: float, reference_pos: tuple[float, float, float],
):
    """Build a :class:`TwoCubeSampler` (a robosuite ``ObjectPositionSampler`` subclass).

    The class is defined inside this factory so that robosuite is imported only when an env
    is built, never when the task list is.
    """
    robosuite = _import_robosuite()
    from robosuite.utils import RandomizationError
    from robosuite.utils.placement_samplers import ObjectPositionSampler

    del robosuite

    class TwoCubeSampler(ObjectPositionSampler):
        """Place each object uniformly in its own rectangle (``x_range`` x ``y_ranges[name]``),
        pairwise ``min_separation`` apart.

        Yaw is uniform in [-π/4, π/4): for a cube every orientation is one of these.
        """

        def __init__(self) -> None:
            super().__init__(
                name="TwoCubeSampler", ensure_object_boundary_in_range=False,
                ensure_valid_placement=True, reference_pos=reference_pos, z_offset=0.0,
                rng=np.random.default_rng(0),
            )

        def sample(self, fixtures=None, reference=None, on_top=True):
            placed: dict[str, Any] = {} if fixtures is None else dict(fixtures)
            base = np.asarray(self.reference_pos, dtype=np.float64)
            for obj in self.mujoco_objects:
                for _ in range(1000):
                    x = self.rng.uniform(*x_range) + base[0]
                    y = self.rng.uniform(*y_ranges[obj.name]) + base[1]
                    if all(np.hypot(x - p[0], y - p[1]) >= min_separation
                           for p, _q, _o in placed.values()):
                        break
                else:
                    raise RandomizationError(f"cannot place {obj.name} {min_separation} m apart")
                yaw = self.rng.uniform(-math.pi / 4, math.pi / 4)
                quat = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
                z = base[2] - obj.bottom_offset[-1]
                placed[obj.name] = ((x, y, z), quat, obj)
            return placed

    return TwoCubeSampler()


class RobosuiteLiftEnv(gym.Env):
    """Lift either of two cubes; see the module docstring.

    Args:
        max_episode_steps: Horizon in env steps (20 Hz control); the episode is truncated
            after this many steps.
        lift_height: Success when a grasped cube's bottom is this far above the table (m).
        min_separation: Minimum horizontal distance between the cubes' centres (m).
        x_range: Cube placement range along x, relative to the table centre (m).
        y_range_red: Red cube's placement range along y, relative to the table centre (m).
        y_range_green: Green cube's placement range along y (m).
        mass_scale: Multiplies both cubes' mass and inertia (a dynamics perturbation).
        friction_scale: Multiplies the sliding friction of the cubes and the gripper's geoms.
        gain_scale: Multiplies the OSC stiffness ``kp`` (150 by default).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        max_episode_steps: int = 100,
        lift_height: float = 0.04,
        min_separation: float = 0.12,
        x_range: tuple[float, float] = (-0.08, 0.08),
        y_range_red: tuple[float, float] = (-0.16, -0.06),
        y_range_green: tuple[float, float] = (0.06, 0.16),
        mass_scale: float = 1.0,
        friction_scale: float = 1.0,
        gain_scale: float = 1.0,
    ) -> None:
        for name, value in (("mass_scale", mass_scale), ("friction_scale", friction_scale),
                            ("gain_scale", gain_scale)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self.max_episode_steps = int(max_episode_steps)
        self.lift_height = float(lift_height)
        self.mass_scale = float(mass_scale)
        self.friction_scale = float(friction_scale)
        self.gain_scale = float(gain_scale)

        suite = _import_robosuite()
        from robosuite.controllers import load_composite_controller_config

        controller = load_composite_controller_config(controller="BASIC", robot="Panda")
        arm = controller["body_parts"]["right"]
        if arm["type"] != "OSC_POSE" or arm["input_type"] != "delta":
            raise RuntimeError(f"unexpected robosuite Panda controller config: {arm['type']}")
        arm["kp"] = float(arm["kp"]) * self.gain_scale
        y_ranges = {"cubeA": tuple(y_range_red), "cubeB": tuple(y_range_green)}
        self.sampler = make_two_cube_sampler(
            tuple(x_range), y_ranges, float(min_separation), (0.0, 0.0, TABLE_TOP_Z))
        self.sim_env = suite.make(
            "Stack",
            robots="Panda",
            controller_configs=controller,
            placement_initializer=self.sampler,
            has_renderer=False,
            has_offscreen_renderer=False,
            use_camera_obs=False,
            use_object_obs=True,
            reward_shaping=False,
            control_freq=20,
            # the episode horizon is ours; robosuite's own "done" is switched off
            horizon=10**9,
            ignore_done=True,
            hard_reset=False,
            seed=0,
        )
        env = self.sim_env
        self.robot = env.robots[0]
        self._eef_site = self.robot.eef_site_id["right"]
        self._gripper_qpos_idx = list(self.robot._ref_gripper_joint_pos_indexes["right"])
        self._cube_body = {c: env.sim.model.body_name2id(getattr(env, c).root_body)
                           for c in CUBES}
        self._cube_model = {c: getattr(env, c) for c in CUBES}
        self._apply_dynamics()

        # every dimension is a position in metres near the table or a cos/sin: |x| < 2 always
        self.observation_space = spaces.Box(-10.0, 10.0, shape=(OBS_DIM,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(ACT_DIM,), dtype=np.float32)
        self._t = 0
        self._last_grasped = ""
        self._mode = ""

    # -- dynamics perturbations ------------------------------------------------------------
    def _apply_dynamics(self) -> None:
        model = self.sim_env.sim.model
        for cube in CUBES:
            body = self._cube_body[cube]
            model.body_mass[body] *= self.mass_scale
            model.body_inertia[body] *= self.mass_scale
        if self.friction_scale != 1.0:
            geoms = [model.geom_name2id(g)
                     for c in CUBES for g in self._cube_model[c].contact_geoms]
            # every collision geom of the gripper (pads and finger bodies): MuJoCo takes the
            # larger friction of the two geoms in contact, so an unscaled finger would mask it
            geoms += [model.geom_name2id(g) for g in self.robot.gripper["right"].contact_geoms]
            for g in geoms:
                model.geom_friction[g, 0] *= self.friction_scale

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Noise-free simulator state the scripted expert reads.

        Returns:
            Dict with ``eef_pos`` (3,), ``eef_mat`` (3, 3), ``gripper_qpos`` (2,), and per cube
            name ``{cube}_pos`` (3,), ``{cube}_yaw`` (folded, radians), ``{cube}_half``.
        """
        data = self.sim_env.sim.data
        out: dict[str, Any] = {
            "eef_pos": np.array(data.site_xpos[self._eef_site]),
            "eef_mat": np.array(data.site_xmat[self._eef_site]).reshape(3, 3),
            "gripper_qpos": np.array(data.qpos[self._gripper_qpos_idx]),
        }
        for cube in CUBES:
            body = self._cube_body[cube]
            out[f"{cube}_pos"] = np.array(data.body_xpos[body])
            out[f"{cube}_yaw"] = fold_cube_yaw(yaw_of_quat_wxyz(data.body_xquat[body]))
            out[f"{cube}_half"] = CUBE_HALF_SIZE[cube]
        return out

    @staticmethod
    def eef_yaw(eef_mat: np.ndarray) -> float:
        """Yaw of the gripper: heading of the gripper site's x axis in the world xy plane."""
        return math.atan2(float(eef_mat[1, 0]), float(eef_mat[0, 0]))

    def _obs(self) -> np.ndarray:
        s = self.state()
        eef = s["eef_pos"]
        yaw = self.eef_yaw(s["eef_mat"])
        parts = [eef, [math.cos(yaw), math.sin(yaw)], s["gripper_qpos"]]
        for cube in CUBES:
            pos, cy = s[f"{cube}_pos"], s[f"{cube}_yaw"]
            parts += [pos, [math.cos(4 * cy), math.sin(4 * cy)], pos - eef]
        return np.concatenate(parts).astype(np.float32)

    def _lifted(self, cube: str) -> bool:
        z = float(self.sim_env.sim.data.body_xpos[self._cube_body[cube]][2])
        return z - CUBE_HALF_SIZE[cube] - TABLE_TOP_Z >= self.lift_height

    def _grasped(self, cube: str) -> bool:
        return bool(self.sim_env._check_grasp(gripper=self.robot.gripper,
                                              object_geoms=self._cube_model[cube]))

    # -- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        # robosuite draws joint noise from env.rng and placements from the sampler's rng;
        # both follow this env's seeded generator so reset(seed=s) fixes the episode
        self.sim_env.rng = self.np_random
        self.sampler.rng = self.np_random
        self.sim_env.reset()
        self._t = 0
        self._last_grasped = ""
        self._mode = ""
        return self._obs(), {}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(ACT_DIM), -1.0, 1.0)
        self.sim_env.step(a)
        self._t += 1
        success = False
        for cube in CUBES:
            if self._grasped(cube):
                self._last_grasped = cube
                if self._lifted(cube):
                    success = True
                    self._mode = MODE_OF_CUBE[cube]
                    break
        terminated = success
        truncated = (not terminated) and self._t >= self.max_episode_steps
        info: dict[str, Any] = {}
        if terminated or truncated:
            info["success"] = success
            # a failed episode is labelled by the cube it last held, "" if it held none
            info["mode"] = self._mode if success else MODE_OF_CUBE.get(self._last_grasped, "")
        return self._obs(), 1.0 if success else 0.0, terminated, truncated, info

    def close(self) -> None:
        self.sim_env.close()
