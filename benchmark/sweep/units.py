"""Sweep units: what one unit of work is, its key, and which units the store already holds.

A unit is one (method, task version, training seed, tier, method config) evaluated at a set of
perturbation levels: exactly one :func:`benchmark.runner.run_seed` call, one seed run in
MLflow. Its **key** hashes everything that decides its result::

    (method, task id, spec hash, dataset hash, seed, tier, method config hash, levels)

The key is recomputable from a seed run's tags (:func:`key_from_tags`), so a unit counts as
done when the store holds a FINISHED seed run with the same key: one made by an earlier sweep
(tagged ``modebench.unit``) or by ``bench evaluate`` with the same hashes. FAILED, KILLED and
RUNNING runs (orphans of a killed sweep) never count; their units are run again.

Nothing here imports torch or mlflow at module import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmark import schema
from benchmark.errors import BenchError, UnknownIdError, UsageError
from benchmark.progress import SILENT, Progress
from benchmark.seeding import MAX_TRAIN_SEED
from benchmark.spec import TIERS, canonical_json, short_hash

if TYPE_CHECKING:  # pragma: no cover
    from benchmark.runner import EvalRequest
    from benchmark.task import Task


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep covers: the cross product methods x tasks x seeds at one tier.

    Attributes:
        methods: Method ids (``("bc", "dppo", "bmd")``).
        tasks: Task ids or family names; ``("all",)`` = the newest version of every family.
        seeds: Training seeds.
        tier: ``"smoke"``, ``"small"`` or ``"paper"``.
        perturbations: Level names to evaluate besides nominal (``("all",)`` = the ladder).
        options: Method options as sorted ``(key, value)`` pairs, given to every method.
        device: ``"cpu"``, ``"cuda"``, ``"auto"`` or None (the tier's default).
        grid: ``(key, (v1, v2, ...))`` pairs: one unit per combination of values (on top of
            ``options``); each combination is its own leaderboard row, as ``-o`` runs are.
    """

    methods: tuple[str, ...]
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    tier: str = "small"
    perturbations: tuple[str, ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    device: str | None = None
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def option_sets(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every unit's options: ``options`` plus one value per grid key (sorted pairs)."""
        import itertools

        keys = [k for k, _ in self.grid]
        out = []
        for values in itertools.product(*(vs for _, vs in self.grid)):
            merged = dict(self.options) | dict(zip(keys, values, strict=True))
            out.append(tuple(sorted(merged.items())))
        return out

    def __post_init__(self) -> None:
        if any(k in dict(self.options) for k, _ in self.grid):
            raise UsageError("a key cannot be both an --option and a --grid axis")
        if any(not vs for _, vs in self.grid):
            raise UsageError("a --grid axis needs at least one value (key=v1,v2)")
        if not self.methods:
            raise BenchError("a sweep needs at least one method (--methods bc,dppo)")
        if not self.tasks:
            raise BenchError("a sweep needs at least one task (--tasks avoid or --tasks all)")
        if not self.seeds:
            raise BenchError("a sweep needs at least one seed (--seeds 0-4)")
        bad = [s for s in self.seeds if not 0 <= s <= MAX_TRAIN_SEED]
        if bad:
            raise BenchError(f"seeds must be in [0, {MAX_TRAIN_SEED}]: {bad}")
        if self.tier not in TIERS:
            raise UnknownIdError(f"unknown tier {self.tier!r}; known: {', '.join(TIERS)}")


@dataclass(frozen=True)
class Unit:
    """One unit of work: one :func:`benchmark.runner.run_seed` call.

    Attributes:
        method: Method id.
        task_id: Versioned task id (``"avoid-v0"``).
        seed: Training seed.
        tier: Budget tier.
        spec_hash: The task spec's hash.
        dataset_hash: The dataset's content hash (None only in a dry run before the dataset
            was built and when the spec records none).
        config_hash: :func:`benchmark.runner.method_config_hash` of the method's config and
            the options.
        levels: The resolved perturbation level names evaluated (nominal first).
        perturbations: The level names as requested (what the runner is given).
        options: Method options as sorted pairs.
        device: Device override or None.
        key: The unit key (None when ``dataset_hash`` is unknown).
    """

    method: str
    task_id: str
    seed: int
    tier: str
    spec_hash: str
    dataset_hash: str | None
    config_hash: str
    levels: tuple[str, ...]
    perturbations: tuple[str, ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    device: str | None = None
    key: str | None = field(default=None)

    @property
    def label(self) -> str:
        """``"bc/avoid-v0/s0"``: how tables and progress name the unit."""
        return f"{self.method}/{self.task_id}/s{self.seed}"

    def request(self) -> EvalRequest:
        """The runner request of this unit (its one seed is passed to ``run_seed``)."""
        from benchmark.runner import EvalRequest

        return EvalRequest(method=self.method, task=self.task_id, seeds=(self.seed,),
                           tier=self.tier, perturbations=self.perturbations,
                           device=self.device, options=dict(self.options))


def unit_key(method: str, task_id: str, spec_hash: str, dataset_hash: str, seed: int,
             tier: str, config_hash: str, levels: Sequence[str]) -> str:
    """Hash (16 hex chars) of everything that decides a unit's result.

    Which worker ran it, when, or in what order is deliberately not part of it.
    """
    return short_hash(canonical_json({
        "method": method, "task": task_id, "spec_hash": spec_hash,
        "dataset_hash": dataset_hash, "seed": int(seed), "tier": tier,
        "config_hash": config_hash, "levels": list(levels),
    }))


def key_from_tags(tags: Mapping[str, str]) -> str | None:
    """The unit key of a seed run, from its ``modebench.unit`` tag or recomputed from its tags.

    Returns None when the run lacks a tag the key needs (not a modebench seed run).
    """
    if tags.get(schema.TAG_UNIT):
        return tags[schema.TAG_UNIT]
    try:
        return unit_key(
            tags[schema.TAG_METHOD], tags[schema.TAG_TASK], tags[schema.TAG_SPEC_HASH],
            tags[schema.TAG_DATASET_HASH], int(tags[schema.TAG_SEED]), tags[schema.TAG_TIER],
            tags[schema.TAG_CONFIG_HASH], json.loads(tags[schema.TAG_PERTURBATIONS]))
    except (KeyError, ValueError, TypeError):
        return None


def resolve_tasks(names: Iterable[str]) -> list[Task]:
    """Task objects for ids/family names; ``"all"`` expands to every family's newest version
    that this machine can run (:func:`benchmark.registry.runnable_tasks`; the CLI says which
    it skipped and why). A task named explicitly is always included.

    Raises:
        UnknownIdError: An unknown task id.
        AdapterError: A task family that fails to load (``all`` included: a sweep over "all"
            that silently skipped a broken family would report a smaller benchmark than asked
            for).
    """
    from benchmark.registry import get_task, runnable_tasks

    out: dict[str, Task] = {}
    for name in names:
        tasks = runnable_tasks()[0] if name == "all" else [get_task(name)]
        for t in tasks:
            out.setdefault(t.spec.id, t)
    return list(out.values())


def _dataset_hash(task: Task, build: bool, progress: Progress) -> str | None:
    from benchmark.datasets import dataset_path, ensure_dataset, load_dataset

    if build:
        # once, in the sweep's process, before any worker starts (built atomically under a
        # lock, so a concurrent `bench evaluate` or another sweep cannot build it twice)
        return ensure_dataset(task, progress).content_hash
    if task.spec.dataset_hash is not None:
        return task.spec.dataset_hash
    if dataset_path(task.spec.dataset_id).exists():
        return load_dataset(task).content_hash
    return None


def plan_units(cfg: SweepConfig, build_datasets: bool = True,
               progress: Progress = SILENT) -> list[Unit]:
    """Expand a sweep into its units, ordered method, task, seed; duplicates removed.

    Method-major order matters for sharing pretraining: with several workers the first units
    (one method, different seeds) train different checkpoints in parallel instead of
    queueing on one checkpoint's lock, and the later methods find them cached.

    Args:
        cfg: The sweep.
        build_datasets: Build missing datasets (False in a dry run: a missing dataset whose
            spec records no hash leaves its units keyless).
        progress: Progress reporter for dataset builds.

    Raises:
        UnknownIdError: Unknown method, task or perturbation level.
        AdapterError: A method or task that fails to load.
    """
    from benchmark.errors import DefaultOptionError
    from benchmark.options import configure_method
    from benchmark.registry import get_method_class
    from benchmark.runner import method_config_hash, resolve_levels

    tasks = resolve_tasks(cfg.tasks)
    methods = list(dict.fromkeys(cfg.methods))
    # per (method, task): a method may take task-specific defaults (dppo: DPPO's family config)
    configs: dict[tuple[str, str, tuple[tuple[str, Any], ...]], str] = {}
    option_sets = cfg.option_sets()
    grid_keys = {k for k, _ in cfg.grid}
    unit_opts: dict[tuple[str, str, tuple[tuple[str, Any], ...]], tuple[tuple[str, Any], ...]] = {}
    for m in methods:
        for task in tasks:
            for opts in option_sets:
                kept = opts
                while True:
                    try:
                        method, applied = configure_method(get_method_class(m)(), m,
                                                           dict(kept), task.spec)
                        break
                    except DefaultOptionError as exc:
                        # a grid value equal to the default is the method's default unit
                        # (its own leaderboard row, the point the curve passes through);
                        # an --option equal to the default stays an error
                        if exc.key not in grid_keys:
                            raise
                        kept = tuple((k, v) for k, v in kept if k != exc.key)
                unit_opts[(m, task.spec.id, opts)] = kept
                configs[(m, task.spec.id, opts)] = method_config_hash(method, applied, None)
    per_task = []
    for task in tasks:
        levels = tuple(lv.name for _, lv in resolve_levels(task, cfg.perturbations))
        per_task.append((task, levels, _dataset_hash(task, build_datasets, progress)))
    units: dict[tuple[Any, ...], Unit] = {}
    for m in methods:
        for task, levels, ds_hash in per_task:
            spec = task.spec
            spec_hash = spec.hash()
            for grid_opts in option_sets:
                cfg_hash = configs[(m, spec.id, grid_opts)]
                opts = unit_opts[(m, spec.id, grid_opts)]
                for seed in sorted(set(cfg.seeds)):
                    key = None if ds_hash is None else unit_key(
                        m, spec.id, spec_hash, ds_hash, seed, cfg.tier, cfg_hash, levels)
                    u = Unit(m, spec.id, seed, cfg.tier, spec_hash, ds_hash, cfg_hash, levels,
                             tuple(cfg.perturbations), opts, cfg.device, key)
                    units.setdefault((m, spec.id, seed, opts), u)
    return list(units.values())


@dataclass(frozen=True)
class StoredRun:
    """What the store holds for a unit (its FINISHED run if any, else its newest run).

    Attributes:
        run_id: MLflow run id.
        status: ``FINISHED``, ``FAILED``, ``KILLED`` or ``RUNNING``.
        metrics: The run's nominal metrics (per-level metrics left out).
        error: First line of the error of a FAILED/KILLED run.
        start_time: Start time, ms since the epoch.
        end_time: End time, ms since the epoch (None while RUNNING).
    """

    run_id: str
    status: str
    metrics: dict[str, float]
    error: str | None
    start_time: int
    end_time: int | None

    @property
    def wall_s(self) -> float | None:
        """Run duration in seconds (None while RUNNING)."""
        return None if self.end_time is None else (self.end_time - self.start_time) / 1000


def stored_runs(keys: Iterable[str]) -> dict[str, StoredRun]:
    """The store's runs for the given unit keys: the FINISHED one if any, else the newest.

    Reads every seed run of the modebench experiment once (paged), so its cost does not grow
    with the number of keys asked for.
    """
    from benchmark import tracking

    wanted = {k for k in keys if k}
    if not wanted:
        return {}
    c = tracking.client()
    exp = tracking._retrying(c.get_experiment_by_name, schema.EXPERIMENT)
    if exp is None:
        return {}
    found: dict[str, StoredRun] = {}
    token = None
    while True:
        page = tracking._retrying(
            c.search_runs, [exp.experiment_id],
            filter_string=f"tags.`{schema.TAG_KIND}` = 'seed'",
            max_results=1000, page_token=token)
        for run in page:
            key = key_from_tags(run.data.tags)
            if key not in wanted:
                continue
            rec = StoredRun(
                run.info.run_id, run.info.status,
                {k: v for k, v in run.data.metrics.items() if "/" not in k},
                run.data.tags.get(schema.TAG_ERROR), run.info.start_time or 0,
                run.info.end_time)
            old = found.get(key)
            if old is None or _better(rec, old):
                found[key] = rec
        token = page.token
        if not token:
            return found


def _better(new: StoredRun, old: StoredRun) -> bool:
    if (new.status == "FINISHED") != (old.status == "FINISHED"):
        return new.status == "FINISHED"
    return new.start_time > old.start_time
