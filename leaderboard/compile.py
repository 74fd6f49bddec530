"""Compile seed results into leaderboard tables: runs -> groups -> statistics.

Steps (:func:`compile_leaderboard`):

1. **Staleness.** Each result's task id is resolved in the registry; a result whose spec hash
   or dataset hash differs from the current spec's, or whose task id is unknown (or whose
   task cannot be loaded), is *stale*: it goes to :attr:`Leaderboard.stale` with the reason
   and is never mixed into a table. A spec with ``dataset_hash = None`` pins no dataset, so
   only its spec hash is compared.
2. **Grouping** by (task id, method, tier). A BMD run evaluated with a forced latent mode
   (tag ``modebench.mode``) is a different policy from the sampled one, so it forms its own
   row, shown as ``bmd [mode 2]``; so does a run with ``-o`` overrides of the method's config
   (``bmd [alpha=0.2]``). Re-runs of the same seed keep the latest run only (counted
   as superseded), so a seed is never counted twice.
3. **Statistics** per group, all with 95 % percentile-bootstrap CIs over seeds (computed by
   :mod:`benchmark.metrics`; one bootstrap draw serves every fully logged column of a group):
   success rate, mode count, mode entropy, robustness, mode retention (means over seeds);
   mode stability from the seeds' nominal mode distributions; success and mode count per
   perturbation level (robustness curves); mean mode shares (bar plots).
4. **Aggregates** per tier: IQM over all (task, seed) success rates and mode entropies per
   method, and the probability-of-improvement matrices between methods on success rate and
   on mode entropy over their common tasks (the methods a user chose, or the best eight).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from benchmark import metrics, mode_metrics, schema
from benchmark.metrics import Estimate
from benchmark.spec import TIERS, TaskSpec
from leaderboard.forked import fork_pays, run_jobs
from leaderboard.records import SeedResult

# (key, metric name in the runs, label, short description); mode_stability is computed from
# distributions, not read from a metric
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("success", schema.SUCCESS_RATE, "SR",
     "success rate: fraction of nominal evaluation episodes that meet the task's success rule"),
    ("srm", schema.SRM, "SRM",
     "success averaged over the K demonstrated modes (BMD paper): SR_m = min(1, share of "
     "episodes succeeding in mode m / the mode's share in the demonstrations), unreached "
     "modes count 0; a policy succeeding always in one mode scores 1/K"),
    ("modes_covered", schema.MODES_COVERED, "mc@0.8",
     "share of the demonstrated modes whose SR_m (as in SRM) is at least 0.8 (BMD paper)"),
    ("mode_count", schema.MODE_COUNT, "Modes",
     "number of mode labels holding at least a quarter of a uniform share (0.25 / K) of the "
     "successful nominal episodes"),
    ("mode_entropy", schema.MODE_ENTROPY, "H(π)",
     "mode entropy H(π): Shannon entropy of the mode distribution / log(number of "
     "demonstrated modes), in [0, 1]"),
    ("mode_stability", schema.MODE_STABILITY, "Stability",
     "1 - mean pairwise Jensen-Shannon divergence (base 2) between the seeds' nominal mode "
     "distributions, in [0, 1]"),
    ("robustness", schema.ROBUSTNESS, "Robustness",
     "mean over perturbation levels of perturbed / nominal success, capped at 1"),
)
"""The headline columns of every table, in order."""

EXTRA_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("success_gain", schema.SUCCESS_GAIN, "SR gain",
     "success minus the pretrained policy's under the method's own evaluation sampler "
     "(same episodes): what fine-tuning added, not what a different sampler added"),
    ("mode_retention", schema.MODE_RETENTION, "Retention",
     "share of the modes of the pretrained policy (under the method's own sampler) that "
     "survive fine-tuning"),
    ("off_support_rate", schema.OFF_SUPPORT, "Off-support",
     "BC families: share of sampled first chunks farther than 0.2 (RMS, normalised) from "
     "every demonstrated first chunk (bridges / prior holes)"),
    ("lipschitz_p95", schema.LIPSCHITZ, "Lipschitz",
     "BC families: 95th percentile of |g(s, w + eps u) - g(s, w)| / eps of the deterministic "
     "noise-to-chunk map at the demonstrations' start states"),
    ("checkpoint_stability", schema.CHECKPOINT_STABILITY, "Stability (ckpt)",
     "within a seed: 1 - mean pairwise JS divergence between the mode distributions of the "
     "pretrained policy, the policy at 50 % of fine-tuning, and the final one"),
    ("latent_purity", schema.LATENT_PURITY, "z purity",
     "mode-selectable methods, each latent z forced: share of z's successful episodes in its "
     "most frequent mode, averaged over z"),
    ("latent_nmi", schema.LATENT_NMI, "z NMI",
     "normalised mutual information between the forced z and the achieved mode"),
    ("latent_srm", schema.LATENT_SRM, "SRM (z)",
     "SRM with SR_m from the episodes of the z codes whose most frequent mode is m"),
    ("latent_map_agreement", schema.LATENT_MAP_AGREEMENT, "z-map agreement",
     "across seeds: share of latent codes mapped to the same mode once two seeds' codes are "
     "matched one-to-one (Hungarian), mean over seed pairs; 1 = the same z -> mode map up to "
     "a permutation (no interval: seed pairs are not independent)"),
)
"""Columns shown on task pages only."""

POI_MAX_METHODS = 8
"""Without a chosen set (``bench leaderboard build --compare``), the probability-of-improvement
matrices cover the best methods (by IQM success) up to this many: their cost grows with the
square of the number of methods, and a bigger matrix is no longer readable."""

TIER_ORDER = {t: i for i, t in enumerate(reversed(TIERS))}  # paper first


@dataclass(frozen=True)
class LevelPoint:
    """Success and mode count at one perturbation level (one point of a robustness curve).

    Attributes:
        level: Level name.
        ladder: The ladder it belongs to (``"nominal"`` for level 0).
        severity: Position on the ladder (0 = nominal).
        success: Success rate over seeds with CI (None when no seed logged it).
        mode_count: Mode count over seeds with CI (None when no seed logged it).
    """

    level: str
    ladder: str
    severity: int
    success: Estimate | None
    mode_count: Estimate | None


@dataclass(frozen=True)
class GroupStats:
    """One row: a method on a task at a tier, over its seeds.

    Attributes:
        task: Task id.
        method: Method id (the registry id).
        label: Row label (:func:`row_label`): the method id, plus ``[mode z]`` for a forced
            BMD mode and ``[key=value]`` for options.
        tier: Tier name.
        seeds: The training seeds, sorted.
        cells: Metric key (see :data:`METRICS`, :data:`EXTRA_METRICS`) -> estimate, or None
            when no seed has the metric.
        levels: Robustness-curve points in the spec's level order.
        mode_shares: Mode label -> mean share over seeds with at least one success.
        results: The seed results of the row (latest per seed).
        superseded: Older re-runs of the same seeds that were left out.
        progress: Tasks with subtasks (kitchen): ``"p<n>"`` -> share of nominal episodes
            completing at least n subtasks, over the seeds that logged it.
        n_no_success: Seeds without a successful nominal episode (their mode count and
            H(π) are undefined and left out of those cells).
    """

    task: str
    method: str
    label: str
    tier: str
    seeds: tuple[int, ...]
    cells: Mapping[str, Estimate | None]
    levels: tuple[LevelPoint, ...]
    mode_shares: Mapping[str, float]
    results: tuple[SeedResult, ...]
    superseded: int = 0
    progress: Mapping[str, Estimate] = field(default_factory=dict)
    n_no_success: int = 0

    @property
    def dirty(self) -> bool:
        """Whether a seed was run from a commit with uncommitted changes (``+dirty``)."""
        return any(r.git_commit.endswith("+dirty") for r in self.results)

    @property
    def n_seeds(self) -> int:
        """Number of distinct training seeds."""
        return len(self.seeds)

    def distinct(self, attr: str) -> tuple[str, ...]:
        """Distinct values of a :class:`SeedResult` attribute over the row's results."""
        return tuple(sorted({str(getattr(r, attr)) for r in self.results}))


