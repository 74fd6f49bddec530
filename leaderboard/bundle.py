"""Result bundles: seed results as JSON lines, for sharing results between stores.

``bench results export RUN_IDS... | --all > bundle.jsonl`` writes one finished seed run per
line; ``bench results import bundle.jsonl`` validates the whole file and logs every line as a
FINISHED MLflow run tagged ``modebench.source = bundle:<file name>``, so the leaderboard reads
one place. Bundles are plain JSON (no pickles): they hold results, learning curves and
provenance, not episodes or checkpoints.

Format (``format_version`` 2; version-1 bundles, which have no ``curves``, still import).
Every line is one JSON object with exactly these fields:

============================  ======================================================================
field                         meaning
============================  ======================================================================
``format``                    always ``"modebench-results"``
``format_version``            ``1``
``run_id``                    the run's id in the exporting store (unique within a bundle)
``task``                      versioned task id, ``"avoid-v0"``
``task_family``               task family, ``"avoid"`` (must match ``task``; may be ``""``)
``method``                    method id
``method_version``            the adapter's version (may be ``""``)
``tier``                      ``"smoke"``, ``"small"`` or ``"paper"``
``seed``                      training seed, integer >= 0
``spec_hash``                 hash of the task spec the run was made with
``dataset_hash``              content hash of the training dataset
``config_hash``               hash of the method config (may be ``""``)
``git_commit``                commit of the code that made the run
``versions``                  ``{package: version}``, at least one entry
``command``                   the CLI command reproducing the run (may be ``""``)
``perturbations``             level names evaluated, unique, including ``"nominal"``
``mode``                      BMD's forced latent mode, ``""`` = sampled
``options``                   ``{key: value as text}``: ``-o`` overrides (optional; ``{}`` =
                              the method's defaults)
``unit``                      sweep unit key (may be ``""``)
``start_time``                ms since the epoch (0 = unknown)
``metrics``                   ``{name: finite number}``; ``success_rate`` required; per-level
                              values as ``"<name>/<level>"`` with ``<level>`` in ``perturbations``;
                              rates (success, SRM, mc@0.8, entropy, retention, stability,
                              robustness, purity, NMI) in [0, 1], mode counts >= 0
``params``                    ``{name: string}`` (the method config as logged)
``mode_distribution``         ``{level: {mode label: count}}``, levels in ``perturbations``,
                              counts integers >= 0
``pretrain_mode_distribution`` ``{mode label: count}`` or ``null``
``lock_hash``, ``lock_drift``  optional: the requirements.lock hash and the packages installed
                              in other versions than locked
``latent_counts``             optional (mode-selectable methods): ``{z: {mode label: count}}`` of
                              the successful episodes with each latent z forced
``curves``                    optional (fine-tuners, version 2): learning curves,
                              ``{name: [[iteration, value], ...]}`` with iterations whole numbers
                              >= 0, unique and increasing, and finite values
============================  ======================================================================

A bundle that fails validation is refused as a whole, with one message per problem naming
the line and the field; nothing is imported. Lines already imported (same original run id)
or runs already in the store are skipped, so importing twice changes nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from benchmark import schema
from benchmark.errors import BenchError, UnknownIdError
from benchmark.paths import tracking_uri as default_tracking_uri
from benchmark.progress import SILENT, Progress
from benchmark.spec import TIERS
from leaderboard.records import (
    TAG_BUNDLE_RUN_ID,
    TAG_SOURCE,
    SeedResult,
    read_results,
    result_from_run,
    sqlite_path,
)

FORMAT = "modebench-results"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 had no ``curves``
_RATES = {schema.SUCCESS_RATE, schema.MODE_ENTROPY, schema.MODE_RETENTION,
          schema.MODE_STABILITY, schema.ROBUSTNESS, schema.SRM, schema.MODES_COVERED,
          schema.SUCCESS_WILSON_LOW, schema.SUCCESS_WILSON_HIGH, schema.LATENT_PURITY,
          schema.LATENT_NMI, schema.LATENT_SRM, schema.LATENT_MODES_COVERED,
          schema.CHECKPOINT_STABILITY, schema.OFF_SUPPORT}
_COUNTS = {schema.MODE_COUNT}
_TASK_ID = re.compile(r"^(?P<family>[A-Za-z0-9][A-Za-z0-9._-]*)-v(?P<version>\d+)$")
_MAX_ERRORS = 20


class BundleError(BenchError):
    """A results bundle that cannot be read or imported (exit code 3: bad data)."""

    exit_code = 3


class BundleRecord(BaseModel):
    """One line of a bundle: one finished seed run (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    format: Literal["modebench-results"]
    format_version: int
    run_id: str = Field(min_length=1, max_length=64)
    task: str = Field(min_length=1, max_length=200)
    task_family: str = Field(max_length=200)
    method: str = Field(min_length=1, max_length=200)
    method_version: str = Field(max_length=200)
    tier: str
    seed: int = Field(ge=0)
    spec_hash: str = Field(min_length=1, max_length=128)
    dataset_hash: str = Field(min_length=1, max_length=128)
    config_hash: str = Field(max_length=128)
    git_commit: str = Field(min_length=1, max_length=128)
    versions: dict[str, str] = Field(min_length=1)
    command: str = Field(max_length=4000)
    perturbations: list[str] = Field(min_length=1)
    mode: str = Field(max_length=200)
    options: dict[str, str] = Field(default_factory=dict)
    unit: str = Field(max_length=500)
    start_time: int = Field(ge=0)
    metrics: dict[str, float]
    params: dict[str, str]
    mode_distribution: dict[str, dict[str, int]]
    pretrain_mode_distribution: dict[str, int] | None
    latent_counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    lock_hash: str = Field(default="", max_length=64)
    lock_drift: list[str] = Field(default_factory=list)
    curves: dict[str, list[list[float]]] = Field(default_factory=dict)

    @field_validator("format_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v not in READABLE_VERSIONS:
            raise ValueError(f"this modebench reads format_version "
                             f"{' or '.join(map(str, READABLE_VERSIONS))}, got {v}"
                             + (" (a newer modebench wrote it)" if v > FORMAT_VERSION else ""))
        return v

    @field_validator("tier")
    @classmethod
    def _tier(cls, v: str) -> str:
        if v not in TIERS:
            raise ValueError(f"unknown tier {v!r}; known: {', '.join(TIERS)}")
        return v

    @field_validator("task")
    @classmethod
    def _task(cls, v: str) -> str:
        if not _TASK_ID.match(v):
            raise ValueError(f"{v!r} is not a versioned task id like 'avoid-v0'")
        return v

    @field_validator("perturbations")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("level names must be unique")
        if "nominal" not in v:
            raise ValueError("must include the 'nominal' level")
        if any(not name or "/" in name for name in v):
            raise ValueError("level names must be non-empty and contain no '/'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> BundleRecord:
        family = _TASK_ID.match(self.task)
        if self.task_family and family and family["family"] != self.task_family:
            raise _FieldError("task_family", f"{self.task_family!r} does not match task "
                                             f"{self.task!r}")
        if schema.SUCCESS_RATE not in self.metrics:
            raise _FieldError(f"metrics.{schema.SUCCESS_RATE}", "missing (required)")
        levels = set(self.perturbations)
        for name, value in self.metrics.items():
            base, _, level = name.partition("/")
            if not base:
                raise _FieldError(f"metrics.{name}", "empty metric name")
            if level and level not in levels:
                raise _FieldError(f"metrics.{name}",
                                  f"level {level!r} is not in perturbations")
            if base in _RATES and not 0.0 <= value <= 1.0:
                raise _FieldError(f"metrics.{name}", f"{value} is outside [0, 1]")
            if base in _COUNTS and value < 0:
                raise _FieldError(f"metrics.{name}", f"{value} is negative")
        for level, counts in self.mode_distribution.items():
            if level not in levels:
                raise _FieldError(f"mode_distribution.{level}",
                                  f"level {level!r} is not in perturbations")
            for label, c in counts.items():
                if c < 0:
                    raise _FieldError(f"mode_distribution.{level}.{label}", f"count {c} < 0")
        for label, c in (self.pretrain_mode_distribution or {}).items():
            if c < 0:
                raise _FieldError(f"pretrain_mode_distribution.{label}", f"count {c} < 0")
        for z, counts in self.latent_counts.items():
            for label, c in counts.items():
                if c < 0:
                    raise _FieldError(f"latent_counts.{z}.{label}", f"count {c} < 0")
        if self.curves and self.format_version < 2:
            raise _FieldError("curves", "not part of format_version 1")
        for name, points in self.curves.items():
            _check_curve(name, points)
        return self


def _check_curve(name: str, points: list[list[float]]) -> None:
    """A curve is ``[[iteration, value], ...]``: whole iterations >= 0, strictly increasing."""
    if not name or "/" in name:
        raise _FieldError(f"curves.{name}", "curve names must be non-empty, without '/'")
    last = -1.0
    for i, point in enumerate(points):
        if len(point) != 2:
            raise _FieldError(f"curves.{name}.{i}", "a point is [iteration, value]")
        step = point[0]
        if step != int(step) or step < 0:
            raise _FieldError(f"curves.{name}.{i}", f"iteration {step} is not a whole number "
                                                    ">= 0")
        if step <= last:
            raise _FieldError(f"curves.{name}.{i}", f"iteration {int(step)} does not "
                                                    "increase")
        last = step


class _FieldError(ValueError):
    """A cross-field check that failed; carries the dotted field path for the message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    Attributes:
        imported: New run ids created in the store.
        skipped: Lines skipped because the store already holds them.
        source: The ``modebench.source`` tag given to the new runs.
    """

    imported: tuple[str, ...]
    skipped: int
    source: str


def record_from_result(r: SeedResult) -> dict[str, Any]:
    """The bundle line (as a dict) of a seed result; NaN metrics (undefined) are left out."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_id": r.run_id,
        "task": r.task,
        "task_family": r.task_family,
        "method": r.method,
        "method_version": r.method_version,
        "tier": r.tier,
        "seed": r.seed,
        "spec_hash": r.spec_hash,
        "dataset_hash": r.dataset_hash,
        "config_hash": r.config_hash,
        "git_commit": r.git_commit,
        "versions": dict(r.versions),
        "command": r.command,
        "perturbations": list(r.perturbations) or ["nominal"],
        "mode": r.mode,
        "options": dict(sorted(r.options.items())),
        "unit": r.unit,
        "start_time": r.start_time,
        "metrics": {k: v for k, v in sorted(r.metrics.items()) if math.isfinite(v)},
        "params": dict(sorted(r.params.items())),
        "mode_distribution": {lv: dict(c) for lv, c in r.mode_distribution.items()},
        "pretrain_mode_distribution": (None if r.pretrain_mode_distribution is None
                                       else dict(r.pretrain_mode_distribution)),
        "latent_counts": {z: dict(c) for z, c in r.latent_counts.items()},
        "lock_hash": r.lock_hash,
        "lock_drift": list(r.lock_drift),
        "curves": {name: [[int(s), float(v)] for s, v in points if math.isfinite(v)]
                   for name, points in sorted(r.curves.items())},
    }


def dumps_line(record: dict[str, Any]) -> str:
    """One bundle line: compact, key-sorted, ASCII JSON (``NaN`` is refused)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)


def export_lines(run_ids: Sequence[str] = (), all_runs: bool = False,
                 uri: str | None = None) -> list[str]:
    """Bundle lines of finished seed runs in the store.

    Args:
        run_ids: Runs to export (each must be a finished seed run in the store).
        all_runs: Export every finished seed run instead.
        uri: Tracking URI (default :func:`benchmark.paths.tracking_uri`).

    Returns:
        The lines (without newlines), in start-time order.

    Raises:
        BenchError: Neither ids nor ``all_runs`` given (exit code 2).
        UnknownIdError: A run id that is not a finished seed run in the store.
    """
    if not run_ids and not all_runs:
        raise UnknownIdError("give run ids to export, or --all")
    results = read_results(uri).results
    if run_ids:
        by_id = {r.run_id: r for r in results}
        missing = [i for i in run_ids if i not in by_id]
        if missing:
            raise UnknownIdError(
                f"not finished seed runs in the store: {', '.join(missing)} (only runs with "
                "status FINISHED, modebench.kind = seed and all required tags can be exported)")
        return [dumps_line(record_from_result(by_id[i])) for i in dict.fromkeys(run_ids)]
    return bundle_lines(results)


def bundle_lines(results: Iterable[SeedResult]) -> list[str]:
    """Bundle lines (without newlines) of seed results, in start-time order."""
    return [dumps_line(record_from_result(r))
            for r in sorted(results, key=lambda r: (r.start_time, r.run_id))]


def _pydantic_messages(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _FieldError):
            loc, msg = ctx_err.field, str(ctx_err)
        else:
            msg = err["msg"].removeprefix("Value error, ")
        out.append(f"field {loc or '(record)'}: {msg}")
    return out


def parse_bundle(lines: Iterable[str], name: str = "bundle") -> list[BundleRecord]:
    """Validate every line of a bundle; refuse the whole bundle on any problem.

    Args:
        lines: The file's lines.
        name: File name for messages.

    Returns:
        The records, in file order (blank lines are ignored).

    Raises:
        BundleError: Listing each problem as ``<name> line <n>: field <path>: <message>``
            (up to 20), when any line is not valid JSON, fails the schema, or repeats a
            run id.
    """
    records: list[BundleRecord] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{name} line {n}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{name} line {n}: expected a JSON object, got {type(obj).__name__}")
            continue
        try:
            rec = BundleRecord.model_validate(obj)
        except ValidationError as exc:
            errors.extend(f"{name} line {n}: {m}" for m in _pydantic_messages(exc))
            continue
        if rec.run_id in seen:
            errors.append(f"{name} line {n}: field run_id: {rec.run_id!r} repeats line "
                          f"{seen[rec.run_id]}")
            continue
        seen[rec.run_id] = n
        records.append(rec)
    if errors:
        more = f"\n... and {len(errors) - _MAX_ERRORS} more" if len(errors) > _MAX_ERRORS else ""
        raise BundleError(f"refusing {name} ({len(errors)} problem(s); nothing imported):\n"
                          + "\n".join(errors[:_MAX_ERRORS]) + more)
    if not records:
        raise BundleError(f"refusing {name}: it holds no records")
    return records


def _tags(rec: BundleRecord, source: str) -> dict[str, str]:
    tags = {
        schema.TAG_KIND: "seed",
        schema.TAG_METHOD: rec.method,
        schema.TAG_METHOD_VERSION: rec.method_version,
        schema.TAG_TASK: rec.task,
        schema.TAG_TASK_FAMILY: rec.task_family,
        schema.TAG_SPEC_HASH: rec.spec_hash,
        schema.TAG_DATASET_HASH: rec.dataset_hash,
        schema.TAG_CONFIG_HASH: rec.config_hash,
        schema.TAG_TIER: rec.tier,
        schema.TAG_SEED: str(rec.seed),
        schema.TAG_GIT_COMMIT: rec.git_commit,
        schema.TAG_VERSIONS: json.dumps(rec.versions, sort_keys=True),
        schema.TAG_COMMAND: rec.command,
        schema.TAG_PERTURBATIONS: json.dumps(rec.perturbations),
        schema.TAG_MODE: rec.mode,
        schema.TAG_OPTIONS: json.dumps(rec.options, sort_keys=True),
        schema.TAG_UNIT: rec.unit,
        schema.TAG_MODE_DISTRIBUTION: json.dumps(rec.mode_distribution, sort_keys=True),
        TAG_SOURCE: source,
        TAG_BUNDLE_RUN_ID: rec.run_id,
    }
    if rec.pretrain_mode_distribution is not None:
        tags[schema.TAG_PRETRAIN_MODE_DISTRIBUTION] = json.dumps(
            rec.pretrain_mode_distribution, sort_keys=True)
    if rec.latent_counts:
        tags[schema.TAG_LATENT_COUNTS] = json.dumps(rec.latent_counts, sort_keys=True)
    if rec.lock_hash:
        tags[schema.TAG_LOCK_HASH] = rec.lock_hash
        tags[schema.TAG_LOCK_DRIFT] = json.dumps(rec.lock_drift)
    return tags


def import_bundle(path: str | os.PathLike[str], uri: str | None = None,
                  progress: Progress = SILENT) -> ImportReport:
    """Validate a bundle file and log its new records as FINISHED runs in the store.

    All-or-nothing: validation runs over the whole file first; if logging fails half way,
    the runs created so far are deleted again before the error is raised.

    Args:
        path: The ``.jsonl`` file.
        uri: Tracking URI (default :func:`benchmark.paths.tracking_uri`).
        progress: Advances per logged run (a 10k-line bundle takes minutes on SQLite).

    Returns:
        What was imported and skipped.

    Raises:
        BundleError: Unreadable file or invalid bundle (nothing imported).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read bundle {path}: {exc}") from exc
    records = parse_bundle(text.splitlines(), path.name)
    # a record must also read back as a leaderboard result (same parser as the store's runs)
    for rec in records:
        result_from_run(rec.run_id, _tags(rec, ""), rec.metrics, rec.params, rec.start_time)
    source = f"bundle:{path.name}"
    uri = uri or default_tracking_uri()
    client = _client(uri)
    existing = read_results(uri).results
    known = {r.run_id for r in existing} | {r.bundle_run_id for r in existing if r.bundle_run_id}
    todo = [rec for rec in records if rec.run_id not in known]
    created: list[str] = []
    try:
        exp = _experiment(client, uri)
        with progress.task(f"import {path.name}", total=len(todo)) as advance:
            _log_records(client, exp, todo, source, created, advance)
    except Exception as exc:
        for rid in created:  # all or nothing
            try:
                client.delete_run(rid)
            except Exception:  # noqa: BLE001 - best effort; the original error matters
                pass
        raise BundleError(f"importing {path.name} failed after {len(created)} run(s), "
                          f"which were removed again: {exc}") from exc
    return ImportReport(tuple(created), len(records) - len(todo), source)


def _log_records(client: Any, exp: str, records: Sequence[BundleRecord], source: str,
                 created: list[str], advance: Any) -> None:
    """Log each record as a FINISHED run, appending run ids to ``created`` as they exist."""
    from mlflow.entities import Metric, Param

    for rec in records:
        run = client.create_run(exp, start_time=rec.start_time or None,
                                tags=_tags(rec, source),
                                run_name=f"{rec.method}/{rec.task}/{rec.tier}/{rec.seed}")
        created.append(run.info.run_id)
        ts = rec.start_time or run.info.start_time
        # a curve's latest value is its last point: log the history, not a second step-0 value
        metrics = [Metric(k, v, ts, 0) for k, v in rec.metrics.items()
                   if not rec.curves.get(k)]
        metrics += [Metric(name, float(v), ts, int(step))
                    for name, points in rec.curves.items() for step, v in points]
        params = [Param(k, v) for k, v in rec.params.items()]
        for i in range(0, max(len(metrics), len(params), 1), 100):
            client.log_batch(run.info.run_id, metrics=metrics[i:i + 100],
                             params=params[i:i + 100])
        client.set_terminated(run.info.run_id, status="FINISHED")
        advance(1)


def _client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiment(client: Any, uri: str) -> str:
    """Id of the modebench experiment in ``uri``'s store, created if absent.

    Like :func:`benchmark.tracking.experiment_id`, but for the store at ``uri`` (not only the
    configured one): with a SQLite store, artifacts go next to the database file.
    """
    exp = client.get_experiment_by_name(schema.EXPERIMENT)
    if exp is not None:
        return exp.experiment_id
    location = None
    path = sqlite_path(uri)
    if path is not None:
        location = (Path(path).resolve().parent / "mlartifacts" / schema.EXPERIMENT).as_uri()
    return client.create_experiment(schema.EXPERIMENT, artifact_location=location)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one bundle line (generated from :class:`BundleRecord`)."""
    return BundleRecord.model_json_schema()
