"""The ``kitchen`` task family: gymnasium-robotics ``FrankaKitchen-v1``, orders of subtasks.

The Franka must open the microwave, move the kettle to the back burner, turn on the light
and open the slide cabinet; the demonstrations do the four subtasks in all 4! = 24 orders,
and an episode's mode is the order in which the subtasks were completed
(``info["episode_task_completions"]``). The episode ends when all four are done
(FrankaKitchen's ``terminate_on_tasks_completed``). See :mod:`tasks.kitchen.expert` for the
scripted demonstrator and :mod:`tasks.kitchen.env` for the wrapper.

This module stays light: gymnasium-robotics and MuJoCo are imported when an env is built.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from benchmark.spec import NOMINAL, ChunkSpec, PerturbationLevel, TaskSpec, TierBudget
from benchmark.task import Task

SUBTASKS: tuple[str, ...] = ("microwave", "kettle", "light switch", "slide cabinet")
MODE_SEP = ">"  # joins subtasks into a mode label (also in tasks.kitchen.env)
MODES: tuple[str, ...] = tuple(MODE_SEP.join(p) for p in itertools.permutations(SUBTASKS))

# FrankaKitchen's own defaults (the nominal level keeps them)
ROBOT_NOISE = 0.01
OBJECT_NOISE = 0.0005

DYNAMICS_KEYS = ("damping_scale", "friction_scale", "gain_scale")


def _ladder() -> tuple[PerturbationLevel, ...]:
    levels = [NOMINAL]
    # observation noise through the env's own knobs, as multiples of its defaults; the
    # robot's noisy joint reading is also what the env's velocity controller integrates from,
    # so this perturbs control as well as perception (FrankaKitchen's design)
    for i, factor in enumerate((5.0, 10.0, 20.0), start=1):
        levels.append(PerturbationLevel(
            f"obs_noise_x{factor:g}", "obs_noise",
            {"robot_noise_ratio": ROBOT_NOISE * factor,
             "object_noise_ratio": OBJECT_NOISE * factor},
            "obs_noise", i))
    for ladder, key, values in (
        ("damping", "damping_scale", (2.0, 4.0)),     # joint damping of the arm and objects
        ("friction", "friction_scale", (0.5, 2.0)),   # sliding friction of every geom
        ("gain", "gain_scale", (0.7, 0.5)),           # arm/finger position-servo stiffness
    ):
        for i, v in enumerate(values, start=1):
            levels.append(PerturbationLevel(f"{ladder}_x{v:g}", "dynamics", {key: v}, ladder, i))
    return tuple(levels)


SPEC_V0 = TaskSpec(
    name="kitchen",
    version=0,
    description=("FrankaKitchen-v1: microwave, kettle, light switch, slide cabinet in any "
                 "order; 24 modes (the orders)"),
    env_id="FrankaKitchen-v1",
    env_kwargs={
        "tasks_to_complete": list(SUBTASKS),
        "terminate_on_tasks_completed": True,
        "remove_task_when_completed": True,
        "robot_noise_ratio": ROBOT_NOISE,
        "object_noise_ratio": OBJECT_NOISE,
        "max_episode_steps": 700,
    },
    obs_dim=59,
    act_dim=9,
    # the expert needs ~470 steps on average, at most ~550: 700 leaves the policy slack
    max_episode_steps=700,
    chunk=ChunkSpec(horizon=16, act_steps=8),
    modes=MODES,
    mode_weights=tuple(1.0 / len(MODES) for _ in MODES),
    dataset_id="modebench/kitchen/expert-v0",
    dataset_episodes=120,
    dataset_hash="5499f80cd4bfe3a3",
    perturbations=_ladder(),
    tiers={
        # smoke: seconds of compute once the dataset exists (tests use a smaller variant)
        "smoke": TierBudget(
            n_demos=24, pretrain_steps=100, batch_size=64, finetune_iterations=1,
            finetune_steps_per_iter=4, n_envs=2, eval_episodes=2,
        ),
        # small: a CPU laptop; fine-tuning = 20 x 16 decisions x 4 envs x 8 steps = 10k env
        # steps (~20-30 s of simulation), evaluation 96 episodes of up to 700 steps: 4 per
        # order, so that a policy spreading its successes over all 24 orders can show it
        "small": TierBudget(
            n_demos=120, pretrain_steps=3000, batch_size=256, finetune_iterations=20,
            finetune_steps_per_iter=16, n_envs=4, eval_episodes=96,
        ),
        "paper": TierBudget(
            n_demos=120, pretrain_steps=50_000, batch_size=1024, finetune_iterations=300,
            # 1,024 evaluation episodes, as the BMD paper evaluates
            finetune_steps_per_iter=32, n_envs=40, eval_episodes=1024, device="auto",
        ),
    },
    success_rule=("microwave, kettle, light switch and slide cabinet all within 0.3 of their "
                  "goal (FrankaKitchen's BONUS_THRESH) within 700 steps; the episode ends there"),
    mode_rule=("the subtasks in the order completed, joined by '>', e.g. "
               "'microwave>kettle>light switch>slide cabinet' "
               "(info['episode_task_completions']); "
               "a failed episode gets the prefix it completed, '' if none"),
    extra={"subtasks": list(SUBTASKS), "observation": "FrankaKitchen 'observation' (59,)",
           "reward": "FrankaKitchen's: number of subtasks completed on the step"},
)


class KitchenTask(Task):
    """``kitchen-v0``: see the module docstring."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def make_env(self, perturbation: PerturbationLevel | None = None, **kwargs: Any):
        """Build FrankaKitchen at ``perturbation`` (nominal when None).

        The returned env has flat float32 observations (59,) and actions (9,) in [-1, 1];
        the info of an episode's last step holds ``success``, ``mode`` and ``progress``.

        Args:
            perturbation: A level of ``spec.perturbations``. ``robot_noise_ratio`` /
                ``object_noise_ratio`` go to the env; ``damping_scale``, ``friction_scale``
                and ``gain_scale`` scale ``model.dof_damping``, ``model.geom_friction[:, 0]``
                and the actuators' ``gainprm[0]`` / ``biasprm[1:3]`` once, at make time.
            **kwargs: Overrides of ``spec.env_kwargs`` (tests).

        Raises:
            ValueError: A perturbation parameter this task does not know.
        """
        import contextlib
        import io

        import gymnasium as gym

        # gymnasium-robotics prints a notice about Adroit's rewards to stderr at import; it
        # concerns envs modebench does not use
        with contextlib.redirect_stderr(io.StringIO()):
            import gymnasium_robotics

        from tasks.kitchen.env import KitchenWrapper, apply_dynamics

        gym.register_envs(gymnasium_robotics)
        p = dict((perturbation or NOMINAL).params)
        env_kwargs = dict(self.spec.env_kwargs) | kwargs
        for key in ("robot_noise_ratio", "object_noise_ratio"):
            if key in p:
                env_kwargs[key] = float(p.pop(key))
        dynamics = {k: float(p.pop(k)) for k in DYNAMICS_KEYS if k in p}
        if p:
            raise ValueError(f"{self.spec.id}: unknown perturbation parameters {sorted(p)}")
        max_steps = int(env_kwargs.pop("max_episode_steps"))
        # TimeLimit only (gym.make's checker/order-enforcing wrappers cost time per step)
        env = gym.make(self.spec.env_id, max_episode_steps=max_steps,
                       disable_env_checker=True, **env_kwargs)
        apply_dynamics(env.unwrapped.model, **dynamics)
        return KitchenWrapper(env)

    def make_expert(self, env: Any, mode: str, rng: np.random.Generator):
        """The scripted IK expert completing the subtasks in the order ``mode``."""
        from tasks.kitchen.expert import KitchenExpert

        if mode not in self.spec.modes:
            raise ValueError(f"{self.spec.id}: unknown mode {mode!r}; known: {self.spec.modes}")
        return KitchenExpert(env, mode, rng)

    def episode_extras(self, info: dict[str, Any]) -> dict[str, Any]:
        """``{"progress": n}``: subtasks completed in the episode (for p1..p3)."""
        return {"progress": int(info.get("progress", 0))}


TASKS = [KitchenTask(SPEC_V0)]