@dataclass(frozen=True)
class TaskBoard:
    """All rows of one task at one tier, best success first (``spec_hash``: the spec's hash)."""

    task: str
    spec: TaskSpec
    tier: str
    rows: tuple[GroupStats, ...]
    spec_hash: str = ""


@dataclass(frozen=True)
class StaleGroup:
    """Results left out of the tables because they do not match the current code.

    Attributes:
        task: Task id as tagged.
        method: Method id.
        tier: Tier.
        n_runs: Number of results.
        reason: Why they are stale.
    """

    task: str
    method: str
    tier: str
    n_runs: int
    reason: str


@dataclass(frozen=True)
class TierBoard:
    """Everything shown for one tier.

    Attributes:
        tier: Tier name.
        tasks: One board per task, sorted by task id.
        methods: Row labels present in the tier, best aggregate success first.
        iqm: Row label -> {"success"|"mode_entropy": IQM estimate over the seeds of the
            tasks *every* row of the tier ran (empty when no task is common to all).
        iqm_tasks: Row label -> number of tasks the IQM is over (the common ones).
        common_tasks: The tasks the aggregates are over.
        poi: Aggregate key (``"success"``, ``"mode_entropy"``: see
            :data:`AGGREGATE_KEYS`) -> {(X, Y): P(X > Y) over the common tasks both have
            values on, X != Y} (rliable's probability of improvement; for entropy: that X
            keeps its modes more evenly than Y).
        poi_methods: The methods of the matrices: the ones asked for (``compare``) or else
            the best :data:`POI_MAX_METHODS` of ``methods``.
    """

    tier: str
    tasks: tuple[TaskBoard, ...]
    methods: tuple[str, ...]
    iqm: Mapping[str, Mapping[str, Estimate]]
    iqm_tasks: Mapping[str, int]
    poi: Mapping[str, Mapping[tuple[str, str], Estimate]]
    poi_methods: tuple[str, ...] = ()
    common_tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodCard:
    """What the registry says about a method (for its page).

    Attributes:
        id: Method id.
        registered: Whether this installation's registry knows it.
        version: Registry version (``""`` when not registered).
        description: One-line description (or why it could not be loaded).
        source: Adapter import path, e.g. ``"baselines.bc:BCMethod"``.
    """

    id: str
    registered: bool
    version: str = ""
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class Leaderboard:
    """The compiled leaderboard.

    Attributes:
        tiers: One board per tier with results, ``paper`` first.
        stale: Groups of stale results.
        methods: Method id -> registry card, for every method with a current result.
        n_results: Seed results read.
        n_current: Seed results in the tables (after dropping stale and superseded ones).
        skipped: Reason -> runs that could not be parsed.
        reader: Which reader read the store.
        sources: Source tag -> number of current results (``"local"`` for runs made here).
        built_at: UTC build time, ISO 8601.
        timings: Phase -> seconds.
        compare: The row labels asked for in the probability-of-improvement matrices
            (``()``: each tier's best).
    """

    tiers: tuple[TierBoard, ...]
    stale: tuple[StaleGroup, ...]
    methods: Mapping[str, MethodCard]
    n_results: int
    n_current: int
    skipped: Mapping[str, int] = field(default_factory=dict)
    reader: str = ""
    sources: Mapping[str, int] = field(default_factory=dict)
    built_at: str = ""
    timings: Mapping[str, float] = field(default_factory=dict)
    compare: tuple[str, ...] = ()

    def groups(self) -> Iterable[GroupStats]:
        """Every row of every task of every tier."""
        for tb in self.tiers:
            for task in tb.tasks:
                yield from task.rows


