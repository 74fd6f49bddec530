"""The protocols a method implements to be benchmarked.

A method is one adapter class. The harness calls, in order::

    policy = method.pretrain(dataset, ctx)          # cached by the runner (see pretrain_key)
    policy = method.finetune(policy, ctx)           # may return ``policy`` unchanged (bc)
    chunk  = policy.act(obs)                        # (B, obs_dim) -> (B, act_steps, act_dim)
    method.save(policy, directory); method.load(directory, ctx)

A researcher registers their adapter class under the entry-point group ``modebench.methods``
in their own package's ``pyproject.toml``::

    [project.entry-points."modebench.methods"]
    mymethod = "my_package.adapter:MyMethod"

and runs ``bench evaluate --method mymethod --task avoid``. Nothing in ``benchmark/`` changes.
An adapter that lacks a member is rejected at registration with a message naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from benchmark.errors import AdapterError
from benchmark.spec import PerturbationLevel, TaskSpec, TierBudget

if TYPE_CHECKING:  # pragma: no cover
    from benchmark.datasets import DemoDataset
    from benchmark.progress import Progress
    from benchmark.task import Task


@runtime_checkable
class Policy(Protocol):
    """A trained policy acting on batches of observations."""

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Predict action chunks.

        Args:
            obs: Observations, shape (B, obs_dim), float32.
            deterministic: Evaluation mode (e.g. deterministic DDIM) when True.

        Returns:
            Actions to execute open-loop, shape (B, act_steps, act_dim), in [-1, 1].
        """
        ...


@runtime_checkable
class EpisodicPolicy(Policy, Protocol):
    """A policy with per-episode state (e.g. BMD's latent z, drawn once per episode).

    At evaluation the harness calls ``act_episodes`` instead of ``act``, telling the policy
    which episode each row belongs to and how many decisions that episode has had. Keys are
    the episodes' reset seeds: unique within an evaluation and independent of batching, so
    draws keyed on (episode, decision) are reproducible whatever the number of envs and
    whichever episodes share a batch (the built-in policies draw all their evaluation noise
    so: :class:`baselines.common.episode_noise.EpisodeStreams`). A policy that draws from one
    generator for the whole batch gives results that depend on the batching.
    """

    def act_episodes(self, obs: np.ndarray, episodes: np.ndarray, decisions: np.ndarray,
                     deterministic: bool = True) -> np.ndarray:
        """Predict action chunks for rows of known episodes.

        Args:
            obs: Observations, shape (B, obs_dim), float32.
            episodes: Each row's episode key, shape (B,), int64 in [0, 2**32), distinct
                within a call; a key that stops appearing has ended.
            decisions: Each row's decision index within its episode, shape (B,), int64:
                0 at the episode's first decision (an episode starts there, even when its
                key was seen in an earlier evaluation), then 1, 2, ... without gaps.
            deterministic: As in :meth:`Policy.act`.

        Returns:
            Actions, shape (B, act_steps, act_dim), in [-1, 1].
        """
        ...


@runtime_checkable
class ModeSelectablePolicy(Policy, Protocol):
    """A policy whose behaviour mode can be chosen at test time (e.g. BMD's latent z)."""

    n_modes: int

    def set_mode(self, mode: int | None) -> None:
        """Act in latent mode ``mode`` (0 <= mode < n_modes); ``None`` samples it."""
        ...


