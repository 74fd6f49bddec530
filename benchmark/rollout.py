"""Batched rollouts: one policy call per decision for all running envs, one record per episode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from benchmark.adapter import EpisodicPolicy, Policy
from benchmark.errors import AdapterError, TrainingError
from benchmark.progress import SILENT, Progress
from benchmark.seeding import eval_seed, train_seed
from benchmark.spec import PerturbationLevel
from benchmark.task import Task
from benchmark.wrappers import ChunkedActions


@dataclass(frozen=True)
class EpisodeRecord:
    """One evaluation episode.

    Attributes:
        level: Perturbation level name.
        episode: Index of the episode within its level.
        seed: The env's reset seed (an evaluation seed).
        success: Whether the task's success rule was met.
        ret: Undiscounted return.
        length: Env steps.
        mode: Mode label of the episode (``""`` when no mode-defining progress).
        extras: Task-specific fields (e.g. kitchen's ``progress``).
    """

    level: str
    episode: int
    seed: int
    success: bool
    ret: float
    length: int
    mode: str
    extras: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """Flat dict for CSV (extras prefixed with ``x_``)."""
        d = asdict(self)
        extras = d.pop("extras")
        d["return"] = d.pop("ret")
        d.update({f"x_{k}": v for k, v in extras.items()})
        return d


ACTION_TOLERANCE = 1e-5
"""How far outside [-1, 1] an action may stray (float rounding) before it is refused."""


def check_actions(actions: np.ndarray, batch: int, act_steps: int, act_dim: int,
                  policy: Any) -> None:
    """Refuse a policy output the envs cannot execute, naming what was expected.

    Args:
        actions: The policy's output, expected shape (batch, act_steps, act_dim) in [-1, 1].
        batch: Rows asked for.
        act_steps: Actions per chunk of the task.
        act_dim: Action size of the task.
        policy: The policy (named in the message).

    Raises:
        AdapterError: Wrong shape or actions outside [-1, 1].
        TrainingError: Non-finite actions (a diverged policy).
    """
    who = type(policy).__qualname__
    expected = (batch, act_steps, act_dim)
    if actions.shape != expected:
        raise AdapterError(
            f"policy {who}.act returned actions of shape {actions.shape}; the task expects "
            f"(B, act_steps, act_dim) = {expected}: one chunk of {act_steps} actions of size "
            f"{act_dim} per observation row")
    if not np.all(np.isfinite(actions)):
        raise TrainingError(f"policy {who} produced non-finite actions at evaluation")
    worst = float(np.max(np.abs(actions))) if actions.size else 0.0
    if worst > 1.0 + ACTION_TOLERANCE:
        raise AdapterError(f"policy {who}.act returned an action of magnitude {worst:.4g}; "
                           "actions must lie in [-1, 1] (clip or squash them in the policy)")


def make_chunked_env(task: Task, perturbation: PerturbationLevel | None = None) -> ChunkedActions:
    """One env of ``task`` at ``perturbation`` that executes whole action chunks per step."""
    return ChunkedActions(task.make_env(perturbation), task.spec.chunk.act_steps)


def make_training_vector_env(
    task: Task, n_envs: int, seed: int, perturbation: PerturbationLevel | None = None
) -> Any:
    """A same-step-autoreset ``SyncVectorEnv`` of chunked envs, seeded for training.

    Sub-env ``i`` is reset with :func:`benchmark.seeding.train_seed` ``(seed, i)``; later
    episodes continue each env's own generator, so the stream is deterministic and disjoint
    from evaluation seeds. See :class:`benchmark.adapter.RunContext` for the step contract.
    """
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    def factory() -> gym.Env:
        return make_chunked_env(task, perturbation)

    venv = SyncVectorEnv([factory] * n_envs, autoreset_mode=AutoresetMode.SAME_STEP)
    # Seed by an initial reset the caller may repeat: the first reset's seeds fix the stream.
    venv.reset(seed=[train_seed(seed, i) for i in range(n_envs)])
    return venv


def evaluate_policy(
    policy: Policy,
    task: Task,
    level: PerturbationLevel,
    level_index: int,
    n_episodes: int,
    n_envs: int,
    progress: Progress = SILENT,
    deterministic: bool = True,
    on_step: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> list[EpisodeRecord]:
    """Run ``n_episodes`` evaluation episodes of ``policy`` at one perturbation level.

    Episode ``e`` is reset with :func:`benchmark.seeding.eval_seed` ``(level_index, e)`` and
    runs on env slot ``e % n_envs``'s queue, so results do not depend on timing. At every
    decision the policy is called once on the stacked observations of all running envs
    (through ``act_episodes`` for an :class:`~benchmark.adapter.EpisodicPolicy`, with the
    episodes' reset seeds as keys and each episode's decision count, so that its draws can
    follow the episode rather than the batch).

    Args:
        policy: The policy; ``act(obs (B, obs_dim)) -> (B, act_steps, act_dim)``.
        task: The task.
        level: The perturbation level.
        level_index: The level's index in the spec's ladder (selects the seed block).
        n_episodes: Episodes to run.
        n_envs: Envs stepped in a batch.
        progress: Progress reporter (advances per finished episode).
        deterministic: Passed to ``policy.act``.
        on_step: Called with the number of env steps after every decision (benchmarks).
        workers: Processes stepping the envs (:class:`benchmark.envslots.EnvSlots`;
            default ``MODEBENCH_ENV_WORKERS``, 1); the episodes do not depend on it.

    Returns:
        One :class:`EpisodeRecord` per episode, ordered by episode index.

    Raises:
        TrainingError: The policy produced non-finite actions.
    """
    from benchmark.envslots import EnvSlots, env_workers

    spec = task.spec
    episodic = isinstance(policy, EpisodicPolicy)  # gets each row's episode key
    n_envs = max(1, min(n_envs, n_episodes))
    envs = EnvSlots(lambda: make_chunked_env(task, level), n_envs,
                    env_workers() if workers is None else workers)
    try:
        queues = [list(range(i, n_episodes, n_envs)) for i in range(n_envs)]
        records: dict[int, EpisodeRecord] = {}
        current: list[int | None] = [None] * n_envs
        obs = np.zeros((n_envs, spec.obs_dim), dtype=np.float32)
        returns = np.zeros(n_envs)
        lengths = np.zeros(n_envs, dtype=int)
        decisions = np.zeros(n_envs, dtype=np.int64)  # decisions taken in each slot's episode

        def start(i: int) -> None:
            if not queues[i]:
                current[i] = None
                return
            ep = queues[i].pop(0)
            current[i] = ep
            obs[i] = envs.reset(i, eval_seed(level_index, ep))
            returns[i] = 0.0
            lengths[i] = 0
            decisions[i] = 0

        for i in range(n_envs):
            start(i)
        with progress.task(f"evaluate {level.name}", total=n_episodes) as advance:
            while any(c is not None for c in current):
                active = [i for i in range(n_envs) if current[i] is not None]
                if episodic:
                    keys = np.array([eval_seed(level_index, current[i]) for i in active],
                                    dtype=np.int64)
                    actions = np.asarray(policy.act_episodes(obs[active], keys,
                                                             decisions[active],
                                                             deterministic=deterministic))
                    decisions[active] += 1
                else:
                    actions = np.asarray(policy.act(obs[active], deterministic=deterministic))
                check_actions(actions, len(active), spec.chunk.act_steps, spec.act_dim, policy)
                steps = 0
                results = envs.step([(i, actions[k]) for k, i in enumerate(active)])
                for i, (o, r, term, trunc, info) in zip(active, results, strict=True):
                    obs[i] = o
                    returns[i] += r
                    lengths[i] += info["env_steps"]
                    steps += info["env_steps"]
                    if term or trunc:
                        ep = current[i]
                        assert ep is not None
                        records[ep] = EpisodeRecord(
                            level=level.name,
                            episode=ep,
                            seed=eval_seed(level_index, ep),
                            success=bool(info.get("success", False)),
                            ret=float(returns[i]),
                            length=int(lengths[i]),
                            mode=str(info.get("mode", "")),
                            extras=task.episode_extras(info),
                        )
                        advance(1)
                        start(i)
                if on_step is not None:
                    on_step(steps)
    finally:
        envs.close()
    return [records[e] for e in range(n_episodes)]
