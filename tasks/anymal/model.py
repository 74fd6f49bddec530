"""Loading the quadruped model: the project's own MJCF or MuJoCo Menagerie's ANYmal C.

Both models are brought to one *task convention* so the env, the expert and the policies
never see which one runs:

* joints in the order LF, RF, LH, RH and, per leg, HAA, HFE, KFE (:data:`JOINT_NAMES`);
* HAA positive = abduction (foot outward); HFE and KFE positive about the base's +y axis
  (a positive HFE swings the foot backward);
* the nominal stance :data:`DEFAULT_POSE` (HFE +0.4 front / -0.4 hind, KFE -0.8 / +0.8).

A model whose joint axes point the other way (menagerie's frames are rotated) gets a sign per
joint, computed from the compiled model's joint axes, not hard-coded (:func:`joint_signs`).

The arena is added with :class:`mujoco.MjSpec`: a floor (if the model has none) and two
visual goal-gate markers (mocap bodies, moved per episode).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.errors import BenchError

LEGS: tuple[str, ...] = ("LF", "RF", "LH", "RH")
JOINT_KINDS: tuple[str, ...] = ("HAA", "HFE", "KFE")
JOINT_NAMES: tuple[str, ...] = tuple(f"{leg}_{j}" for leg in LEGS for j in JOINT_KINDS)
# +1 for front / left legs, -1 for hind / right legs (same order as LEGS)
LEG_X_SIGN = np.array([1.0, 1.0, -1.0, -1.0])
LEG_Y_SIGN = np.array([1.0, -1.0, 1.0, -1.0])
DEFAULT_POSE = np.array([0.0, 0.4, -0.8, 0.0, 0.4, -0.8, 0.0, -0.4, 0.8, 0.0, -0.4, 0.8])

SHIPPED_MJCF = Path(__file__).resolve().parent / "assets" / "anymal_c.xml"
MENAGERIE_ENV = "MENAGERIE_ROOT"
MENAGERIE_SCENE = Path("anybotics_anymal_c") / "scene.xml"


class ModelNotFoundError(BenchError):
    """The requested robot model file does not exist (exit code 3, like a missing dataset)."""

    exit_code = 3


def file_sha256(path: Path) -> str:
    """SHA-256 (first 16 hex chars) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def menagerie_scene() -> Path | None:
    """Menagerie's ``anybotics_anymal_c/scene.xml`` under ``$MENAGERIE_ROOT``, or None."""
    root = os.environ.get(MENAGERIE_ENV)
    if not root:
        return None
    path = Path(root).expanduser() / MENAGERIE_SCENE
    return path if path.is_file() else None


def menagerie_model_hash() -> str | None:
    """Hash of menagerie's ``anymal_c.xml`` + ``scene.xml`` (None without a checkout).

    Both files define the physics (the scene adds the floor), so both are hashed; the meshes
    are visual only in menagerie's model and are not.
    """
    scene = menagerie_scene()
    if scene is None:
        return None
    robot = scene.parent / "anymal_c.xml"
    digest = hashlib.sha256(scene.read_bytes() + b"\0" + robot.read_bytes()).hexdigest()
    return digest[:16]


def resolve_model_path(source: str) -> Path:
    """The MJCF file of ``source`` (``"shipped"`` or ``"menagerie"``).

    Raises:
        ModelNotFoundError: Menagerie requested but ``$MENAGERIE_ROOT`` is unset or lacks
            ``anybotics_anymal_c/scene.xml``.
        ValueError: Unknown source.
    """
    if source == "shipped":
        return SHIPPED_MJCF
    if source == "menagerie":
        scene = menagerie_scene()
        if scene is None:
            raise ModelNotFoundError(
                f"task anymal-menagerie needs MuJoCo Menagerie's ANYmal C: set {MENAGERIE_ENV} "
                f"to a mujoco_menagerie checkout containing {MENAGERIE_SCENE} (now: "
                f"{os.environ.get(MENAGERIE_ENV)!r}). Without one, use task anymal, which "
                "ships its own model."
            )
        return scene
    raise ValueError(f"unknown model source {source!r}; expected 'shipped' or 'menagerie'")


def build_model(source: str):
    """Compile the robot plus arena (a floor if the model has none, two goal-gate markers).

    Args:
        source: ``"shipped"`` or ``"menagerie"``.

    Returns:
        ``mujoco.MjModel``.
    """
    import mujoco

    path = resolve_model_path(source)
    spec = mujoco.MjSpec.from_file(str(path))
    has_floor = any(g.type == mujoco.mjtGeom.mjGEOM_PLANE for g in spec.geoms)
    if not has_floor:
        spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE,
                                size=[0, 0, 0.05])
    for name, rgba in (("gate_left", [0.1, 0.5, 0.9, 0.6]), ("gate_right", [0.9, 0.5, 0.1, 0.6])):
        # visual only (no contacts), as wide as the default gates; the env moves them
        body = spec.worldbody.add_body(name=name, mocap=True, pos=[2.0, 0.0, 0.0])
        body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.02, 0.2, 0.003],
                      contype=0, conaffinity=0, rgba=rgba)
    return spec.compile()


