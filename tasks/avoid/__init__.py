"""The synthetic multimodal ``avoid`` task (numpy, no MuJoCo): see :mod:`tasks.avoid.env`."""

from __future__ import annotations

import itertools
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

ROWS = 3
MODES = tuple("".join(p) for p in itertools.product("LR", repeat=ROWS))
# per-dimension scale of (x, y, vx, vy), roughly the demonstrations' spread: obs noise is
# sigma times this
OBS_SCALE = (0.15, 0.35, 0.3, 0.3)


def _ladder() -> tuple[PerturbationLevel, ...]:
    return (NOMINAL, *obs_noise_ladder((0.05, 0.1, 0.2)),
            *dynamics_ladder("drag", "drag_scale", (0.5, 2.0)),
            *dynamics_ladder("mass", "mass_scale", (1.5, 2.0)),
            *dynamics_ladder("gain", "gain_scale", (0.75, 0.5)))


SPEC_V0 = TaskSpec(
    name="avoid",
    version=0,
    description="2-D point mass through 3 rows of obstacles; 8 left/right homotopy classes",
    env_id="modebench/Avoid-v0",
    env_kwargs={"horizon": 80, "time_cost": 0.02},
    obs_dim=4,
    act_dim=2,
    max_episode_steps=80,
    chunk=ChunkSpec(horizon=8, act_steps=4),
    modes=MODES,
    mode_weights=tuple(1.0 / len(MODES) for _ in MODES),
    dataset_id="modebench/avoid/expert-v0",
    dataset_episodes=500,
    dataset_hash="6272df8d8e3937c3",
    perturbations=_ladder(),
    tiers={
        "smoke": TierBudget(
            n_demos=64, pretrain_steps=200, batch_size=64, finetune_iterations=2,
            finetune_steps_per_iter=8, n_envs=8, eval_episodes=16,
        ),
        "small": TierBudget(
            n_demos=500, pretrain_steps=32_000, batch_size=256, finetune_iterations=300,
            finetune_steps_per_iter=16, n_envs=16, eval_episodes=100,
        ),
        "paper": TierBudget(
            n_demos=500, pretrain_steps=50_000, batch_size=1024, finetune_iterations=500,
            finetune_steps_per_iter=16, n_envs=64, eval_episodes=500, device="auto",
        ),
    },
    success_rule="reach y >= 1.2 without touching an obstacle or a wall within 80 steps",
    mode_rule="the sides (L/R) on which the mass crossed each obstacle row, e.g. 'LRL'",
    extra={"obs_scale": list(OBS_SCALE)},
)


class AvoidTask(Task):
    """``avoid-v0``."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def make_env(self, perturbation: PerturbationLevel | None = None, **kwargs: Any):
        import gymnasium as gym

        from benchmark.wrappers import ObservationNoise

        if self.spec.env_id not in gym.registry:
            gym.register(self.spec.env_id, entry_point="tasks.avoid.env:AvoidEnv")
        p = dict((perturbation or NOMINAL).params)
        env_kwargs = dict(self.spec.env_kwargs) | kwargs
        # the env enforces its own horizon; no TimeLimit or checker wrappers on the hot path
        env = gym.make(self.spec.env_id, disable_env_checker=True, **env_kwargs)
        base = env.unwrapped
        base.drag *= p.pop("drag_scale", 1.0)
        base.mass *= p.pop("mass_scale", 1.0)
        base.gain *= p.pop("gain_scale", 1.0)
        sigma = p.pop("obs_noise", 0.0)
        if p:
            raise ValueError(f"avoid: unknown perturbation parameters {sorted(p)}")
        if sigma > 0:
            return ObservationNoise(env, sigma, np.asarray(self.spec.extra["obs_scale"]))
        return env

    def make_expert(self, env: Any, mode: str, rng: np.random.Generator):
        from tasks.avoid.expert import AvoidExpert

        return AvoidExpert(env.unwrapped, mode, rng)


TASKS = [AvoidTask(SPEC_V0)]
