"""Seed results as the leaderboard sees them, and how they are read from the MLflow store.

A :class:`SeedResult` is one finished seed run (see :mod:`benchmark.schema`): its tags parsed
into typed fields, its metrics (nominal and per perturbation level) and its per-level mode
distributions. Two readers produce them and must agree (a test checks it):

* :func:`read_results_client` — MLflow's client (``search_runs``, paged 50,000 at a time); works
  with every tracking URI;
* :func:`read_results_sqlite` — plain ``sqlite3`` queries on a local SQLite store, used for
  ``sqlite:///`` URIs because the client builds a Python entity per tag and metric and is
  several times slower on 10,000 runs (``benchmarks/leaderboard_build.py`` measures both).

Runs that are not FINISHED, not seed runs, deleted, or lack a required tag are never results.
A run whose tags cannot be parsed (bad JSON, a non-integer seed) is skipped and counted, so one
corrupt run never stops a build.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from benchmark import schema
from benchmark.paths import tracking_uri as default_tracking_uri

TAG_SOURCE = "modebench.source"
"""Where a result came from: absent for runs logged here, ``bundle:<file>`` for imports."""
TAG_BUNDLE_RUN_ID = "modebench.bundle_run_id"
"""The run id a result had in the store it was exported from (imported runs only)."""

_PAGE = 50_000  # MLflow's maximum page size for search_runs


class MalformedRunError(ValueError):
    """A run's tags cannot be parsed into a :class:`SeedResult` (names the tag)."""


@dataclass(frozen=True)
class SeedResult:
    """One finished seed run: one method, one training seed, one task version, one tier.

    Attributes:
        run_id: MLflow run id in the store it was read from.
        task: Versioned task id, e.g. ``"avoid-v0"``.
        method: Method id, e.g. ``"bmd"``.
        tier: ``"smoke"``, ``"small"`` or ``"paper"``.
        seed: The training seed.
        spec_hash: Hash of the task spec the run was made with.
        dataset_hash: Content hash of the dataset the run was trained on.
        git_commit: Commit of the code that made the run.
        versions: Package versions, ``{package: version}``.
        method_version: The adapter's version string.
        task_family: Task family, e.g. ``"avoid"``.
        config_hash: Hash of the method config and options.
        command: The CLI command that reproduces the run.
        perturbations: Names of the perturbation levels evaluated (nominal first).
        mode: BMD's forced latent mode (``""`` = sampled).
        options: The ``-o`` overrides of the method config (``{}`` = its defaults).
        unit: Sweep unit key.
        source: ``""`` for runs logged in this store, ``"bundle:<file>"`` for imported ones.
        bundle_run_id: For imported runs, the run id in the exporting store.
        start_time: Run start, milliseconds since the epoch.
        metrics: Metric name -> value (nominal names and ``name/<level>`` names).
        params: Param name -> value (the method config as logged).
        mode_distribution: Level -> {mode label: count of successful episodes}.
        pretrain_mode_distribution: {mode label: count} of the pretrained policy, if logged.
        lock_hash: Hash of the requirements.lock the run was made under (``""``: not recorded).
        lock_drift: Locked packages that were installed in another version (``()``: none).
        latent_counts: Mode-selectable methods: {z: {mode label: successful episodes}} with
            each z forced (``{}`` otherwise).
        curves: Learning curves of fine-tuners, ``{name: ((iteration, value), ...)}`` for
            the names of :data:`benchmark.schema.CURVES` (``{}``: not logged).
    """

    run_id: str
    task: str
    method: str
    tier: str
    seed: int
    spec_hash: str
    dataset_hash: str
    git_commit: str
    versions: Mapping[str, str]
    method_version: str = ""
    task_family: str = ""
    config_hash: str = ""
    command: str = ""
    perturbations: tuple[str, ...] = ()
    mode: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    unit: str = ""
    source: str = ""
    bundle_run_id: str = ""
    start_time: int = 0
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    mode_distribution: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    pretrain_mode_distribution: Mapping[str, int] | None = None
    latent_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    lock_hash: str = ""
    lock_drift: tuple[str, ...] = ()
    curves: Mapping[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)

    def metric(self, name: str, level: str | None = None) -> float:
        """Value of ``name`` (at ``level`` when given and not nominal); NaN when absent."""
        key = name if level in (None, "nominal") else schema.level_metric(name, level)
        value = self.metrics.get(key)
        if value is None and level == "nominal":
            value = self.metrics.get(schema.level_metric(name, "nominal"))
        return float("nan") if value is None else float(value)

    def nominal_distribution(self) -> dict[str, int]:
        """{mode label: count} of successful nominal episodes (empty when not logged)."""
        return dict(self.mode_distribution.get("nominal", {}))


