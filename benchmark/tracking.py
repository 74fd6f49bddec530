"""MLflow tracking in the schema of :mod:`benchmark.schema`.

The store is :func:`benchmark.paths.tracking_uri` (a local SQLite file unless
``MLFLOW_TRACKING_URI`` says otherwise). Telemetry is off unless the user set
``MLFLOW_DISABLE_TELEMETRY=false``. Metrics, params and tags go in one ``log_batch`` per run
(a single ``log_metric`` costs ~5 ms). A run that raised is marked FAILED (or KILLED on
Ctrl-C), never FINISHED, so it never reaches the leaderboard.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark import schema
from benchmark.errors import StoreError
from benchmark.paths import artifact_root, tracking_uri, writable_dir

_MAX_PARAM = 6000  # MLflow's param value limit is 6000 chars
_MAX_TAG = 8000


PROBE_TIMEOUT_S = 5.0
"""How long :func:`client` waits for a remote tracking server's ``/health`` endpoint."""


def _quiet_env() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # "INFO ... Creating initial MLflow database tables" on a user's first run is noise
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # MLflow's defaults (120 s per request, 7 retries with back-off) make an unreachable
    # server look like a hang of many minutes; a benchmark run would rather fail and say so
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")


def check_server(uri: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast when an ``http(s)://`` tracking server does not answer its health check.

    Raises:
        StoreError: No answer within ``timeout`` seconds (exit code 3), saying what to do.
    """
    import urllib.error
    import urllib.request

    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            response.read(64)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StoreError(
            f"the MLflow tracking server at {uri} did not answer within {timeout:g} s "
            f"({reason}); nothing was run or logged. Start the server (`bench ui` serves the "
            "local store), fix MLFLOW_TRACKING_URI, or unset it to use ./mlflow.db"
        ) from None


def client() -> Any:
    """An :class:`mlflow.MlflowClient` on the configured store.

    For a SQLite store the client is created under a file lock next to the database file:
    MLflow creates and migrates the schema (alembic) when it first opens a store, and
    several processes opening a *fresh* store at once (sweep workers, two ``bench evaluate``
    started together) race in that migration ("Online migration expected to match one
    row"). Once the schema exists the lock costs one uncontended ``flock``; concurrent
    writes themselves are serialised by SQLite (MLflow sets ``busy_timeout`` 20 s) and
    :func:`_retrying`.
    """
    _quiet_env()
    import logging

    from mlflow import MlflowClient

    # mlflow may have been imported (and its loggers configured) before _quiet_env ran
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        check_server(uri)
    if uri.startswith("sqlite:///"):
        from filelock import FileLock

        db = Path(uri[len("sqlite:///") :])
        writable_dir(db.parent, "MLFLOW_TRACKING_URI")
        writable_dir(artifact_root(), "MLFLOW_TRACKING_URI")
        with FileLock(str(db) + ".lock"):
            return MlflowClient(tracking_uri=uri)  # resolves the store: schema made here
    return MlflowClient(tracking_uri=uri)


def experiment_id(c: Any, name: str = schema.EXPERIMENT) -> str:
    """Id of the modebench experiment, created (with a local artifact location) if absent."""
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if tracking_uri().startswith("sqlite:"):
        location = (artifact_root() / name).as_uri()
    try:
        return c.create_experiment(name, artifact_location=location)
    except Exception:  # another process created it first
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _retrying(fn: Any, *args: Any, attempts: int = 8, **kwargs: Any) -> Any:
    # SQLite allows one writer at a time; concurrent sweep workers can see "database is
    # locked". Back off and retry rather than lose a result.
    delay = 0.05
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if "locked" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def start_run(
    c: Any,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    run_name: str,
    parent_run_id: str | None = None,
) -> str:
    """Create a RUNNING run with ``tags`` and ``params``; return its id."""
    from mlflow.entities import Param

    from benchmark.interrupts import interrupts_deferred, replay

    exp = experiment_id(c)
    all_tags = dict(tags)
    if parent_run_id:
        all_tags[schema.TAG_PARENT] = parent_run_id
    ps = [Param(k, str(v)[:_MAX_PARAM]) for k, v in params.items()]
    # create_run commits the run before it returns its id: an interrupt in between would
    # leave a RUNNING run that nobody can end, so it waits until the id is known
    with interrupts_deferred() as pending:
        run = _retrying(c.create_run, exp,
                        tags={k: str(v)[:_MAX_TAG] for k, v in all_tags.items()},
                        run_name=run_name)
        run_id = run.info.run_id
    try:
        replay(pending)
        for i in range(0, len(ps), 100):  # MLflow's per-batch param limit
            _retrying(c.log_batch, run_id, params=ps[i : i + 100])
    except BaseException as exc:
        # the run exists now: an interrupt (a sweep's SIGTERM) or an error while its params
        # are written must not leave it RUNNING, since the caller never got its id
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        try:
            end_run(c, run_id, status, f"{type(exc).__name__} while the run was being started")
        except Exception:  # noqa: BLE001 - the original error matters more
            pass
        raise
    return run_id


def log_metrics(c: Any, run_id: str, metrics: Mapping[str, float],
                tags: Mapping[str, str] | None = None) -> None:
    """Log ``metrics`` (NaN values are skipped: MLflow stores them but they read badly)."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    ms = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v]
    ts = [RunTag(k, str(v)[:_MAX_TAG]) for k, v in (tags or {}).items()]
    for i in range(0, max(len(ms), 1), 1000):
        _retrying(c.log_batch, run_id, metrics=ms[i : i + 1000], tags=ts if i == 0 else [])


def log_curves(c: Any, run_id: str, curves: Mapping[str, Sequence[tuple[int, float]]]) -> None:
    """Log learning curves: each ``name`` as an MLflow metric history, one value per step
    (the fine-tuning iteration). NaN points are skipped."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    ms = [Metric(name, float(v), now, int(step)) for name, points in curves.items()
          for step, v in points if v == v]
    for i in range(0, len(ms), 1000):
        _retrying(c.log_batch, run_id, metrics=ms[i : i + 1000])


def log_text_artifact(c: Any, run_id: str, name: str, text: str) -> None:
    """Store ``text`` as artifact ``name`` of the run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        _retrying(c.log_artifact, run_id, str(path))


def episodes_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of per-episode rows (the union of their keys as columns, schema's first)."""
    rows = list(rows)
    cols = list(schema.EPISODE_COLUMNS)
    for r in rows:
        cols.extend(k for k in r if k not in cols)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def end_run(c: Any, run_id: str, status: str = "FINISHED", error: str | None = None) -> None:
    """Terminate a run as FINISHED, FAILED or KILLED (with the error's first line)."""
    if error:
        first = (error.strip().splitlines() or [""])[0]
        _retrying(c.set_tag, run_id, schema.TAG_ERROR, first[:_MAX_TAG])
    _retrying(c.set_terminated, run_id, status=status)


def read_episodes(c: Any, run_id: str) -> list[dict[str, str]]:
    """Per-episode rows of a seed run (from its CSV artifact)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = c.download_artifacts(run_id, schema.EPISODES_ARTIFACT, tmp)
        with open(path, newline="") as f:
            return list(csv.DictReader(f))


def dumps(obj: Any) -> str:
    """Compact, key-sorted JSON for tags."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
