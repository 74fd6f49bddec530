"""Where modebench keeps its files. Every location can be overridden by an env variable.

* ``MODEBENCH_DATASETS`` — Minari datasets (default ``./datasets``, tracked by DVC);
* ``MODEBENCH_CACHE`` — pretrained checkpoints and scratch space (default ``./.modebench``);
* ``MLFLOW_TRACKING_URI`` — the results store (default ``sqlite:///./mlflow.db``).
"""

from __future__ import annotations

import os
from pathlib import Path


def datasets_root() -> Path:
    """Root folder of the Minari datasets."""
    return Path(os.environ.get("MODEBENCH_DATASETS", Path.cwd() / "datasets")).resolve()


def cache_root() -> Path:
    """Root folder of caches (pretrained checkpoints, work dirs)."""
    return Path(os.environ.get("MODEBENCH_CACHE", Path.cwd() / ".modebench")).resolve()


def tracking_uri() -> str:
    """The MLflow tracking URI in force."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def artifact_root() -> Path:
    """Where runs' artifacts go when the store is a local SQLite file (next to it)."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).resolve().parent / "mlartifacts"
    return cache_root() / "mlartifacts"