def _json_tag(tags: Mapping[str, str], key: str, default: Any) -> Any:
    raw = tags.get(key)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MalformedRunError(f"tag {key}: not valid JSON ({exc.msg})") from exc


def _counts(obj: Any, key: str) -> dict[str, int]:
    if not isinstance(obj, dict):
        raise MalformedRunError(f"tag {key}: expected a JSON object of counts")
    # fast path, the common case: JSON objects have str keys; plain non-negative ints (the
    # type set and min run in C: this is called ~11 times per run read)
    counts = obj.values()
    if not counts or (set(map(type, counts)) == {int} and min(counts) >= 0):
        return obj
    out: dict[str, int] = {}
    for label, count in obj.items():
        if isinstance(count, bool) or not isinstance(count, (int, float)) or count < 0 \
                or count != int(count):
            raise MalformedRunError(f"tag {key}: count of {label!r} is not a whole number >= 0")
        out[str(label)] = int(count)
    return out


def result_from_run(
    run_id: str,
    tags: Mapping[str, str],
    metrics: Mapping[str, float],
    params: Mapping[str, str] | None = None,
    start_time: int | None = None,
) -> SeedResult:
    """Build a :class:`SeedResult` from a run's raw tags, metrics and params.

    Args:
        run_id: The run's id.
        tags: Tag name -> string value (must hold :data:`benchmark.schema.REQUIRED_TAGS`).
        metrics: Latest metric values.
        params: Params (optional).
        start_time: Start time in ms since the epoch.

    Returns:
        The parsed result.

    Raises:
        MalformedRunError: A required tag is missing or a JSON tag does not parse.
    """
    missing = [t for t in schema.REQUIRED_TAGS if not tags.get(t)]
    if missing:
        raise MalformedRunError(f"missing required tags: {', '.join(missing)}")
    if tags[schema.TAG_KIND] != "seed":
        raise MalformedRunError(f"tag {schema.TAG_KIND}: {tags[schema.TAG_KIND]!r} is not 'seed'")
    try:
        seed = int(tags[schema.TAG_SEED])
    except ValueError as exc:
        raise MalformedRunError(f"tag {schema.TAG_SEED}: {tags[schema.TAG_SEED]!r} "
                                "is not an integer") from exc
    versions = _json_tag(tags, schema.TAG_VERSIONS, {})
    if not isinstance(versions, dict):
        raise MalformedRunError(f"tag {schema.TAG_VERSIONS}: expected a JSON object")
    perturbations = _json_tag(tags, schema.TAG_PERTURBATIONS, [])
    if not isinstance(perturbations, list):
        raise MalformedRunError(f"tag {schema.TAG_PERTURBATIONS}: expected a JSON list")
    dist_raw = _json_tag(tags, schema.TAG_MODE_DISTRIBUTION, {})
    if not isinstance(dist_raw, dict):
        raise MalformedRunError(f"tag {schema.TAG_MODE_DISTRIBUTION}: expected a JSON object")
    dist = {str(level): _counts(c, schema.TAG_MODE_DISTRIBUTION) for level, c in dist_raw.items()}
    options = _json_tag(tags, schema.TAG_OPTIONS, {})
    if not isinstance(options, dict):
        raise MalformedRunError(f"tag {schema.TAG_OPTIONS}: expected a JSON object")
    pre_raw = _json_tag(tags, schema.TAG_PRETRAIN_MODE_DISTRIBUTION, None)
    pre = None if pre_raw is None else _counts(pre_raw, schema.TAG_PRETRAIN_MODE_DISTRIBUTION)
    latent_raw = _json_tag(tags, schema.TAG_LATENT_COUNTS, {})
    if not isinstance(latent_raw, dict):
        raise MalformedRunError(f"tag {schema.TAG_LATENT_COUNTS}: expected a JSON object")
    latent = {str(z): _counts(c, schema.TAG_LATENT_COUNTS) for z, c in latent_raw.items()}
    return SeedResult(
        run_id=run_id,
        task=tags[schema.TAG_TASK],
        method=tags[schema.TAG_METHOD],
        tier=tags[schema.TAG_TIER],
        seed=seed,
        spec_hash=tags[schema.TAG_SPEC_HASH],
        dataset_hash=tags[schema.TAG_DATASET_HASH],
        git_commit=tags[schema.TAG_GIT_COMMIT],
        versions={str(k): str(v) for k, v in versions.items()},
        method_version=tags.get(schema.TAG_METHOD_VERSION, ""),
        task_family=tags.get(schema.TAG_TASK_FAMILY, ""),
        config_hash=tags.get(schema.TAG_CONFIG_HASH, ""),
        command=tags.get(schema.TAG_COMMAND, ""),
        perturbations=tuple(str(p) for p in perturbations),
        mode=tags.get(schema.TAG_MODE, ""),
        options={str(k): str(v) for k, v in options.items()},
        unit=tags.get(schema.TAG_UNIT, ""),
        source=tags.get(TAG_SOURCE, ""),
        bundle_run_id=tags.get(TAG_BUNDLE_RUN_ID, ""),
        start_time=int(start_time or 0),
        metrics={k: float(v) for k, v in metrics.items()},
        params=dict(params or {}),
        mode_distribution=dist,
        pretrain_mode_distribution=pre,
        latent_counts=latent,
        lock_hash=tags.get(schema.TAG_LOCK_HASH, ""),
        lock_drift=tuple(str(d) for d in _json_tag(tags, schema.TAG_LOCK_DRIFT, []) or ()),
    )


