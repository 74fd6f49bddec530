"""Frozen, versioned task specifications and their canonical hashes.

A :class:`TaskSpec` names everything that defines a task's behaviour: the environment and its
kwargs, the horizon, the action-chunk shape, the dataset and its content hash, the modes the
demonstrations cover, the perturbation ladder and the per-tier budgets. Its canonical JSON
(sorted keys, no whitespace) is hashed; every result carries that hash, so results from two
different specs can never be mixed. Any change to behaviour must bump ``version``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

TierName = Literal["smoke", "small", "paper"]
TIERS: tuple[str, ...] = ("smoke", "small", "paper")


@dataclass(frozen=True)
class PerturbationLevel:
    """One rung of a robustness ladder.

    Attributes:
        name: Unique, stable name within the task, e.g. ``"obs_noise_0.05"``; ``"nominal"`` is
            the unperturbed level 0.
        kind: ``"nominal"``, ``"obs_noise"`` or ``"dynamics"``.
        params: What the task's env factory applies, e.g. ``{"obs_noise": 0.05}`` (σ as a
            fraction of each observation dimension's scale) or ``{"friction_scale": 0.5}``.
        ladder: The ladder this level belongs to (``"obs_noise"``, ``"friction"`` ...), so
            curves can be drawn per ladder. ``"nominal"`` for level 0.
        severity: Position on its ladder (0 = nominal, 1, 2, ... = stronger).
    """

    name: str
    kind: Literal["nominal", "obs_noise", "dynamics"]
    params: dict[str, float] = field(default_factory=dict)
    ladder: str = "nominal"
    severity: int = 0


NOMINAL = PerturbationLevel(name="nominal", kind="nominal")


def obs_noise_ladder(sigmas: tuple[float, ...]) -> list[PerturbationLevel]:
    """Levels 1..n of the generic observation-noise ladder: ``obs_noise_<σ>``, ``{"obs_noise": σ}``.

    Tasks apply it with :class:`benchmark.wrappers.ObservationNoise` (σ times each observation
    dimension's scale).
    """
    return [PerturbationLevel(f"obs_noise_{s}", "obs_noise", {"obs_noise": s}, "obs_noise", i)
            for i, s in enumerate(sigmas, start=1)]


def dynamics_ladder(ladder: str, key: str, values: tuple[float, ...],
                    names: tuple[str, ...] | None = None) -> list[PerturbationLevel]:
    """Levels 1..n of one dynamics ladder, e.g. ``("mass", "mass_scale", (1.5, 2.0))``.

    Args:
        ladder: Ladder name (curves are drawn per ladder).
        key: The parameter the task's env factory reads.
        values: Its value at each level, mildest first.
        names: Level names; default ``f"{ladder}_x{value}"``.
    """
    names = names or tuple(f"{ladder}_x{v}" for v in values)
    if len(names) != len(values):
        raise ValueError(f"ladder {ladder}: {len(names)} names for {len(values)} values")
    return [PerturbationLevel(n, "dynamics", {key: v}, ladder, i)
            for i, (n, v) in enumerate(zip(names, values, strict=True), start=1)]


@dataclass(frozen=True)
class TierBudget:
    """Compute budget of one tier. Methods read what they need.

    Attributes:
        n_demos: Demonstration episodes used for pretraining.
        pretrain_steps: Gradient steps of diffusion pretraining.
        batch_size: Pretraining minibatch size.
        finetune_iterations: RL fine-tuning iterations (each collects ``n_envs`` x
            ``finetune_steps_per_iter`` environment steps).
        finetune_steps_per_iter: Policy decisions (action chunks) per env per iteration.
        n_envs: Parallel environments for fine-tuning and evaluation.
        eval_episodes: Evaluation episodes per training seed and perturbation level.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (cuda when available).
    """

    n_demos: int
    pretrain_steps: int
    batch_size: int
    finetune_iterations: int
    finetune_steps_per_iter: int
    n_envs: int
    eval_episodes: int
    device: str = "cpu"


@dataclass(frozen=True)
class ChunkSpec:
    """Action chunking: the policy predicts ``horizon`` actions, the env executes ``act_steps``.

    Attributes:
        horizon: Length of the predicted action sequence.
        act_steps: Number of leading actions executed open-loop before re-planning.
    """

    horizon: int
    act_steps: int


@dataclass(frozen=True)
class TaskSpec:
    """A frozen, versioned task definition.

    Attributes:
        name: Task family name, e.g. ``"avoid"``; the id is ``f"{name}-v{version}"``.
        version: Bumped on any change to behaviour; old ids fail loudly.
        description: One line for ``bench tasks list``.
        env_id: The gymnasium id the task's factory builds (for provenance and display).
        env_kwargs: Keyword arguments of the environment.
        obs_dim: Size of the flat observation vector the policy sees.
        act_dim: Size of one action.
        max_episode_steps: Horizon of an episode in env steps.
        chunk: Action-chunk shape.
        modes: Labels of the modes the demonstrations cover (for mode entropy normalisation).
        mode_weights: Proportions of the modes in the demonstrations (same order as ``modes``).
        dataset_id: Minari dataset id, e.g. ``"modebench/avoid/expert-v0"``.
        dataset_episodes: Demonstration episodes in the dataset (tiers use a prefix).
        dataset_hash: Content hash of the dataset built by the project's expert (``None``
            only while a new task is being authored; the harness then refuses nothing but
            records the hash it found).
        perturbations: The perturbation ladder, level 0 (``NOMINAL``) first.
        tiers: Budgets per tier name.
        success_rule: Human-readable statement of the success rule (the env implements it).
        mode_rule: Human-readable statement of how an episode's mode label is computed.
        extra: Task-specific constants that change behaviour (hashed with the rest).
    """

    name: str
    version: int
    description: str
    env_id: str
    env_kwargs: dict[str, Any]
    obs_dim: int
    act_dim: int
    max_episode_steps: int
    chunk: ChunkSpec
    modes: tuple[str, ...]
    mode_weights: tuple[float, ...]
    dataset_id: str
    dataset_episodes: int
    dataset_hash: str | None
    perturbations: tuple[PerturbationLevel, ...]
    tiers: dict[str, TierBudget]
    success_rule: str
    mode_rule: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.version < 0:
            raise ValueError(f"task {self.name}: version must be >= 0")
        if len(self.modes) != len(self.mode_weights):
            raise ValueError(f"task {self.name}: modes and mode_weights differ in length")
        if not self.perturbations or self.perturbations[0].kind != "nominal":
            raise ValueError(f"task {self.name}: the first perturbation level must be nominal")
        names = [p.name for p in self.perturbations]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.name}: perturbation names must be unique")
        missing = [t for t in TIERS if t not in self.tiers]
        if missing:
            raise ValueError(f"task {self.name}: tiers missing: {missing}")
        too_many = [t for t, b in self.tiers.items() if b.n_demos > self.dataset_episodes]
        if too_many:
            raise ValueError(f"task {self.name}: tiers {too_many} use more demos than exist")
        if self.chunk.act_steps > self.chunk.horizon:
            raise ValueError(f"task {self.name}: act_steps > chunk horizon")

    @property
    def id(self) -> str:
        """The versioned id, e.g. ``"avoid-v0"``."""
        return f"{self.name}-v{self.version}"

    def perturbation(self, name: str) -> PerturbationLevel:
        """Return the level called ``name``.

        Raises:
            KeyError: With the list of known levels.
        """
        for level in self.perturbations:
            if level.name == name:
                return level
        known = ", ".join(p.name for p in self.perturbations)
        raise KeyError(f"task {self.id} has no perturbation level {name!r}; known: {known}")

    def budget(self, tier: str) -> TierBudget:
        """Return the budget of ``tier`` (``smoke``, ``small`` or ``paper``)."""
        if tier not in self.tiers:
            raise KeyError(f"unknown tier {tier!r}; known: {', '.join(self.tiers)}")
        return self.tiers[tier]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the spec (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))

    def canonical_json(self) -> str:
        """Sorted-key, whitespace-free JSON: the text that is hashed."""
        return canonical_json(self.to_dict())

    def hash(self) -> str:
        """SHA-256 (hex, first 16 chars) of :meth:`canonical_json`."""
        return short_hash(self.canonical_json())

    def pretrain_hash(self, tier: str) -> str:
        """Hash of what pretraining at ``tier`` depends on: the spec without its tier budgets,
        plus that tier's ``n_demos``, ``pretrain_steps`` and ``batch_size``.

        Pretrained checkpoints are keyed by it (not by :meth:`hash`), so retuning a tier's
        fine-tuning or evaluation budget reuses them; any other change to the spec retrains.
        """
        budget = self.budget(tier)
        data = {k: v for k, v in self.to_dict().items() if k != "tiers"}
        data["pretrain_budget"] = {"tier": tier, "n_demos": budget.n_demos,
                                   "pretrain_steps": budget.pretrain_steps,
                                   "batch_size": budget.batch_size}
        return short_hash(canonical_json(data))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and obj != obj:  # NaN has no canonical JSON form
        raise ValueError("NaN in a spec cannot be hashed canonically")
    return obj


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` canonically: sorted keys, no whitespace, ASCII only."""
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def short_hash(text: str | bytes, length: int = 16) -> str:
    """First ``length`` hex chars of the SHA-256 of ``text``."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:length]


def config_hash(config: Any) -> str:
    """Hash a (frozen dataclass) config by its canonical JSON."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    return short_hash(canonical_json(config))
