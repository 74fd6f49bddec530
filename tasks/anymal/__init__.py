"""The ``anymal`` task family: an ANYmal C-class quadruped trots to one of two goal gates.

See :mod:`tasks.anymal.env` for the environment, :mod:`tasks.anymal.expert` for the scripted
demonstrator and ``assets/anymal_c.xml`` for the project's own robot model.

Two tasks:

* ``anymal-v3`` — the shipped MJCF (always available);
* ``anymal-menagerie-v3`` — MuJoCo Menagerie's official ANYmal C from ``$MENAGERIE_ROOT``.
  Its spec records the hash of menagerie's files (``None`` without a checkout, and then
  ``make_env`` fails with a message saying what to set), so results of the two models, or of
  two menagerie versions, never share a spec hash.

This module stays light: MuJoCo is imported when an env is made.
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
from tasks.anymal.model import SHIPPED_MJCF, file_sha256, menagerie_model_hash

MODES = ("left", "right")
MAX_STEPS = 300

# Per-dimension scale of the observation (about the std of the expert's demonstrations,
# rounded): observation noise is sigma times this. Layout: see tasks.anymal.env.
OBS_SCALE: tuple[float, ...] = (
    (0.04,)                          # base height
    + (0.06, 0.05, 0.01)             # gravity direction
    + (0.3, 0.2, 0.3)                # base linear velocity
    + (0.9, 0.9, 0.4)                # base angular velocity
    + (0.04, 0.15, 0.2) * 4          # joint positions (HAA, HFE, KFE per leg)
    + (1.0, 2.8, 3.8) * 4            # joint velocities
    + (0.7, 0.7)                     # gait clock
    + (0.5, 0.35, 0.5, 0.3)          # gate centres
)

ENV_KWARGS: dict[str, Any] = {
    "horizon": MAX_STEPS,
    "control_dt": 0.02,
    "goal_x": 1.6,
    "gate_y": 0.45,
    "gate_half_width": 0.2,
    "gate_shift": 0.05,
    "gate_jitter": 0.05,
    "arena_half_width": 1.2,
    "gait_freq": 2.0,
    "servo_kp": 250.0,
    "servo_kv": 5.0,
    "start_jitter": 0.05,
    "yaw_jitter": 0.1,
    "joint_jitter": 0.03,
    "progress_weight": 1.0,
    "success_bonus": 1.0,
    "fail_penalty": 1.0,
}

# dynamics ladders: (ladder, parameter of AnymalEnv.apply_dynamics, values, name format)
DYNAMICS_LADDERS: tuple[tuple[str, str, tuple[float, ...], str], ...] = (
    ("friction", "friction_scale", (0.5, 0.25), "friction_x{}"),
    # v3: every rung is one the scripted expert solves in >= 0.8 of its episodes on each
    # route (100 per route, evaluation seeds; `python benchmarks/anymal_task.py --episodes
    # 200 --levels ...`). Its right route is the weaker one under load: payload 5 / 6 / 7 /
    # 8 / 10 kg right 0.82 / 0.63 / 0.58 / 0.58 / 0.41 (left 0.97-0.99); strength x0.93 /
    # x0.92 / x0.9 right 0.91 / 0.88 / 0.73; slope 4.5 / 5 / 6 deg right 0.92 / 0.90 / 0.59.
    # v2's rungs 10 kg, x0.9 and 6 deg measured the expert's right route, not a policy.
    ("payload", "payload_kg", (2.5, 5.0), "payload_{}kg"),
    # v1: x0.95 and x0.9 (v0: x0.9 and x0.8). The scripted expert at x0.8 succeeds in 0.2
    # of the episodes (left 0.30, right 0.10, 20 each; x0.85: 0.55 / 0.60; x0.9: 1.0 / 0.9):
    # a rung the demonstrator cannot solve measures the task, not the policy
    ("strength", "strength_scale", (0.95, 0.92), "strength_x{}"),
    ("slope", "slope_deg", (3.0, 5.0), "slope_{}deg"),
)


def _ladder() -> tuple[PerturbationLevel, ...]:
    levels = [NOMINAL, *obs_noise_ladder((0.05, 0.1, 0.2))]
    for ladder, key, values, fmt in DYNAMICS_LADDERS:
        names = tuple(fmt.format(f"{v:g}") for v in values)
        levels += dynamics_ladder(ladder, key, values, names)
    return tuple(levels)


def _tiers() -> dict[str, TierBudget]:
    return {
        "smoke": TierBudget(
            n_demos=20, pretrain_steps=200, batch_size=64, finetune_iterations=2,
            finetune_steps_per_iter=8, n_envs=4, eval_episodes=8,
        ),
        # small: 400 demos, because 200 / 4000 steps left bc at ~5-15 % success (it walks
        # at half the expert's speed); 24,000 steps (v1: 8,000) with the family's 512 x 3
        # residual backbone, because at 8,000 steps the 3 x 256 backbone switched routes
        # between chunks (15 changes per episode on v2, 14/40 success) and at 24,000 the
        # residual one commits (3 changes, 35/40, left 20 / right 15; seed 0,
        # benchmarks/anymal_diagnosis.py --switches)
        "small": TierBudget(
            n_demos=400, pretrain_steps=24_000, batch_size=256, finetune_iterations=40,
            finetune_steps_per_iter=16, n_envs=16, eval_episodes=40,
        ),
        "paper": TierBudget(
            n_demos=600, pretrain_steps=50_000, batch_size=1024, finetune_iterations=500,
            finetune_steps_per_iter=16, n_envs=64, eval_episodes=500, device="auto",
        ),
    }


SUCCESS_RULE = (
    "the base crosses x = 1.6 m inside one of the two 0.4 m wide gates (centres y = +0.5 and "
    "-0.4 m, jittered by +-0.05 m) without falling (base below 0.32 m, tilted over 60 deg or "
    f"touching the floor), within {MAX_STEPS} control steps ({MAX_STEPS // 50} s)"
)
MODE_RULE = "the gate the base crossed the goal line through: 'left' (y > 0) or 'right'"


def _spec(name: str, source: str, model_hash: str | None, dataset_hash: str | None) -> TaskSpec:
    return TaskSpec(
        name=name,
        # v3 (v2 retired): v2's env and demonstrations; the payload, strength and slope
        # ladders end at rungs the expert solves on both routes (DYNAMICS_LADDERS)
        # v2 (v1 retired): v1's env and ladder, demonstrations by an expert that commits to
        # its route in its first steps (AnymalExpert's commit point: v1's routes parted in
        # state only after ~60 steps, and bc switched routes between chunks there)
        # v1 (v0 retired): v0's env, demonstrations and dataset with a strength ladder the
        # expert can solve (DYNAMICS_LADDERS)
        version=3,
        description=(
            "ANYmal C-class quadruped (MuJoCo, 12 PD joints, 50 Hz) trots to one of two goal "
            "gates; 2 routes" + (" [menagerie model: needs $MENAGERIE_ROOT]"
                                 if source == "menagerie" else "")
        ),
        env_id=f"modebench/Anymal{'Menagerie' if source == 'menagerie' else ''}-v0",
        env_kwargs={"model_source": source, **ENV_KWARGS},
        obs_dim=40,
        act_dim=12,
        max_episode_steps=MAX_STEPS,
        chunk=ChunkSpec(horizon=8, act_steps=4),
        modes=MODES,
        mode_weights=(0.5, 0.5),
        dataset_id=f"modebench/{name}/expert-v1",
        dataset_episodes=600,
        dataset_hash=dataset_hash,
        perturbations=_ladder(),
        tiers=_tiers(),
        success_rule=SUCCESS_RULE,
        mode_rule=MODE_RULE,
        extra={
            "obs_scale": list(OBS_SCALE),
            # the robot model is part of the task: its file hash changes the spec hash
            "model": {"source": source, "sha256": model_hash},
            "expert": "trotting CPG (2 Hz, duty 0.65) + 2-link IK + heading/side-step "
                      "feedback, aiming at a commit point (0.5, +-0.3 m) on its route's side "
                      "before the gate; tasks/anymal/expert.py",
        },
    )


# dataset_hash: content hash of `bench datasets build --task anymal` with this code
SPEC = _spec("anymal", "shipped", file_sha256(SHIPPED_MJCF), "40044ad044e2b871")


class AnymalTask(Task):
    """One ``anymal`` task (``anymal-v3`` or ``anymal-menagerie-v3``)."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def unavailable_reason(self) -> str | None:
        """The menagerie variant without a checkout under ``$MENAGERIE_ROOT``: why; else None."""
        from tasks.anymal.model import ModelNotFoundError, resolve_model_path

        try:
            resolve_model_path(self.spec.extra["model"]["source"])
        except ModelNotFoundError as exc:
            return str(exc)
        return None

    def make_env(self, perturbation: PerturbationLevel | None = None, **kwargs: Any):
        """Build the env at ``perturbation`` (nominal when None).

        Dynamics levels change the compiled model (see
        :meth:`tasks.anymal.env.AnymalEnv.apply_dynamics`); observation-noise levels wrap the
        env in :class:`benchmark.wrappers.ObservationNoise` with the spec's ``obs_scale``.

        Raises:
            tasks.anymal.model.ModelNotFoundError: The menagerie task without a checkout, or a
                checkout whose files changed since this spec was made.
            ValueError: Unknown perturbation parameters.
        """
        import gymnasium as gym

        from benchmark.wrappers import ObservationNoise
        from tasks.anymal.model import ModelNotFoundError

        if self.spec.extra["model"]["source"] == "menagerie":
            found = menagerie_model_hash()
            expected = self.spec.extra["model"]["sha256"]
            if found is not None and expected is not None and found != expected:
                raise ModelNotFoundError(
                    f"menagerie's ANYmal C files changed since {self.spec.id}'s spec was made "
                    f"(hash {found}, spec {expected}); restart the process so the spec records "
                    "the new hash: results of two model versions must not mix."
                )
        if self.spec.env_id not in gym.registry:
            gym.register(self.spec.env_id, entry_point="tasks.anymal.env:AnymalEnv")
        p = dict((perturbation or NOMINAL).params)
        env_kwargs = dict(self.spec.env_kwargs) | kwargs
        # the env enforces its own horizon; no TimeLimit or checker wrappers on the hot path
        env = gym.make(self.spec.env_id, disable_env_checker=True, **env_kwargs)
        dyn = {k: p.pop(k) for k in
               ("friction_scale", "payload_kg", "strength_scale", "slope_deg") if k in p}
        sigma = p.pop("obs_noise", 0.0)
        if p:
            raise ValueError(f"anymal: unknown perturbation parameters {sorted(p)}")
        if dyn:
            env.unwrapped.apply_dynamics(**dyn)
        if sigma > 0:
            return ObservationNoise(env, sigma, np.asarray(self.spec.extra["obs_scale"]))
        return env

    def make_expert(self, env: Any, mode: str, rng: np.random.Generator):
        """The trotting CPG expert walking through gate ``mode`` (``"left"``/``"right"``)."""
        from tasks.anymal.expert import AnymalExpert

        return AnymalExpert(env.unwrapped, mode, rng)

    def episode_extras(self, info: dict[str, Any]) -> dict[str, Any]:
        """``fell`` (bool) of the final step: falls versus misses among the failures."""
        return {"fell": bool(info.get("fell", False))}


def menagerie_tasks() -> list[Task]:
    """``anymal-menagerie-v3``, its spec hashing the menagerie files found now (or None)."""
    return [AnymalTask(_spec("anymal-menagerie", "menagerie", menagerie_model_hash(), None))]


TASKS = [AnymalTask(SPEC)]
# registry value for the menagerie family (a callable: the hash is read when it is loaded)
MENAGERIE_TASKS = menagerie_tasks
