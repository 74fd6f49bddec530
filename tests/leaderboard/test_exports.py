"""LaTeX / Markdown / CSV exports: structure, escaping, bold best values, round trip."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

import pytest

from leaderboard.compile import METRICS, compile_leaderboard
from leaderboard.exports import (
    best_values,
    latex_escape,
    markdown_escape,
    spreadsheet_safe,
    to_csv,
    to_latex,
    to_markdown,
)
from tests.leaderboard.conftest import method_lookup

NASTY = r"a_b&c%d$e#f{g}h~i^j\k<l>|m"


@pytest.fixture
def lb(results, lookup):
    nasty = [dataclasses.replace(r, method=NASTY, run_id="n" + r.run_id)
             for r in results if r.method == "bc"]
    lb = compile_leaderboard(results + nasty, lookup, method_lookup)
    return dataclasses.replace(lb, built_at="2026-01-01 00:00 UTC")


def _strip_escaped_braces(tex: str) -> str:
    return tex.replace(r"\{", "").replace(r"\}", "")


def _check_latex(tex: str) -> tuple[list[str], list[str]]:
    """Balanced braces, matching environments, as many cells per row as columns; returns
    the environments opened and the data rows."""
    body = _strip_escaped_braces("\n".join(line for line in tex.splitlines()
                                           if not line.startswith("%")))
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    begins = re.findall(r"\\begin\{(\w+\*?)\}", body)
    assert sorted(begins) == sorted(re.findall(r"\\end\{(\w+\*?)\}", body))
    rows = []
    for table in re.split(r"\\begin\{tabular\}", tex)[1:]:
        spec = re.match(r"\{(\w+)\}", table).group(1)
        body_rows = [line for line in table.split(r"\end{tabular}")[0].splitlines()
                     if line.endswith(r"\\")]
        assert body_rows and all(len(re.split(r"(?<!\\)&", r)) == len(spec)
                                 for r in body_rows)
        rows += body_rows
    return begins, rows


@pytest.mark.parametrize("key", ["success", "mode_count"])
def test_one_metric_latex_table_is_methods_by_tasks(lb, key):
    """Issue 17: the full table is too wide for one column; one metric as methods x tasks
    fits, with the best per task in bold."""
    from leaderboard.exports import to_latex_metric

    tex = to_latex_metric(lb, key)
    begins, rows = _check_latex(tex)
    assert begins == ["table", "tabular"] * len(lb.tiers)
    for tb in lb.tiers:
        header = next(line for line in tex.splitlines() if line.startswith("Method & "))
        assert all(latex_escape(t.task) in header for t in tb.tasks)
    n_methods = sum(len({g.label for t in tb.tasks for g in t.rows}) for tb in lb.tiers)
    assert len(rows) == n_methods + len(lb.tiers)  # + one header row per tier
    assert r"\textbf{" in tex
    with pytest.raises(KeyError):
        to_latex_metric(lb, "no_such_metric")


def test_wide_latex_spans_both_columns_scaled_to_the_text_width(lb):
    tex = to_latex(lb, wide=True)
    begins, _ = _check_latex(tex)
    assert begins == ["table*", "tabular"] * len(lb.tiers)
    assert tex.count(r"\resizebox{\textwidth}{!}{%") == len(lb.tiers)


def test_latex_structure(lb):
    tex = to_latex(lb)
    begins, rows = _check_latex(tex)  # braces, environments, cells per row
    assert begins == ["table", "tabular"] * len(lb.tiers)
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == len(lb.tiers)
    assert rows


def test_latex_escapes_specials(lb):
    tex = to_latex(lb)
    assert latex_escape(NASTY) in tex
    assert NASTY not in tex
    assert latex_escape("50% a_b") == r"50\% a\_b"
    assert latex_escape("\\{}") == r"\textbackslash{}\{\}"  # one pass: no double escaping


def test_best_value_bold_per_task(lb):
    tex = to_latex(lb)
    for tb in lb.tiers:
        for task in tb.tasks:
            best = max(g.cells["success"].value for g in task.rows)
            assert rf"\textbf{{{best:.2f}}}" in tex
    md = to_markdown(lb)
    assert md.count("**") >= 2 * len(lb.tiers)


def test_markdown_escapes_and_shape(lb):
    md = to_markdown(lb)
    assert markdown_escape(NASTY) in md
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    # unescaped pipes per line: the same for every line of the table
    counts = {len(re.findall(r"(?<!\\)\|", line)) for line in table_lines}
    assert counts == {len(METRICS) + 4}  # | tier-task | method | n | one per metric |


def test_csv_round_trip(lb):
    rows = list(csv.DictReader(io.StringIO(to_csv(lb))))
    assert len(rows) == sum(1 for _ in lb.groups())
    first = next(iter(lb.groups()))
    row = next(r for r in rows if r["method"] == first.label and r["task"] == first.task
               and r["tier"] == first.tier)
    assert float(row["success"]) == pytest.approx(first.cells["success"].value, rel=1e-5)
    assert float(row["success_ci_low"]) == pytest.approx(first.cells["success"].ci_low, rel=1e-5)
    assert int(row["n_seeds"]) == first.n_seeds
    assert any(r["method"] == NASTY for r in rows)  # csv module quotes, no mangling


def test_csv_cells_cannot_run_as_spreadsheet_formulas(results, lookup):
    """Issue 11: a method label such as ``=HYPERLINK(...)`` was written raw."""
    formula = '=HYPERLINK("http://example.invalid","x")'
    hostile = [dataclasses.replace(r, method=formula, run_id="f" + r.run_id) for r in results
               if r.method == "bc"]
    rows = list(csv.DictReader(io.StringIO(to_csv(
        compile_leaderboard(results + hostile, lookup, method_lookup)))))
    assert any(r["method"] == "'" + formula for r in rows)
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    # negative numbers stay numbers
    assert spreadsheet_safe("-0.31") == "-0.31" and spreadsheet_safe("-cmd") == "'-cmd"


def test_one_seed_rows_have_no_stability(results, lookup):
    """Issue 11: one-seed rows showed stability 1.00 [1.00, 1.00] in bold as the best."""
    one = [r for r in results if r.seed == 0]
    lb = compile_leaderboard(one, lookup, method_lookup)
    assert all(g.cells["mode_stability"] is None for g in lb.groups())
    assert "mode_stability" not in best_values(list(lb.groups()))
    for row in csv.DictReader(io.StringIO(to_csv(lb))):
        assert row["mode_stability"] == ""


def test_latex_escape_leaves_no_character_pdflatex_cannot_typeset():
    text = latex_escape("H(π) ≥ 0.8 × 2 — β λ ½ 東 é_&%")
    assert text == ("H(\\ensuremath{\\pi}) \\ensuremath{\\geq} 0.8 \\ensuremath{\\times} 2 --- "
                    "\\ensuremath{\\beta} \\ensuremath{\\lambda} \\ensuremath{\\tfrac12} "
                    "[U+6771] é\\_\\&\\%")
    assert all(ord(c) <= 0xFF for c in text)


def test_latex_heads_are_plain_latex(lb):
    """H(π) is typeset as $H(\\pi)$: pdflatex stops at a bare unicode π."""
    tex = to_latex(lb)
    assert "$H(\\pi)$" in tex and "π" not in tex and "SRM" in tex and "mc@0.8" in tex


def test_rounding_is_half_up_from_the_printed_decimal():
    """0.985 printed 0.98 (binary float) while 0.885 printed 0.89."""
    from leaderboard.exports import fmt

    assert fmt("success", 0.985) == "0.99" and fmt("success", 0.885) == "0.89"
    assert fmt("mode_count", 2.25) == "2.3" and fmt("success", -0.0) == "0.00"


def test_intervals_over_fewer_than_three_seeds_are_not_printed(results, lookup):
    two = [r for r in results if r.seed < 2]
    lb = compile_leaderboard(two, lookup, method_lookup)
    md = to_markdown(lb)
    body = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(body) > 1 and "(n<3)" in md
    assert not any(" [" in cell for line in body[1:] for cell in line.split("|"))
    tex = to_latex(lb)
    assert "\\scriptsize[" not in tex


def test_captions_carry_seeds_episodes_budget_and_commit(lb):
    tex, md = to_latex(lb), to_markdown(lb)
    for text in (tex, md):
        assert "seeds 0-4" in text and "evaluation episodes per seed" in text
        assert "pretraining steps" in text and "commit(s)" in text


def test_the_per_seed_csv_is_the_runs_by_tasks_matrix(lb, results):
    from leaderboard.exports import to_seed_csv

    rows = list(csv.DictReader(io.StringIO(to_seed_csv(lb))))
    assert len(rows) == sum(g.n_seeds for g in lb.groups())
    first = next(r for r in results if r.method == "dppo")
    row = next(x for x in rows if x["run_id"] == first.run_id)
    assert float(row["success_rate"]) == pytest.approx(first.metrics["success_rate"], rel=1e-5)
    assert row["task"] == first.task and int(row["seed"]) == first.seed


def test_the_mode_csv_sums_each_rows_distribution_over_its_seeds(lb):
    """Issue 17: per-mode distributions were only in the site's plots (no download)."""
    from collections import Counter

    from leaderboard.exports import to_mode_csv

    rows = list(csv.DictReader(io.StringIO(to_mode_csv(lb))))
    for g in lb.groups():
        for level in ("nominal", "pretrained"):
            want: Counter = Counter()
            for r in g.results:
                want.update(r.pretrain_mode_distribution or {} if level == "pretrained"
                            else r.mode_distribution.get(level, {}))
            got = {x["mode"]: x for x in rows if x["method"] == g.label
                   and x["task"] == g.task and x["tier"] == g.tier and x["level"] == level}
            assert {m: int(x["successes"]) for m, x in got.items()} == dict(want), g.label
            total = sum(want.values())
            for m, x in got.items():
                assert float(x["share"]) == pytest.approx(want[m] / total, rel=1e-5)
                assert int(x["seeds_with_mode"]) == sum(
                    1 for r in g.results if (r.pretrain_mode_distribution or {} if
                                             level == "pretrained" else
                                             r.mode_distribution.get(level, {})).get(m))