@dataclass(frozen=True)
class RobotIndex:
    """Addresses of the robot's parts inside a compiled model (task order everywhere).

    Attributes:
        base_body: Body id of the floating base.
        qpos_adr: qpos addresses of the 12 joints, shape (12,).
        qvel_adr: qvel addresses of the 12 joints, shape (12,).
        actuators: Actuator ids driving the 12 joints, shape (12,).
        signs: Task-to-model sign of each joint, shape (12,) (q_model = sign * q_task).
        foot_geoms: Geom id of each foot, shape (4,).
        foot_radius: Radius of the foot spheres (m).
        free_qpos: qpos address of the free joint.
        free_qvel: qvel address of the free joint.
        floor_geoms: Geom ids of ground planes.
    """

    base_body: int
    qpos_adr: np.ndarray
    qvel_adr: np.ndarray
    actuators: np.ndarray
    signs: np.ndarray
    foot_geoms: np.ndarray
    foot_radius: float
    free_qpos: int
    free_qvel: int
    floor_geoms: np.ndarray


def joint_signs(model, joint_ids: np.ndarray) -> np.ndarray:
    """Sign mapping task convention -> model convention for each joint.

    The joint axes are read in the base frame at ``qpos0`` (all joints at zero): HAA must
    point along ``+x`` for left legs and ``-x`` for right legs (positive = abduction), HFE and
    KFE along ``+y``. A model whose axis points the other way gets ``-1``.

    Raises:
        ValueError: A joint axis that is not (anti-)parallel to the expected axis.
    """
    import mujoco

    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    base = model.jnt_bodyid[joint_ids[0]]
    while model.body_parentid[base] != 0:
        base = model.body_parentid[base]
    r_base = data.xmat[base].reshape(3, 3)
    signs = np.ones(len(joint_ids))
    for k, jid in enumerate(joint_ids):
        leg, kind = divmod(k, 3)
        axis = r_base.T @ data.xaxis[jid]
        expected = np.array([LEG_Y_SIGN[leg], 0.0, 0.0]) if kind == 0 else np.array([0, 1.0, 0])
        cos = float(axis @ expected)
        if abs(cos) < 0.95:
            raise ValueError(
                f"joint {JOINT_NAMES[k]}: axis {axis.round(3)} is not parallel to {expected}"
            )
        signs[k] = np.sign(cos)
    return signs


def index_robot(model) -> RobotIndex:
    """Find joints, actuators and feet of an ANYmal model by their (menagerie) names.

    Raises:
        ValueError: A joint, actuator or foot that cannot be found.
    """
    import mujoco

    jids = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in JOINT_NAMES])
    if (jids < 0).any():
        missing = [n for n, j in zip(JOINT_NAMES, jids, strict=True) if j < 0]
        raise ValueError(f"model lacks joints {missing}")
    acts = np.full(12, -1)
    for a in range(model.nu):
        if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT:
            j = model.actuator_trnid[a, 0]
            hit = np.flatnonzero(jids == j)
            if hit.size:
                acts[hit[0]] = a
    if (acts < 0).any():
        missing = [JOINT_NAMES[i] for i in np.flatnonzero(acts < 0)]
        raise ValueError(f"no actuator drives joints {missing}")
    free = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    if len(free) != 1:
        raise ValueError("the model must have exactly one free joint (the base)")
    base_body = int(model.jnt_bodyid[free[0]])
    feet = []
    for leg in LEGS:
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"{leg}_SHANK")
        spheres = [g for g in range(model.ngeom) if model.geom_bodyid[g] == body
                   and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE]
        if not spheres:
            raise ValueError(f"no foot sphere on body {leg}_SHANK")
        # the foot is the sphere farthest from the knee
        feet.append(max(spheres, key=lambda g: float(np.linalg.norm(model.geom_pos[g]))))
    floors = np.array([g for g in range(model.ngeom)
                       if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_PLANE])
    return RobotIndex(
        base_body=base_body,
        qpos_adr=model.jnt_qposadr[jids].copy(),
        qvel_adr=model.jnt_dofadr[jids].copy(),
        actuators=acts,
        signs=joint_signs(model, jids),
        foot_geoms=np.array(feet),
        foot_radius=float(model.geom_size[feet[0], 0]),
        free_qpos=int(model.jnt_qposadr[free[0]]),
        free_qvel=int(model.jnt_dofadr[free[0]]),
        floor_geoms=floors,
    )
