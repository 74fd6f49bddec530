"""Shared fixtures: every test session works in its own temporary stores.

Datasets are built once per session (``MODEBENCH_DATASETS``), checkpoints and MLflow stores
are per test unless a test shares them on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import benchmark  # noqa: F401  (first, so that it pins numpy's BLAS kernel: benchmark/blas.py)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(scope="session", autouse=True)
def _session_datasets(tmp_path_factory: pytest.TempPathFactory):
    """One datasets folder for the whole session: built datasets are reused across tests."""
    root = tmp_path_factory.mktemp("datasets")
    old = os.environ.get("MODEBENCH_DATASETS")
    os.environ["MODEBENCH_DATASETS"] = str(root)
    yield root
    if old is None:
        os.environ.pop("MODEBENCH_DATASETS", None)
    else:
        os.environ["MODEBENCH_DATASETS"] = old


@pytest.fixture(autouse=True)
def _isolated_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private checkpoint cache and MLflow store for each test."""
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield


@pytest.fixture(scope="session")
def avoid_dataset(_session_datasets):
    """The avoid task's dataset, built once per session."""
    from benchmark.datasets import ensure_dataset
    from benchmark.registry import get_task

    return ensure_dataset(get_task("avoid"))