@dataclass
class RunContext:
    """Everything a method may use while training one seed of one task.

    Attributes:
        task: The task object (spec, env factory).
        tier: ``"smoke"``, ``"small"`` or ``"paper"``.
        seed: The training seed.
        device: Torch device string resolved from the budget (``"cpu"`` or ``"cuda"``).
        work_dir: A private scratch directory for this (method, task, seed, tier).
        progress: Progress reporter for long loops.
        make_vector_env: ``make_vector_env(n_envs, seed, perturbation=None)`` returns a
            gymnasium ``SyncVectorEnv`` of :class:`benchmark.wrappers.ChunkedActions` envs with
            ``AutoresetMode.SAME_STEP``, seeded for *training* (disjoint from evaluation
            seeds). One vector step = one policy decision: the action has shape
            (n_envs, act_steps, act_dim), each env executes its chunk open-loop (stopping early
            when its episode ends), the reward is the chunk's summed reward and
            ``infos["env_steps"]`` the env steps executed. On the step an env's episode ends,
            the returned obs is already the next episode's reset obs, and
            ``infos["final_obs"]`` / ``infos["final_info"]`` (mask ``infos["_final_obs"]``) hold
            the ended episode's last obs and info (with ``success`` and ``mode``).
        dataset: The demonstrations (also passed to ``pretrain``).
        options: Method options given on the command line (already parsed, typed values).
        checkpoint: Optional ``checkpoint(fraction, policy)``: a fine-tuner calls it when it
            has spent ``fraction`` of its budget (the runner asks for 0.5) with the policy as
            it is then; the runner evaluates it without disturbing the training's random
            streams, for mode stability across checkpoints. Methods may ignore it.
        checkpoint_fractions: The fractions at which ``checkpoint`` wants to be called.
        log_iteration: Optional ``log_iteration(iteration, stats, modes)``: a fine-tuner calls
            it after each iteration with its stats (``train_success``: share of the training
            episodes that ended in the iteration and succeeded; ``reward``) and the mode
            counts of those successes; the runner logs them as learning curves.
    """

    task: Task
    tier: str
    seed: int
    device: str
    work_dir: Path
    progress: Progress
    make_vector_env: Callable[..., Any]
    dataset: DemoDataset | None = None
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint: Callable[[float, Any], None] | None = None
    checkpoint_fractions: tuple[float, ...] = ()
    log_iteration: Callable[[int, Mapping[str, float], Mapping[str, int]], None] | None = None

    @property
    def spec(self) -> TaskSpec:
        """The task's spec."""
        return self.task.spec

    @property
    def budget(self) -> TierBudget:
        """The spec's budget for this tier."""
        return self.task.spec.budget(self.tier)

    def perturbation(self, name: str) -> PerturbationLevel:
        """Shortcut to the spec's perturbation level ``name``."""
        return self.task.spec.perturbation(name)


class Method(Protocol):
    """A benchmarked method (see module docstring for the call order)."""

    name: str
    """Registry id, e.g. ``"bmd"``."""
    version: str
    """Bumped when the algorithm or its defaults change."""
    description: str
    """One line for ``bench methods list``."""

    def config(self) -> Any:
        """The method's frozen config dataclass (logged as params, hashed into results)."""
        ...

    def pretrain_key(self, ctx: RunContext) -> str:
        """Identity of the pretraining stage; methods returning equal keys share checkpoints."""
        ...

    def pretrain(self, dataset: DemoDataset, ctx: RunContext) -> Policy:
        """Train on demonstrations and return a policy."""
        ...

    def finetune(self, policy: Policy, ctx: RunContext) -> Policy:
        """Fine-tune ``policy`` in ``ctx.make_vector_env`` envs within ``ctx.budget``."""
        ...

    def save(self, policy: Policy, directory: Path) -> None:
        """Write ``policy`` into ``directory`` (no pickles: safetensors + JSON)."""
        ...

    def load(self, directory: Path, ctx: RunContext) -> Policy:
        """Read a policy written by :meth:`save`."""
        ...


REQUIRED_ATTRIBUTES: tuple[str, ...] = ("name", "version", "description")
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "config": (),
    "pretrain_key": ("ctx",),
    "pretrain": ("dataset", "ctx"),
    "finetune": ("policy", "ctx"),
    "save": ("policy", "directory"),
    "load": ("directory", "ctx"),
}


def validate_method_class(cls: Any, registered_as: str) -> None:
    """Check that ``cls`` implements :class:`Method`; raise naming everything missing.

    Args:
        cls: The adapter class (or instance) to check.
        registered_as: The id it was registered under (for the message).

    Raises:
        AdapterError: Listing every missing attribute or method, and wrong signatures.
    """
    problems: list[str] = []
    for attr in REQUIRED_ATTRIBUTES:
        value = getattr(cls, attr, None)
        if not isinstance(value, str) or not value:
            problems.append(f"class attribute `{attr}: str` is missing or empty")
    for meth, params in REQUIRED_METHODS.items():
        fn = getattr(cls, meth, None)
        if fn is None or not callable(fn):
            problems.append(f"method `{meth}({', '.join(('self',) + params)})` is missing")
            continue
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):  # builtins: cannot check, accept
            continue
        names = [p for p in sig.parameters if p != "self"]
        accepts_var = any(
            p.kind in (p.VAR_POSITIONAL,) for p in sig.parameters.values()
        )
        if len(names) < len(params) and not accepts_var:
            problems.append(
                f"method `{meth}` takes ({', '.join(names)}), expected ({', '.join(params)})"
            )
    if problems:
        raise AdapterError(
            f"method adapter {registered_as!r} ({getattr(cls, '__qualname__', cls)}) does not "
            "implement benchmark.adapter.Method:\n  - " + "\n  - ".join(problems)
            + "\nSee benchmark/adapter.py for the protocol and baselines/bc for an example."
        )
