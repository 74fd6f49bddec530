"""Where modebench keeps its files. Every location can be overridden by an env variable.

* ``MODEBENCH_DATASETS`` — Minari datasets (default ``./datasets``, tracked by DVC);
* ``MODEBENCH_CACHE`` — pretrained checkpoints and scratch space (default ``./.modebench``);
* ``MLFLOW_TRACKING_URI`` — the results store (default ``sqlite:///./mlflow.db``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmark.errors import StoreError


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


def writable_dir(path: Path, env_var: str) -> Path:
    """Create ``path`` if needed and check that a file can be written in it.

    Args:
        path: The folder.
        env_var: The variable that chooses it (named in the message).

    Returns:
        ``path``.

    Raises:
        StoreError: The folder cannot be created or written (exit code 3), naming the fix.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise StoreError(f"cannot write to {path} ({exc.strerror or exc}); make it writable "
                         f"or set {env_var} to a writable folder") from None
    return path