SpecLookup = Callable[[str], "tuple[TaskSpec | None, str]"]
"""task id -> (current spec, "") or (None, reason it cannot be resolved)."""
MethodLookup = Callable[[str], MethodCard]


def registry_spec(task_id: str) -> tuple[TaskSpec | None, str]:
    """Resolve a task id to its current spec with :func:`benchmark.registry.get_task`.

    Returns:
        ``(spec, "")`` or ``(None, reason)`` for unknown or unloadable tasks.
    """
    return _registry_spec(task_id)


@cache
def _registry_spec(task_id: str) -> tuple[TaskSpec | None, str]:
    from benchmark.errors import UnknownIdError
    from benchmark.registry import get_task

    try:
        return get_task(task_id).spec, ""
    except UnknownIdError as exc:
        return None, f"unknown task id ({exc})"
    except Exception as exc:  # a task that fails to import must not stop the build
        return None, f"task cannot be loaded here ({type(exc).__name__}: {exc})"


def registry_method(method_id: str) -> MethodCard:
    """The registry's card for ``method_id`` (``registered=False`` when unknown/unloadable)."""
    from benchmark.registry import method_info

    try:
        info = method_info(method_id)
    except Exception as exc:  # unknown or broken adapters still have results to show
        return MethodCard(method_id, False, description=f"not loadable here: {exc}")
    return MethodCard(info.id, True, info.version, info.description, info.source)


