"""The Task protocol every task family implements.

A task family lives in ``tasks/<family>/`` and exposes :class:`Task` objects (one per spec
version). The harness uses only this interface:

* :meth:`Task.make_env` builds a gymnasium env at a perturbation level. The env's observations
  are flat ``float32`` vectors of size ``spec.obs_dim`` and actions flat vectors of size
  ``spec.act_dim`` in ``[-1, 1]``. On the step that ends an episode (terminated or truncated),
  ``info`` holds ``"success"`` (bool) and ``"mode"`` (str, the episode's mode label, ``""``
  when the episode made no mode-defining progress); it may hold task extras, e.g.
  ``"progress"`` (int, number of subtasks completed).
* :meth:`Task.make_expert` returns the scripted demonstrator for an env instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

import numpy as np

from benchmark.spec import PerturbationLevel, TaskSpec


class Expert(Protocol):
    """A scripted demonstrator bound to one env instance for one episode."""

    mode: str
    """The mode this expert intends to demonstrate in the current episode."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Return one action (act_dim,) for the observation (obs_dim,)."""
        ...


def run_expert_episode(env: Any, expert: Expert, obs: np.ndarray,
                       max_steps: int) -> tuple[int, dict[str, Any]]:
    """Step ``env`` with ``expert`` from ``obs`` until the episode ends or ``max_steps`` pass.

    Args:
        env: An env just reset to ``obs``.
        expert: Its expert (:meth:`Task.make_expert`).
        obs: The reset observation, (obs_dim,).
        max_steps: Step limit (the spec's ``max_episode_steps``).

    Returns:
        The env steps taken and the last step's ``info`` (``success``/``mode`` at an end).
    """
    info: dict[str, Any] = {}
    for steps in range(1, max_steps + 1):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            return steps, info
    return max_steps, info


class Task(ABC):
    """One versioned task: its spec, its env factory and its expert."""

    spec: TaskSpec

    @abstractmethod
    def make_env(self, perturbation: PerturbationLevel | None = None, **kwargs: Any) -> Any:
        """Build a gymnasium env (nominal when ``perturbation`` is None).

        The env must be reproducible given ``env.reset(seed=...)``.
        """

    @abstractmethod
    def make_expert(self, env: Any, mode: str, rng: np.random.Generator) -> Expert:
        """Return the scripted expert for ``env``; call after ``env.reset``.

        Args:
            env: An env returned by :meth:`make_env` (the expert may read ``env.unwrapped``).
            mode: The mode to demonstrate, one of ``spec.modes``. The dataset builder picks
                it on a fixed schedule so the dataset holds the modes in exactly the
                spec's ``mode_weights`` proportions.
            rng: The expert's small per-episode randomisation.
        """

    def unavailable_reason(self) -> str | None:
        """Why this task cannot run on this machine (e.g. an external model is missing), or
        None when it can. Commands over *all* tasks skip such a task and say why; naming it
        explicitly still fails with the task's own error."""
        return None

    def episode_extras(self, info: dict[str, Any]) -> dict[str, Any]:
        """Task-specific per-episode fields (e.g. kitchen's ``progress``) from the final info."""
        return {}