@dataclass(frozen=True)
class ReadReport:
    """What a reader found.

    Attributes:
        results: The parsed finished seed results.
        skipped: Reason -> number of finished seed runs that could not be used.
        reader: ``"sqlite"`` or ``"mlflow-client"``.
    """

    results: tuple[SeedResult, ...]
    skipped: Mapping[str, int]
    reader: str


def _parse_all(raw: Iterable[tuple[str, dict, dict, dict, int]]) -> tuple[list, Counter]:
    results: list[SeedResult] = []
    skipped: Counter = Counter()
    for run_id, tags, metrics, params, start in raw:
        if tags.get(schema.TAG_KIND) != "seed":
            continue  # group runs and foreign runs are not results (not an error either)
        try:
            results.append(result_from_run(run_id, tags, metrics, params, start))
        except MalformedRunError as exc:
            reason = str(exc).split(":")[0]
            skipped[reason] += 1
    return results, skipped


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def read_results_client(
    uri: str | None = None, experiment: str = schema.EXPERIMENT
) -> ReadReport:
    """Read finished seed runs through MLflow's client (any tracking URI).

    Args:
        uri: Tracking URI (default :func:`benchmark.paths.tracking_uri`).
        experiment: Experiment name.

    Returns:
        The results and the skip counts.
    """
    _quiet_mlflow()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri or default_tracking_uri())
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return ReadReport((), {}, "mlflow-client")
    flt = f"attributes.status = 'FINISHED' and tags.\"{schema.TAG_KIND}\" = 'seed'"
    raw: list[tuple[str, dict, dict, dict, int]] = []
    token: str | None = None
    while True:
        page = client.search_runs([exp.experiment_id], filter_string=flt, max_results=_PAGE,
                                  page_token=token)
        for run in page:
            raw.append((run.info.run_id, dict(run.data.tags), dict(run.data.metrics),
                        dict(run.data.params), run.info.start_time or 0))
        token = page.token
        if not token:
            break
    results, skipped = _parse_all(raw)
    histories: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for r in results:
        for name in schema.CURVES:
            if name in r.metrics:  # only runs that logged the curve are asked for it
                histories.setdefault(r.run_id, {})[name] = [
                    (m.step, m.value) for m in client.get_metric_history(r.run_id, name)]
    return ReadReport(tuple(_with_curves(results, histories)), dict(skipped), "mlflow-client")


