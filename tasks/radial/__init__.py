"""The synthetic ``radial`` task: 16 well-separated modes in one decision (numpy)."""

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

N_GOALS = 16
MODES = tuple(f"g{k:02d}" for k in range(N_GOALS))
OBS_SCALE = (0.3, 0.3, 0.3)  # obs noise is sigma times this, per dimension


def _ladder() -> tuple[PerturbationLevel, ...]:
    return (NOMINAL, *obs_noise_ladder((0.05, 0.1, 0.2)),
            *dynamics_ladder("gain", "gain_scale", (0.75, 0.5)))


SPEC_V0 = TaskSpec(
    name="radial",
    version=0,
    description="from the centre, reach one of 16 goals on a ring: 16 modes in one decision",
    env_id="modebench/Radial-v0",
    env_kwargs={"n_goals": N_GOALS, "horizon": 16},
    obs_dim=3,
    act_dim=2,
    max_episode_steps=16,
    chunk=ChunkSpec(horizon=8, act_steps=4),
    modes=MODES,
    mode_weights=tuple(1.0 / N_GOALS for _ in MODES),
    dataset_id="modebench/radial/expert-v0",
    dataset_episodes=480,
    dataset_hash="daf3acf4bc1197f4",
    perturbations=_ladder(),
    tiers={
        "smoke": TierBudget(
            n_demos=64, pretrain_steps=200, batch_size=64, finetune_iterations=2,
            finetune_steps_per_iter=4, n_envs=8, eval_episodes=16,
        ),
        # 4 evaluation episodes per goal at the small tier; 64 at the paper tier
        "small": TierBudget(
            n_demos=480, pretrain_steps=8_000, batch_size=256, finetune_iterations=100,
            finetune_steps_per_iter=4, n_envs=16, eval_episodes=128,
        ),
        "paper": TierBudget(
            n_demos=480, pretrain_steps=30_000, batch_size=1024, finetune_iterations=300,
            finetune_steps_per_iter=4, n_envs=64, eval_episodes=1024, device="auto",
        ),
    },
    success_rule="cross the unit circle within 0.15 of one of the 16 goals within 16 steps",
    mode_rule="the goal nearest to where the point crossed the circle, 'g00'..'g15'",
    extra={"obs_scale": list(OBS_SCALE)},
)


class RadialTask(Task):
    """``radial-v0``."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def make_env(self, perturbation: PerturbationLevel | None = None, **kwargs: Any):
        import gymnasium as gym

        from benchmark.wrappers import ObservationNoise

        if self.spec.env_id not in gym.registry:
            gym.register(self.spec.env_id, entry_point="tasks.radial.env:RadialEnv")
        p = dict((perturbation or NOMINAL).params)
        env = gym.make(self.spec.env_id, disable_env_checker=True,
                       **(dict(self.spec.env_kwargs) | kwargs))
        env.unwrapped.gain *= p.pop("gain_scale", 1.0)
        sigma = p.pop("obs_noise", 0.0)
        if p:
            raise ValueError(f"radial: unknown perturbation parameters {sorted(p)}")
        if sigma > 0:
            return ObservationNoise(env, sigma, np.asarray(self.spec.extra["obs_scale"]))
        return env

    def make_expert(self, env: Any, mode: str, rng: np.random.Generator):
        from tasks.radial.env import RadialExpert

        return RadialExpert(env.unwrapped, mode, rng)


TASKS = [RadialTask(SPEC_V0)]
