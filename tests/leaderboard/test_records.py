"""Reading seed runs from a real MLflow SQLite store: both readers, filtering, parsing."""

from __future__ import annotations

import math

import pytest

from benchmark import schema
from leaderboard.records import (
    MalformedRunError,
    read_results,
    read_results_client,
    read_results_sqlite,
    result_from_run,
    sqlite_path,
)


def test_readers_agree_and_filter_noise(store):
    fast = read_results_sqlite(str(store["path"]))
    slow = read_results_client(store["uri"])
    assert fast.reader == "sqlite" and slow.reader == "mlflow-client"
    # only the 9 FINISHED, complete seed runs: FAILED, group, deleted runs never count
    assert sorted(r.run_id for r in fast.results) == sorted(store["good"])
    assert {r.run_id: r for r in fast.results} == {r.run_id: r for r in slow.results}
    # the run missing a required tag and the one with corrupt JSON are counted, not fatal
    assert sum(fast.skipped.values()) == 2 and fast.skipped == slow.skipped
    assert any("missing required tags" in k for k in fast.skipped)
    assert any(schema.TAG_VERSIONS in k for k in fast.skipped)


def test_parsed_fields(store):
    r = next(iter(read_results(store["uri"]).results))
    assert r.task == store["spec"].id and r.tier == "small" and isinstance(r.seed, int)
    assert r.spec_hash == store["spec"].hash()
    assert set(r.perturbations) == {p.name for p in store["spec"].perturbations}
    assert 0.0 <= r.metric("success_rate") <= 1.0
    assert r.metric("success_rate", "obs_noise_0.1") == r.metrics["success_rate/obs_noise_0.1"]
    assert math.isnan(r.metric("no_such_metric"))
    assert sum(r.nominal_distribution().values()) >= 0
    assert r.versions["torch"] == "2.13.0"


def test_missing_store_reads_empty(tmp_path):
    rep = read_results(f"sqlite:///{tmp_path / 'none.db'}")
    assert rep.results == () and not (tmp_path / "none.db").exists()  # never creates a store


def test_sqlite_path():
    assert sqlite_path("sqlite:////tmp/x/mlflow.db") == "/tmp/x/mlflow.db"
    assert sqlite_path("sqlite:///rel.db") == "rel.db"
    assert sqlite_path("http://mlflow:5000") is None


@pytest.mark.parametrize("tag,value,match", [
    (schema.TAG_SEED, "one", "is not an integer"),
    (schema.TAG_MODE_DISTRIBUTION, '{"nominal": {"LLL": -2}}', "whole number"),
    (schema.TAG_MODE_DISTRIBUTION, '{"nominal": {"LLL": 2, "RRR": true}}', "whole number"),
    (schema.TAG_MODE_DISTRIBUTION, '{"nominal": {"LLL": 2, "RRR": "3"}}', "whole number"),
    (schema.TAG_MODE_DISTRIBUTION, '{"nominal": {"LLL": 2.5}}', "whole number"),
    (schema.TAG_MODE_DISTRIBUTION, "[1, 2]", "JSON object"),
    (schema.TAG_PERTURBATIONS, '{"a": 1}', "JSON list"),
    (schema.TAG_KIND, "group", "is not 'seed'"),
])
def test_malformed_tags_named(store, tag, value, match):
    r = next(iter(read_results(store["uri"]).results))
    tags = {schema.TAG_KIND: "seed", schema.TAG_METHOD: r.method, schema.TAG_TASK: r.task,
            schema.TAG_SPEC_HASH: "x", schema.TAG_DATASET_HASH: "y", schema.TAG_TIER: "small",
            schema.TAG_SEED: "0", schema.TAG_GIT_COMMIT: "abc", schema.TAG_VERSIONS: "{}"}
    tags[tag] = value
    with pytest.raises(MalformedRunError, match=match):
        result_from_run("id", tags, {})


def test_bulk_inserted_runs_read_by_mlflow_client(tmp_path, avoid_spec):
    from leaderboard.synthetic import DEFAULT_METHODS, bulk_insert_sqlite, synthetic_runs
    from tests.leaderboard.conftest import new_store

    uri, client, exp = new_store(tmp_path / "bulk.db")
    ids = bulk_insert_sqlite(str(tmp_path / "bulk.db"), exp,
                             synthetic_runs([avoid_spec], DEFAULT_METHODS[:2], seeds=range(3)))
    slow = read_results_client(uri)
    fast = read_results_sqlite(str(tmp_path / "bulk.db"))
    assert sorted(r.run_id for r in slow.results) == sorted(ids)
    assert {r.run_id: r for r in slow.results} == {r.run_id: r for r in fast.results}
    run = client.get_run(ids[0])
    assert run.info.status == "FINISHED" and "success_rate" in run.data.metrics