def _stale_reason(r: SeedResult, spec: TaskSpec | None, why: str,
                  spec_hash: str) -> str | None:
    if spec is None:
        return why
    if r.spec_hash != spec_hash:
        return "spec hash differs from the current spec"
    if spec.dataset_hash is not None and r.dataset_hash != spec.dataset_hash:
        return "dataset hash differs from the current spec"
    return None


def row_label(r: SeedResult) -> str:
    """The row a result belongs to: its method, plus ``[mode z]`` for a forced BMD mode and
    ``[key=value, ...]`` for non-default options (an ablation is never mixed into, or
    supersedes, the method's default row)."""
    label = f"{r.method} [mode {r.mode}]" if r.mode else r.method
    if r.options:
        label += " [" + ", ".join(f"{k}={v}" for k, v in sorted(r.options.items())) + "]"
    return label


def _split_versions(groups: Mapping[tuple[str, str, str], list[SeedResult]]
                    ) -> dict[tuple[str, str, str], list[SeedResult]]:
    """Never average runs of another method version or config: such a row is split, and the
    parts are labelled ``v<version>`` (or ``cfg <hash>`` when only the config differs)."""
    out: dict[tuple[str, str, str], list[SeedResult]] = {}
    for (task, label, tier), rs in groups.items():
        parts: dict[tuple[str, str], list[SeedResult]] = defaultdict(list)
        for r in rs:
            parts[(r.method_version, r.config_hash)].append(r)
        if len(parts) == 1:
            out[(task, label, tier)] = rs
            continue
        versions = {v for v, _ in parts}
        for (version, cfg_hash), part in parts.items():
            tag = f"v{version or '?'}"
            if len(versions) < len(parts):  # same version, several configs
                tag += f" cfg {cfg_hash[:8] or '?'}"
            out[(task, f"{label} ({tag})", tier)] = part
    return out


def _finite_estimates(values: np.ndarray) -> list[Estimate | None]:
    """Bootstrap CIs of every column of (n_seeds, k); NaN = not logged for that seed."""
    out: list[Estimate | None] = [None] * values.shape[1]
    finite = np.isfinite(values)
    full = finite.all(axis=0)
    if full.any():
        cols = np.flatnonzero(full)
        for c, est in zip(cols, metrics.bootstrap_mean_cis(values[:, cols]), strict=True):
            out[c] = est
    for c in np.flatnonzero(~full & finite.any(axis=0)):
        out[c] = metrics.bootstrap_ci(values[finite[:, c], c])
    return out


UNDEFINED_WITHOUT_SUCCESS = (schema.MODE_COUNT, schema.MODE_ENTROPY)
"""Metrics of the mode distribution of successful episodes: undefined for a seed (or level)
with no successful episode, left out of its row's estimate and counted separately (older runs
logged 0, which reads as "collapsed")."""


def _undefining_level(name: str) -> str | None | bool:
    """The level (None: nominal) whose zero success makes metric ``name`` undefined for a
    seed, or False when nothing does."""
    base, _, level = name.partition("/")
    return (level or None) if base in UNDEFINED_WITHOUT_SUCCESS else False


def _undefined_at(r: SeedResult, level: str | None | bool) -> bool:
    """Whether seed ``r`` has no success at ``level`` (False: never undefined)."""
    return level is not False and r.metric(schema.SUCCESS_RATE, level) == 0.0


def _undefined(r: SeedResult, name: str) -> bool:
    return _undefined_at(r, _undefining_level(name))


def _latest_per_seed(results: Sequence[SeedResult]) -> list[SeedResult]:
    """One result per seed, the latest re-run (by start time, then run id), seed order."""
    latest: dict[int, SeedResult] = {}
    for r in sorted(results, key=lambda r: (r.start_time, r.run_id)):
        latest[r.seed] = r  # the latest re-run of a seed wins
    return [latest[s] for s in sorted(latest)]


