"""``bench leaderboard build`` and ``bench results export|import|schema`` end to end."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from benchmark.cli import app
from leaderboard.records import read_results
from tests.leaderboard.conftest import new_store

runner = CliRunner()


def _text(res) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(res.output.split())


def test_build_export_import(store, tmp_path):
    out = tmp_path / "site"
    res = runner.invoke(app, ["leaderboard", "build", "--out", str(out),
                              "--tracking-uri", store["uri"]])
    assert res.exit_code == 0, res.output
    assert "9 current" in _text(res) and (out / "index.html").is_file()
    assert "2 unreadable" in _text(res)

    res = runner.invoke(app, ["results", "export", "--all", "--tracking-uri", store["uri"]])
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 9 and all(json.loads(x)["format_version"] == 2 for x in lines)
    bundle = tmp_path / "b.jsonl"
    bundle.write_text("\n".join(lines) + "\n")

    uri, _, _ = new_store(tmp_path / "other.db")
    res = runner.invoke(app, ["results", "import", str(bundle), "--tracking-uri", uri])
    assert res.exit_code == 0 and "imported 9 seed run(s) as bundle:b.jsonl" in _text(res)
    res = runner.invoke(app, ["leaderboard", "build", "--out", str(tmp_path / "s2"),
                              "--tracking-uri", uri, "--mlflow-client"])
    assert res.exit_code == 0 and "9 current" in _text(res)
    assert (tmp_path / "s2" / "leaderboard.csv").read_text() == \
        (out / "leaderboard.csv").read_text()


def test_compare_chooses_the_probability_of_improvement_rows(store, tmp_path):
    methods = sorted({r.method for r in read_results(store["uri"]).results})
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["leaderboard", "build", "--out", str(out), "--tracking-uri",
                              store["uri"], "--compare", f"{methods[1]},{methods[0]}"])
    assert res.exit_code == 0, res.output
    index = (out / "index.html").read_text()
    assert "the ones chosen with --compare" in index
    assert "Probability of improvement (mode entropy" in index
    res = runner.invoke(app, ["leaderboard", "build", "--out", str(tmp_path / "x"),
                              "--tracking-uri", store["uri"], "--compare", "nope"])
    assert res.exit_code == 2 and "'nope'" in _text(res) and methods[0] in _text(res)
    assert not (tmp_path / "x" / "index.html").exists()


def test_exit_codes(store, tmp_path):
    res = runner.invoke(app, ["results", "export", "--tracking-uri", store["uri"]])
    assert res.exit_code == 2 and "--all" in _text(res)
    res = runner.invoke(app, ["results", "export", "nope", "--tracking-uri", store["uri"]])
    assert res.exit_code == 2 and "nope" in _text(res)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "modebench-results"}\n')
    res = runner.invoke(app, ["results", "import", str(bad)])
    assert res.exit_code == 3 and "line 1: field format_version" in _text(res)
    afile = tmp_path / "file"
    afile.write_text("x")
    res = runner.invoke(app, ["leaderboard", "build", "--out", str(afile)])
    assert res.exit_code == 1 and "not a folder" in _text(res)


def test_schema_command():
    res = runner.invoke(app, ["results", "schema"])
    assert res.exit_code == 0 and json.loads(res.stdout)["title"] == "BundleRecord"


def test_figures_option_refuses_bad_input_before_building(store, tmp_path, monkeypatch):
    out = tmp_path / "site"
    res = runner.invoke(app, ["leaderboard", "build", "--out", str(out), "--figures", "eps",
                              "--tracking-uri", store["uri"]])
    assert res.exit_code == 2 and "unknown format" in res.output
    monkeypatch.setenv("MODEBENCH_CHROMIUM", str(tmp_path / "no-such-browser"))
    res = runner.invoke(app, ["leaderboard", "build", "--out", str(out), "--figures", "pdf",
                              "--tracking-uri", store["uri"]])
    assert res.exit_code == 2 and "headless Chromium" in res.output
    assert not out.exists()  # refused before any work
