"""Fixtures of the leaderboard tests: synthetic results in the exact tracking schema.

Results come from :mod:`leaderboard.synthetic` for the real ``avoid`` spec (its current hash,
so they are not stale) and for a made-up second task that only these tests' spec lookup
knows. A real MLflow SQLite store with such runs is built once per module where needed.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from benchmark.registry import get_task
from benchmark.spec import TaskSpec
from leaderboard.compile import MethodCard
from leaderboard.records import SeedResult, result_from_run
from leaderboard.synthetic import DEFAULT_METHODS, log_runs, synthetic_runs


@pytest.fixture(scope="session")
def avoid_spec() -> TaskSpec:
    """The current avoid spec from the registry."""
    return get_task("avoid").spec


@pytest.fixture(scope="session")
def other_spec(avoid_spec: TaskSpec) -> TaskSpec:
    """A second task (same structure, other name and modes subset) known only to the tests."""
    return dataclasses.replace(avoid_spec, name="twin", description="a twin of avoid for tests")


@pytest.fixture(scope="session")
def lookup(avoid_spec: TaskSpec, other_spec: TaskSpec):
    """A spec lookup knowing avoid and twin; anything else is an unknown task."""
    specs = {avoid_spec.id: avoid_spec, other_spec.id: other_spec}

    def _lookup(task_id: str):
        spec = specs.get(task_id)
        return (spec, "") if spec else (None, f"unknown task id {task_id!r}")

    return _lookup


def missing_tool(what: str, reason: str) -> None:
    """Skip a test whose system tool is missing, with the reason, except in CI (``CI`` set),
    where ``.ci/run`` installs the tool and its absence is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} cannot run in CI: {reason}")
    pytest.skip(reason)


def method_lookup(method_id: str) -> MethodCard:
    """A registry stand-in: every method is registered, version 1."""
    return MethodCard(method_id, True, "1", f"the {method_id} method", f"pkg:{method_id}")


def make_results(specs, methods=DEFAULT_METHODS, tiers=("small",), seeds=range(5),
                 seed: int = 0, prefix: str = "r") -> list[SeedResult]:
    """Synthetic seed results (in memory) parsed exactly as the store readers parse runs."""
    return [result_from_run(f"{prefix}{i}", tags, metrics, params, 1_000 + i)
            for i, (tags, metrics, params) in enumerate(
                synthetic_runs(specs, methods, tiers, seeds, seed=seed))]


@pytest.fixture
def results(avoid_spec, other_spec) -> list[SeedResult]:
    """4 methods x 2 tasks x 5 seeds at tier small, plus avoid at tier smoke."""
    return (make_results([avoid_spec, other_spec])
            + make_results([avoid_spec], tiers=("smoke",), seeds=range(3), prefix="s"))


def new_store(path: Path):
    """A fresh MLflow SQLite store at ``path``; returns (uri, client, experiment id)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("modebench",
                                   artifact_location=(path.parent / "artifacts").as_uri())
    return uri, client, exp


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """A real MLflow store with 3 methods x avoid x 3 seeds (FINISHED) plus noise runs.

    Noise: one FAILED seed run, one group run, one seed run missing a required tag, one with
    a corrupt JSON tag, and one deleted run; none of them may reach the leaderboard.
    """
    spec = get_task("avoid").spec
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    uri, client, exp = new_store(path)
    good = log_runs(client, exp, synthetic_runs([spec], DEFAULT_METHODS[:3], seeds=range(3)))
    tags, metrics, params = next(iter(synthetic_runs([spec], DEFAULT_METHODS[3:], seeds=[0])))
    log_runs(client, exp, iter([(tags, metrics, params)]), status="FAILED")
    log_runs(client, exp, iter([({**tags, "modebench.kind": "group"}, metrics, params)]))
    missing = {k: v for k, v in tags.items() if k != "modebench.git_commit"}
    log_runs(client, exp, iter([(missing, metrics, params)]))
    log_runs(client, exp, iter([({**tags, "modebench.versions": "{not json"}, metrics, params)]))
    deleted = log_runs(client, exp, iter([(tags, metrics, params)]))
    client.delete_run(deleted[0])
    return {"uri": uri, "path": path, "client": client, "exp": exp, "good": good, "spec": spec}