def _group_stats(task: str, label: str, tier: str, spec: TaskSpec,
                 rows: Sequence[SeedResult], superseded: int) -> GroupStats:
    """One row's statistics from its latest result per seed (:func:`_latest_per_seed`);
    ``superseded`` older re-runs were left out."""
    seeds = tuple(r.seed for r in rows)
    across = (schema.MODE_STABILITY, schema.LATENT_MAP_AGREEMENT)  # from several seeds
    names = [m for _, m, _, _ in METRICS + EXTRA_METRICS if m not in across]
    keys = [k for k, m, _, _ in METRICS + EXTRA_METRICS if m not in across]
    level_objs = list(spec.perturbations)
    # one matrix (seeds x columns) so that one bootstrap draw serves every column
    cols = names + [schema.level_metric(m, lv.name) for lv in level_objs
                    for m in (schema.SUCCESS_RATE, schema.MODE_COUNT)]
    mat = np.full((len(rows), len(cols)), np.nan)
    # per column, parsed once: the name, the plain name standing in for a nominal level, and
    # the level whose zero success makes the column undefined for a seed
    col_info = [(name, name.split("/")[0] if "/nominal" in name else None,
                 _undefining_level(name)) for name in cols]
    for i, r in enumerate(rows):
        get = r.metrics.get
        for j, (name, plain, undefined_at) in enumerate(col_info):
            v = get(name)
            if v is None and plain is not None:  # nominal level = the plain metric
                v = get(plain)
            if v is None or not math.isfinite(v):
                continue
            if _undefined_at(r, undefined_at):
                continue
            mat[i, j] = v
    ests = _finite_estimates(mat)
    cells: dict[str, Estimate | None] = dict(zip(keys, ests[: len(keys)], strict=True))
    dists = [r.nominal_distribution() for r in rows if "nominal" in r.mode_distribution]
    # across one seed stability is undefined, not 1: the cell is empty ("–"), never ranked
    cells["mode_stability"] = metrics.stability_ci(dists) if len(dists) >= 2 else None
    cells["latent_map_agreement"] = _map_agreement(rows)
    levels = []
    for i, lv in enumerate(level_objs):
        s_est, m_est = ests[len(keys) + 2 * i], ests[len(keys) + 2 * i + 1]
        levels.append(LevelPoint(lv.name, lv.ladder, lv.severity, s_est, m_est))
    shares: dict[str, float] = defaultdict(float)
    with_success = [d for d in dists if sum(d.values()) > 0]
    for d in with_success:
        total = sum(d.values())
        for label_, c in d.items():
            shares[label_] += c / total / len(with_success)
    ordered = {m: shares.get(m, 0.0) for m in spec.modes}
    ordered.update({k: v for k, v in sorted(shares.items()) if k not in ordered})
    progress_names = sorted({n for r in rows for n in r.metrics if _PROGRESS.match(n)},
                            key=lambda n: int(n[1:]))
    progress = {n: metrics.bootstrap_ci([r.metrics[n] for r in rows if n in r.metrics])
                for n in progress_names}
    no_success = sum(1 for r in rows if r.metric(schema.SUCCESS_RATE) == 0.0)
    return GroupStats(task, rows[0].method, label, tier, seeds, cells, tuple(levels), ordered,
                      tuple(rows), superseded=superseded, progress=progress,
                      n_no_success=no_success)


PARALLEL_STATS_MIN_RUNS = 2000
"""From this many results on (and with two usable cores and ``fork``), the rows' statistics
and the tier aggregates are shared with a forked child (:func:`leaderboard.forked.run_jobs`;
measured on 10,200 runs with ``benchmarks/leaderboard_build.py``)."""

_Groups = Sequence[tuple[tuple[str, str, str], Sequence[SeedResult]]]


def _stripped_stats(task: str, label: str, tier: str, spec: TaskSpec,
                    rows: Sequence[SeedResult], superseded: int) -> GroupStats:
    """:func:`_group_stats` without the row's results (put back by :func:`_all_statistics`):
    a row computed by a forked child sends back its statistics only."""
    return dataclasses.replace(_group_stats(task, label, tier, spec, rows, superseded),
                               results=())


