"""Result bundles: schema validation naming line and field, all-or-nothing import, round trip."""

from __future__ import annotations

import io
import json

import pytest

from benchmark.progress import Progress
from leaderboard.bundle import (
    BundleError,
    export_lines,
    import_bundle,
    json_schema,
    parse_bundle,
)
from leaderboard.records import TAG_SOURCE, read_results
from leaderboard.synthetic import log_runs
from tests.leaderboard.conftest import new_store


@pytest.fixture(scope="module")
def lines(store):
    return export_lines(all_runs=True, uri=store["uri"])


def _bad(lines, **changes) -> list[str]:
    rec = json.loads(lines[1])
    for key, value in changes.items():
        *path, last = key.split("__")
        target = rec
        for p in path:
            target = target[p]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return [lines[0], json.dumps(rec)]


@pytest.mark.parametrize("change,field", [
    ({"seed": -1}, "seed"),
    ({"seed": "0"}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"tier": "huge"}, "tier"),
    ({"task": "avoid"}, "task"),
    ({"task_family": "kitchen"}, "task_family"),
    ({"format": "other"}, "format"),
    ({"format_version": 3}, "format_version"),
    ({"curves": {"curve_train_success": [[0, 0.5], [0, 0.6]]}}, "curves.curve_train_success.1"),
    ({"curves": {"curve_train_success": [[1.5, 0.5]]}}, "curves.curve_train_success.0"),
    ({"curves": {"curve_train_success": [[1, 0.5, 2]]}}, "curves.curve_train_success.0"),
    ({"curves": {"curve_train_success": [[-1, 0.5]]}}, "curves.curve_train_success.0"),
    ({"format_version": 1, "curves": {"c": [[0, 0.5]]}}, "curves"),
    ({"versions": KeyError}, "versions"),
    ({"versions": {}}, "versions"),
    ({"git_commit": ""}, "git_commit"),
    ({"surprise": 1}, "surprise"),
    ({"metrics__success_rate": 1.5}, "metrics.success_rate"),
    ({"metrics__success_rate": KeyError}, "metrics.success_rate"),
    ({"metrics__mode_count": -1.0}, "metrics.mode_count"),
    ({"metrics__success_rate/obs_noise_9": 0.5}, "metrics.success_rate/obs_noise_9"),
    ({"metrics__mode_entropy": "high"}, "metrics.mode_entropy"),
    ({"mode_distribution__nominal": {"LLL": -1}}, "mode_distribution.nominal.LLL"),
    ({"mode_distribution__nominal": {"LLL": 0.5}}, "mode_distribution.nominal.LLL"),
    ({"mode_distribution__elsewhere": {"LLL": 1}}, "mode_distribution.elsewhere"),
    ({"perturbations": ["obs_noise_0.1"]}, "perturbations"),
    ({"perturbations": ["nominal", "nominal"]}, "perturbations"),
    ({"pretrain_mode_distribution": {"LLL": -3}}, "pretrain_mode_distribution.LLL"),
    ({"run_id": None}, "run_id"),
])
def test_each_malformed_field_is_named_with_its_line(lines, change, field):
    with pytest.raises(BundleError) as err:
        parse_bundle(_bad(lines, **change), "b.jsonl")
    msg = str(err.value)
    assert f"b.jsonl line 2: field {field}:" in msg, msg
    assert "nothing imported" in msg


def test_json_and_duplicate_errors(lines):
    with pytest.raises(BundleError, match=r"line 2: not valid JSON"):
        parse_bundle([lines[0], "{not json"], "b")
    with pytest.raises(BundleError, match=r"line 2: expected a JSON object"):
        parse_bundle([lines[0], "[1]"], "b")
    with pytest.raises(BundleError, match=r"line 2: field run_id: .* repeats line 1"):
        parse_bundle([lines[0], lines[0]], "b")
    with pytest.raises(BundleError, match="holds no records"):
        parse_bundle(["", "  "], "b")
    with pytest.raises(BundleError) as err:  # every problem is listed, not only the first
        parse_bundle(["{", lines[0], "[]"], "b")
    assert "line 1:" in str(err.value) and "line 3:" in str(err.value)