def _with_curves(results: list[SeedResult],
                 histories: Mapping[str, Mapping[str, list[tuple[int, float]]]]
                 ) -> list[SeedResult]:
    """Attach each run's learning curves (sorted by step, NaN points dropped)."""
    out = []
    for r in results:
        h = histories.get(r.run_id)
        if h:
            r = dataclasses.replace(r, curves={
                name: tuple(sorted((int(s), float(v)) for s, v in points if v == v))
                for name, points in h.items()})
        out.append(r)
    return out


def sqlite_path(uri: str) -> str | None:
    """The file path of a ``sqlite:///`` URI, or None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///"):]).split("?")[0]
    return path or None


def read_results_sqlite(path: str, experiment: str = schema.EXPERIMENT) -> ReadReport:
    """Read finished seed runs straight from an MLflow SQLite store (read-only).

    Same result as :func:`read_results_client` on the same store; about an order of magnitude
    faster on large stores because no MLflow entity objects are built.

    Args:
        path: Path of the SQLite file.
        experiment: Experiment name.

    Returns:
        The results and the skip counts.
    """
    if not os.path.exists(path):
        return ReadReport((), {}, "sqlite")
    # mode=ro: building a leaderboard must never write to (or create) the store
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'",
            (experiment,),
        ).fetchone()
        if row is None:
            return ReadReport((), {}, "sqlite")
        exp_id = row[0]
        runs_sel = ("SELECT run_uuid FROM runs WHERE experiment_id = ? AND status = 'FINISHED' "
                    "AND lifecycle_stage = 'active'")
        starts = dict(con.execute(
            "SELECT run_uuid, start_time FROM runs WHERE experiment_id = ? "
            "AND status = 'FINISHED' AND lifecycle_stage = 'active'", (exp_id,)))
        tags: dict[str, dict[str, str]] = {r: {} for r in starts}
        for run_id, key, value in con.execute(
            f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({runs_sel})", (exp_id,)
        ):
            tags[run_id][key] = value
        metrics: dict[str, dict[str, float]] = {r: {} for r in starts}
        for run_id, key, value, is_nan in con.execute(
            f"SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE run_uuid IN "
            f"({runs_sel})", (exp_id,)
        ):
            # MLflow stores NaN as value 0 with is_nan set
            metrics[run_id][key] = math.nan if is_nan else float(value)
        params: dict[str, dict[str, str]] = {r: {} for r in starts}
        for run_id, key, value in con.execute(
            f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({runs_sel})", (exp_id,)
        ):
            params[run_id][key] = value
        histories: dict[str, dict[str, list[tuple[int, float]]]] = {}
        marks = ", ".join("?" for _ in schema.CURVES)
        for run_id, key, step, value, is_nan in con.execute(
            f"SELECT run_uuid, key, step, value, is_nan FROM metrics WHERE key IN ({marks}) "
            f"AND run_uuid IN ({runs_sel})", (*schema.CURVES, exp_id)
        ):
            if not is_nan:
                histories.setdefault(run_id, {}).setdefault(key, []).append((step, value))
    finally:
        con.close()
    raw = ((r, tags[r], metrics[r], params[r], starts[r] or 0) for r in starts)
    results, skipped = _parse_all(raw)
    return ReadReport(tuple(_with_curves(results, histories)), dict(skipped), "sqlite")


def read_results(uri: str | None = None, experiment: str = schema.EXPERIMENT,
                 fast: bool = True) -> ReadReport:
    """Read finished seed runs from the store at ``uri`` with the fastest reader that applies.

    Args:
        uri: Tracking URI (default :func:`benchmark.paths.tracking_uri`).
        experiment: Experiment name.
        fast: Use the direct SQLite reader for ``sqlite:///`` URIs (False forces the client).

    Returns:
        The results and the skip counts.
    """
    uri = uri or default_tracking_uri()
    path = sqlite_path(uri)
    if fast and path is not None:
        return read_results_sqlite(path, experiment)
    return read_results_client(uri, experiment)