def _all_statistics(groups: _Groups, specs: Mapping[str, TaskSpec], compare: Sequence[str],
                    parallel: bool) -> tuple[list[GroupStats], dict[str, tuple]]:
    """Every group's :func:`_group_stats` (in order) and every tier's :func:`_aggregates`;
    with ``parallel``, shared with a forked child (:func:`leaderboard.forked.run_jobs`).

    Each row's statistics depend on its own results only and the aggregates on the rows'
    results only (every bootstrap seeds its own generator), so who computes what changes
    no number.
    """
    latest = [_latest_per_seed(rs) for _, rs in groups]  # each row's results, once
    jobs: list[Callable[[], Any]] = [functools.partial(
        _all_aggregates, _tier_rows([key for key, _ in groups], latest), compare)]
    jobs += [functools.partial(_stripped_stats, task, label, tier, specs[task], rows,
                               len(rs) - len(rows))
             for ((task, label, tier), rs), rows in zip(groups, latest, strict=True)]
    aggregates, *stats = run_jobs(jobs, parallel)
    return ([dataclasses.replace(g, results=tuple(rows))
             for g, rows in zip(stats, latest, strict=True)], aggregates)


def _map_agreement(rows: Sequence[SeedResult]) -> Estimate | None:
    """Mean pairwise z -> mode map agreement of the seeds that forced each z (as the runner's
    group metric; no interval), None with fewer than two such seeds."""
    maps = []
    for r in rows:
        if not r.latent_counts:
            continue
        codes = sorted(r.latent_counts, key=int)
        maps.append([min(c, key=lambda lab, c=c: (-c[lab], lab)) if sum(c.values()) else None
                     for c in (r.latent_counts[z] for z in codes)])
    pairs = [mode_metrics.map_agreement(a, b) for i, a in enumerate(maps) for b in maps[i + 1:]
             if len(a) == len(b)]
    pairs = [p for p in pairs if p == p]
    if not pairs:
        return None
    return Estimate(float(np.mean(pairs)), math.nan, math.nan, len(maps))


_PROGRESS = re.compile(r"^p\d+$")  # kitchen-style partial progress p1..pN (runner)


AGGREGATE_KEYS = (("success", schema.SUCCESS_RATE), ("mode_entropy", schema.MODE_ENTROPY))
"""The tier-level aggregates (IQM, probability of improvement): key and metric name."""


_TierRows = Sequence[tuple[str, Sequence[tuple[str, Sequence[SeedResult]]]]]
"""One tier's rows for the aggregates: per task, ``(task, [(row label, latest results)])``."""


def _tier_rows(keys: Sequence[tuple[str, str, str]],
               latest: Sequence[Sequence[SeedResult]]) -> dict[str, _TierRows]:
    """Tier -> its rows for :func:`_aggregates`, tasks and labels sorted, from each group's
    (task, label, tier) and latest results per seed."""
    by_tier: dict[str, dict[str, list[tuple[str, Sequence[SeedResult]]]]] = defaultdict(
        lambda: defaultdict(list))
    for (task, label, tier), rows in zip(keys, latest, strict=True):
        by_tier[tier][task].append((label, rows))
    return {tier: [(task, sorted(rows, key=lambda row: row[0]))
                   for task, rows in sorted(tasks.items())]
            for tier, tasks in by_tier.items()}


def _all_aggregates(tier_rows: Mapping[str, _TierRows], compare: Sequence[str]
                    ) -> dict[str, tuple]:
    """:func:`_aggregates` of every tier."""
    return {tier: _aggregates(rows, compare) for tier, rows in tier_rows.items()}