def test_round_trip_and_idempotent_import(store, lines, tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    uri, client, _ = new_store(tmp_path / "other.db")
    shown = io.StringIO()  # issue 11: a 10k-line import ran for minutes with no progress
    rep = import_bundle(path, uri, Progress(stream=shown, interval=0.0))
    assert len(rep.imported) == len(lines) == len(store["good"]) and rep.skipped == 0
    assert f"[done ] import results.jsonl: {len(lines)}/{len(lines)}" in shown.getvalue()
    imported = read_results(uri).results
    assert {r.source for r in imported} == {"bundle:results.jsonl"}
    assert all(client.get_run(r.run_id).data.tags[TAG_SOURCE] == "bundle:results.jsonl"
               for r in imported[:2])
    original = {r.run_id: r for r in read_results(store["uri"]).results}
    for r in imported:
        o = original[r.bundle_run_id]
        assert (r.task, r.method, r.tier, r.seed, r.spec_hash, r.dataset_hash, r.versions,
                r.command, r.metrics, r.params, r.mode_distribution,
                r.pretrain_mode_distribution) == (
            o.task, o.method, o.tier, o.seed, o.spec_hash, o.dataset_hash, o.versions,
            o.command, o.metrics, o.params, o.mode_distribution, o.pretrain_mode_distribution)
    # the re-export of the imported store holds the same records (ids and times aside)
    again = [json.loads(x) for x in export_lines(all_runs=True, uri=uri)]
    first = {json.loads(x)["run_id"]: json.loads(x) for x in lines}
    strip = ("run_id", "start_time")
    for rec in again:
        src = next(r for r in imported if r.run_id == rec["run_id"]).bundle_run_id
        assert {k: v for k, v in rec.items() if k not in strip} == \
            {k: v for k, v in first[src].items() if k not in strip}
    rep2 = import_bundle(path, uri)  # importing twice changes nothing
    assert rep2.imported == () and rep2.skipped == len(lines)
    assert len(read_results(uri).results) == len(lines)


def test_options_travel_with_a_run_and_older_lines_without_them_import(lines, tmp_path):
    with_opts = json.loads(lines[0])
    with_opts["options"] = {"alpha": "0.2"}
    without = json.loads(lines[1])
    without.pop("options", None)  # a line written before the field existed
    path = tmp_path / "opts.jsonl"
    path.write_text(json.dumps(with_opts) + "\n" + json.dumps(without) + "\n")
    uri, _, _ = new_store(tmp_path / "opts.db")
    import_bundle(path, uri)
    got = {r.bundle_run_id: r.options for r in read_results(uri).results}
    assert got == {with_opts["run_id"]: {"alpha": "0.2"}, without["run_id"]: {}}
    bad = [json.dumps({**with_opts, "options": {"alpha": 0.2}})]  # values are text
    with pytest.raises(BundleError, match="options"):
        parse_bundle(bad, "bad.jsonl")


def test_invalid_bundle_imports_nothing(lines, tmp_path):
    uri, client, exp = new_store(tmp_path / "s.db")
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines[:-1] + _bad(lines, seed=-5)[1:]) + "\n")
    with pytest.raises(BundleError, match=f"line {len(lines)}: field seed"):
        import_bundle(path, uri)
    assert client.search_runs([exp]) == []
    with pytest.raises(BundleError, match="cannot read"):
        import_bundle(tmp_path / "missing.jsonl", uri)


def test_export_unknown_ids(store):
    from benchmark.errors import UnknownIdError

    with pytest.raises(UnknownIdError, match="nope"):
        export_lines(["nope"], uri=store["uri"])
    with pytest.raises(UnknownIdError, match="--all"):
        export_lines(uri=store["uri"])
    one = export_lines([store["good"][0]], uri=store["uri"])
    assert len(one) == 1 and json.loads(one[0])["run_id"] == store["good"][0]


def test_json_schema_documents_fields():
    s = json_schema()
    assert s["additionalProperties"] is False
    assert {"format_version", "metrics", "mode_distribution", "spec_hash"} <= set(s["required"])


def test_learning_curves_travel_with_a_run(store, tmp_path):
    """Issue 17: fine-tuners' learning curves were lost on export (format 1 had no field)."""
    from benchmark import schema, tracking

    rid = store["good"][0]
    curve = ((0, 0.25), (1, 0.5), (3, 0.75))
    uri, client, exp = new_store(tmp_path / "src.db")
    run_ids = log_runs(client, exp, iter([_run_triple(store, rid)]))
    tracking.log_curves(client, run_ids[0], {schema.CURVE_SUCCESS: curve})
    (line,) = export_lines(all_runs=True, uri=uri)
    rec = json.loads(line)
    assert rec["format_version"] == 2
    assert rec["curves"] == {schema.CURVE_SUCCESS: [[0, 0.25], [1, 0.5], [3, 0.75]]}
    path = tmp_path / "c.jsonl"
    path.write_text(line + "\n")
    dst, _, _ = new_store(tmp_path / "dst.db")
    import_bundle(path, dst)
    (got,) = read_results(dst).results
    assert got.curves == {schema.CURVE_SUCCESS: curve}
    assert got.metrics[schema.CURVE_SUCCESS] == 0.75  # the latest point, as in the source
    assert [json.loads(x)["curves"] for x in export_lines(all_runs=True, uri=dst)] == \
        [rec["curves"]]


def test_version_1_lines_still_import(lines, tmp_path):
    old = json.loads(lines[0])
    old["format_version"] = 1
    old.pop("curves")
    path = tmp_path / "v1.jsonl"
    path.write_text(json.dumps(old) + "\n")
    uri, _, _ = new_store(tmp_path / "v1.db")
    assert len(import_bundle(path, uri).imported) == 1


def _run_triple(store, run_id):
    """The (tags, metrics, params) of a store run, as :func:`log_runs` takes them."""
    run = store["client"].get_run(run_id)
    return dict(run.data.tags), dict(run.data.metrics), dict(run.data.params)
