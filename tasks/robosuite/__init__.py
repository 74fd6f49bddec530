"""The ``robosuite-lift`` task family: lift the red or the green cube (robosuite, Panda, OSC).

See :mod:`tasks.robosuite.env` for the environment and :mod:`tasks.robosuite.expert` for the
scripted demonstrator. This module stays light: robosuite (and MuJoCo) are imported only
when an env is built, so ``bench tasks list`` does not pay for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.spec import (
    NOMINAL,
    ChunkSpec,
    PerturbationLevel,
    TaskSpec,
    TierBudget,
    dynamics_ladder,
    obs_noise_ladder,
)
from benchmark.task import Task

MODES = ("red", "green")
# Per-dimension scale of the 23 observation dimensions (order: tasks.robosuite.env.OBS_NAMES),
# the rounded spread of the demonstrations: obs noise at level sigma adds N(0, (sigma*scale)^2).
# Positions use one physical scale (6 cm; 8 cm for cube-minus-gripper offsets) rather than
# each dimension's std, which for a cube's resting height (7 mm) would make the noise vanish.
_POS, _REL = 0.06, 0.08
OBS_SCALE: tuple[float, ...] = (
    _POS, _POS, _POS, 0.2, 0.2, 0.007, 0.007,  # gripper site xyz, yaw cos/sin, fingers
    _POS, _POS, _POS, 0.6, 0.6, _REL, _REL, _REL,  # red cube xyz, yaw4 cos/sin, offset
    _POS, _POS, _POS, 0.6, 0.6, _REL, _REL, _REL,  # green cube
)


def _ladder() -> tuple[PerturbationLevel, ...]:
    return (NOMINAL, *obs_noise_ladder((0.05, 0.1, 0.2)),
            *dynamics_ladder("mass", "mass_scale", (3.0, 10.0)),
            *dynamics_ladder("friction", "friction_scale", (0.3, 0.1)),
            *dynamics_ladder("gain", "gain_scale", (0.5, 0.25)))


SPEC_V0 = TaskSpec(
    name="robosuite-lift",
    version=0,
    description=("robosuite Panda (OSC_POSE, 20 Hz) lifts one of two cubes; "
                 "2 modes: the red cube (right) or the green cube (left)"),
    env_id="modebench/RobosuiteLift-v0",
    env_kwargs={
        "max_episode_steps": 100, "lift_height": 0.04, "min_separation": 0.12,
        "x_range": [-0.08, 0.08], "y_range_red": [-0.16, -0.06], "y_range_green": [0.06, 0.16],
    },
    obs_dim=23,
    act_dim=7,
    max_episode_steps=100,
    chunk=ChunkSpec(horizon=8, act_steps=4),
    modes=MODES,
    mode_weights=(0.5, 0.5),
    dataset_id="modebench/robosuite-lift/expert-v0",
    dataset_episodes=100,
    # under requirements.lock (f6d77c16ab9f48a5 was built in an earlier, unrecorded
    # environment: the same expert and seeds give other bytes under other package versions)
    dataset_hash="f7c71f512750757c",
    perturbations=_ladder(),
    tiers={
        "smoke": TierBudget(
            n_demos=20, pretrain_steps=200, batch_size=64, finetune_iterations=2,
            finetune_steps_per_iter=8, n_envs=2, eval_episodes=2,
        ),
        "small": TierBudget(
            n_demos=100, pretrain_steps=8000, batch_size=256, finetune_iterations=40,
            finetune_steps_per_iter=16, n_envs=10, eval_episodes=50,
        ),
        "paper": TierBudget(
            n_demos=100, pretrain_steps=50_000, batch_size=1024, finetune_iterations=300,
            finetune_steps_per_iter=16, n_envs=50, eval_episodes=200, device="auto",
        ),
    },
    success_rule=("a cube held between both finger pads with its bottom >= 4 cm above the "
                  "table, within 100 steps (5 s); the episode ends there"),
    mode_rule=("the colour of the cube lifted ('red' = robosuite cubeA, 4 cm; 'green' = "
               "cubeB, 5 cm); a failed episode gets the cube it last held, '' if none"),
    extra={"obs_scale": list(OBS_SCALE), "scene": "robosuite Stack (Panda, BASIC/OSC_POSE)",
           "reward": "1 on the success step, else 0"},
)


class RobosuiteLiftTask(Task):
    """``robosuite-lift-v0``: see :mod:`tasks.robosuite.env`."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def make_env(self, perturbation: PerturbationLevel | None = None, **kwargs: Any):
        """Build the env at ``perturbation`` (nominal when None).

        Dynamics levels (``mass_scale``, ``friction_scale``, ``gain_scale``) become env
        constructor arguments; ``obs_noise`` wraps the env in
        :class:`benchmark.wrappers.ObservationNoise` with the spec's ``obs_scale``.

        Args:
            perturbation: A level of ``spec.perturbations``.
            **kwargs: Overrides of ``spec.env_kwargs`` (tests).

        Raises:
            ValueError: A perturbation parameter this task does not know.
        """
        import gymnasium as gym

        from benchmark.wrappers import ObservationNoise

        if self.spec.env_id not in gym.registry:
            gym.register(self.spec.env_id, entry_point="tasks.robosuite.env:RobosuiteLiftEnv")
        p = dict((perturbation or NOMINAL).params)
        sigma = p.pop("obs_noise", 0.0)
        dynamics = {k: p.pop(k) for k in ("mass_scale", "friction_scale", "gain_scale") if k in p}
        if p:
            raise ValueError(f"{self.spec.id}: unknown perturbation parameters {sorted(p)}")
        env_kwargs = dict(self.spec.env_kwargs) | dynamics | kwargs
        # the env enforces its own horizon; no TimeLimit or checker wrappers on the hot path
        env = gym.make(self.spec.env_id, disable_env_checker=True, **env_kwargs)
        if sigma > 0:
            return ObservationNoise(env, sigma, np.asarray(self.spec.extra["obs_scale"]))
        return env

    def make_expert(self, env: Any, mode: str, rng: np.random.Generator):
        """The scripted waypoint expert lifting the cube of ``mode`` (call after reset)."""
        from tasks.robosuite.expert import LiftExpert

        return LiftExpert(env.unwrapped, mode, rng)


TASKS = [RobosuiteLiftTask(SPEC_V0)]