def _aggregates(tasks: _TierRows, compare: Sequence[str] = ()
                ) -> tuple[dict, dict, dict, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    per_method: dict[str, dict[str, dict[str, np.ndarray]]] = defaultdict(
        lambda: {key: {} for key, _ in AGGREGATE_KEYS})
    for task, rows in tasks:
        for label, results in rows:
            for key, name in AGGREGATE_KEYS:
                # entropy is undefined for a seed without a successful episode (as in rows)
                vals = np.array([r.metrics.get(name, math.nan) for r in results
                                 if not _undefined(r, name)])
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    per_method[label][key][task] = vals
    # aggregate over the tasks every method of the tier ran: an IQM over two tasks is not
    # comparable with one over a single task (rows with partial coverage are not ranked)
    task_sets = [set(by_key["success"]) for by_key in per_method.values()]
    common = set.intersection(*task_sets) if task_sets else set()
    iqm: dict[str, dict[str, Estimate]] = {}
    n_tasks: dict[str, int] = {}
    for label, by_key in per_method.items():
        iqm[label] = {k: metrics.aggregate_iqm({t: x for t, x in v.items() if t in common})
                      for k, v in by_key.items() if common & set(v)}
        n_tasks[label] = len(common & set(by_key["success"]))
    order = tuple(sorted(per_method, key=lambda m: (
        -(iqm[m]["success"].value if "success" in iqm[m] else -1.0), m)))
    chosen = (tuple(m for m in dict.fromkeys(compare) if m in per_method) if compare
              else order[:POI_MAX_METHODS])
    poi: dict[str, dict[tuple[str, str], Estimate]] = {}
    for key, _ in AGGREGATE_KEYS:
        matrix = poi[key] = {}
        for i, a in enumerate(chosen):
            for b in chosen[i + 1:]:
                xa = {t: x for t, x in per_method[a][key].items() if t in common}
                xb = {t: x for t, x in per_method[b][key].items() if t in common}
                if not set(xa) & set(xb):
                    continue
                est = metrics.probability_of_improvement(xa, xb)
                matrix[(a, b)] = est
                # P(B > A) = 1 - P(A > B) exactly (ties count ½ both ways), resample by
                # resample, so the interval mirrors too: half the work
                matrix[(b, a)] = Estimate(1.0 - est.value, 1.0 - est.ci_high,
                                          1.0 - est.ci_low, est.n)
    return iqm, n_tasks, poi, order, tuple(sorted(common)), chosen


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while compiling.

    The bootstrap products here are small (2000 x n); a multi-threaded BLAS spends more time
    waking threads than computing (measured: 5.6 s of 9 s on 10,000 runs on a busy 2-core
    machine). threadpoolctl comes with scikit-learn (an MLflow dependency); without it the
    limit is simply not applied.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def compile_leaderboard(
    results: Iterable[SeedResult],
    spec_lookup: SpecLookup = registry_spec,
    method_lookup: MethodLookup = registry_method,
    compare: Sequence[str] = (),
) -> Leaderboard:
    """Group results, separate stale ones, and compute every table's statistics.

    Args:
        results: Finished seed results (from the store and imported bundles).
        spec_lookup: Resolves a task id to its current spec (default: the registry).
        method_lookup: Resolves a method id to its registry card (default: the registry).
        compare: Row labels for the probability-of-improvement matrices, in this order
            (each tier keeps those it has; default: its best :data:`POI_MAX_METHODS`).

    Returns:
        The compiled :class:`Leaderboard` (``built_at``, ``reader`` and ``skipped`` are left
        for the caller to fill in).
    """
    with _single_threaded_blas():
        return _compile(results, spec_lookup, method_lookup, compare)


def _compile(
    results: Iterable[SeedResult],
    spec_lookup: SpecLookup,
    method_lookup: MethodLookup,
    compare: Sequence[str] = (),
) -> Leaderboard:
    t0 = time.perf_counter()
    results = list(results)
    current: dict[tuple[str, str, str], list[SeedResult]] = defaultdict(list)
    stale: dict[tuple[str, str, str, str], int] = defaultdict(int)
    specs: dict[str, TaskSpec] = {}
    # one lookup and one hash per task id, not per result (hashing a spec costs ~0.5 ms)
    resolved: dict[str, tuple[TaskSpec | None, str, str]] = {}
    for r in results:
        if r.task not in resolved:
            spec, why = spec_lookup(r.task)
            resolved[r.task] = (spec, why, spec.hash() if spec is not None else "")
        spec, why, spec_hash = resolved[r.task]
        reason = _stale_reason(r, spec, why, spec_hash)
        if reason is not None:
            stale[(r.task, r.method, r.tier, reason)] += 1
            continue
        assert spec is not None
        specs[r.task] = spec
        current[(r.task, row_label(r), r.tier)].append(r)
    current = _split_versions(current)
    t1 = time.perf_counter()
    by_tier: dict[str, dict[str, list[GroupStats]]] = defaultdict(lambda: defaultdict(list))
    groups = list(current.items())
    parallel = fork_pays(len(results), PARALLEL_STATS_MIN_RUNS)
    stats, per_tier = _all_statistics(groups, specs, compare, parallel)
    for ((task, _, tier), _), g in zip(groups, stats, strict=True):
        by_tier[tier][task].append(g)
    t2 = time.perf_counter()
    tiers = []
    for tier in sorted(by_tier, key=lambda t: (TIER_ORDER.get(t, -1), t)):
        boards = tuple(
            TaskBoard(task, specs[task], tier, tuple(sorted(rows, key=_row_order)),
                      resolved[task][2])
            for task, rows in sorted(by_tier[tier].items())
        )
        iqm, n_tasks, poi, order, common, chosen = per_tier[tier]
        tiers.append(TierBoard(tier, boards, order, iqm, n_tasks, poi, chosen, common))
    t3 = time.perf_counter()
    method_ids = sorted({g.method for tb in tiers for task in tb.tasks for g in task.rows})
    cards = {m: method_lookup(m) for m in method_ids}
    lb_groups = [g for tb in tiers for task in tb.tasks for g in task.rows]
    sources: dict[str, int] = defaultdict(int)
    for g in lb_groups:
        for r in g.results:
            sources[r.source or "local"] += 1
    return Leaderboard(
        tiers=tuple(tiers),
        stale=tuple(StaleGroup(t, m, tier, n, why)
                    for (t, m, tier, why), n in sorted(stale.items())),
        methods=cards,
        n_results=len(results),
        n_current=sum(g.n_seeds for g in lb_groups),
        sources=dict(sources),
        timings={"classify": t1 - t0, "statistics": t2 - t1, "boards": t3 - t2,
                 "methods": time.perf_counter() - t3},
        compare=tuple(compare),
    )


def _row_order(g: GroupStats) -> tuple[float, str]:
    s = g.cells.get("success")
    return (-(s.value if s is not None else -1.0), g.label)


@dataclass(frozen=True)
class OptionSweep:
    """Rows of one method on one task board that differ in one numeric option (``bench sweep
    --grid key=v1,v2,...``), with the method's default row at its config value.

    Attributes:
        method: Method id.
        key: The option's name as given on the command line (e.g. ``beta``).
        points: ``(value, row)`` sorted by value.
    """

    method: str
    key: str
    points: tuple[tuple[float, GroupStats], ...]


def _default_value(g: GroupStats, key: str) -> float | None:
    """The value of option ``key`` in a default row's logged method config, if numeric."""
    params = g.results[0].params
    for name in (f"method.{key}", *(n for n in params if n.endswith(f".{key.split('.')[-1]}"))):
        if name in params:
            try:
                return float(params[name])
            except (TypeError, ValueError):
                return None
    return None


MIN_SWEEP_POINTS = 3
"""An option sweep is drawn from this many distinct values on (fewer is not a curve)."""


def option_sweeps(task: TaskBoard) -> list[OptionSweep]:
    """Find the option sweeps of a task board (see :class:`OptionSweep`).

    A row joins a sweep when its options set exactly one key to a number and it has no
    forced latent mode; the method's default row joins at the value its logged config has.
    Sweeps with fewer than :data:`MIN_SWEEP_POINTS` distinct values are left out.
    """
    by_key: dict[tuple[str, str], dict[float, GroupStats]] = defaultdict(dict)
    defaults: dict[str, GroupStats] = {}
    for g in task.rows:
        r = g.results[0]
        if r.mode:
            continue
        if not r.options:
            defaults[g.method] = g
            continue
        if len(r.options) != 1:
            continue
        ((key, raw),) = r.options.items()
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            by_key[(g.method, key)][value] = g
    out = []
    for (method, key), points in sorted(by_key.items()):
        if method in defaults:
            v = _default_value(defaults[method], key)
            if v is not None and math.isfinite(v) and v not in points:
                points[v] = defaults[method]
        if len(points) >= MIN_SWEEP_POINTS:
            out.append(OptionSweep(method, key, tuple(sorted(points.items()))))
    return out
