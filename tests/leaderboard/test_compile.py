"""Grouping, de-duplication, stale handling and statistics of the compiled leaderboard."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark import metrics as M
from leaderboard.compile import compile_leaderboard, registry_spec
from tests.leaderboard.conftest import make_results, method_lookup


def _same(a: M.Estimate, b: M.Estimate) -> bool:
    """Equal estimates up to floating-point rounding (the vectorised twins sum differently)."""
    return a.n == b.n and (a.value, a.ci_low, a.ci_high) == pytest.approx(
        (b.value, b.ci_low, b.ci_high), abs=1e-9)


def _compile(results, lookup, compare=()):
    return compile_leaderboard(results, lookup, method_lookup, compare)


def test_groups_by_task_method_tier(results, lookup):
    lb = _compile(results, lookup)
    assert [tb.tier for tb in lb.tiers] == ["small", "smoke"]  # bigger tier first
    small = lb.tiers[0]
    assert [t.task for t in small.tasks] == ["avoid-v0", "twin-v0"]
    for task in small.tasks:
        assert sorted(g.label for g in task.rows) == ["bc", "bmd", "dppo", "entropy-rl"]
        assert all(g.n_seeds == 5 and g.seeds == (0, 1, 2, 3, 4) for g in task.rows)
        successes = [g.cells["success"].value for g in task.rows]
        assert successes == sorted(successes, reverse=True)  # best first
    assert all(g.n_seeds == 3 for g in lb.tiers[1].tasks[0].rows)
    assert lb.n_results == lb.n_current == len(results) and not lb.stale
    assert set(lb.methods) == {"bc", "bmd", "dppo", "entropy-rl"}


def test_cells_match_metrics_module(results, lookup):
    lb = _compile(results, lookup)
    g = next(g for g in lb.groups() if g.label == "dppo" and g.tier == "small")
    per_seed = np.array([r.metrics["success_rate"] for r in g.results])
    assert _same(g.cells["success"], M.bootstrap_ci(per_seed))
    ent = np.array([r.metrics["mode_entropy"] for r in g.results])
    assert _same(g.cells["mode_entropy"], M.bootstrap_ci(ent))
    dists = [r.mode_distribution["nominal"] for r in g.results]
    assert _same(g.cells["mode_stability"], M.stability_ci(dists))
    # robustness curve: nominal point = success; a perturbed level from its per-level metric
    nominal = g.levels[0]
    assert nominal.level == "nominal" and _same(nominal.success, g.cells["success"])
    lv = g.levels[2]
    vals = np.array([r.metrics[f"success_rate/{lv.level}"] for r in g.results])
    assert _same(lv.success, M.bootstrap_ci(vals))
    assert sum(g.mode_shares.values()) == pytest.approx(1.0)


def test_aggregates(results, lookup):
    tb = _compile(results, lookup).tiers[0]
    per_task = {t.task: np.array([r.metrics["success_rate"] for r in g.results])
                for t in tb.tasks for g in t.rows if g.label == "bmd"}
    assert _same(tb.iqm["bmd"]["success"], M.aggregate_iqm(per_task))
    assert tb.iqm_tasks["bmd"] == 2
    a, b = tb.methods[0], tb.methods[1]
    pab, pba = tb.poi["success"][(a, b)], tb.poi["success"][(b, a)]
    assert pab.value + pba.value == pytest.approx(1.0)
    assert pab.ci_low == pytest.approx(1 - pba.ci_high)
    xa = {t.task: np.array([r.metrics["success_rate"] for r in g.results])
          for t in tb.tasks for g in t.rows if g.label == a}
    xb = {t.task: np.array([r.metrics["success_rate"] for r in g.results])
          for t in tb.tasks for g in t.rows if g.label == b}
    assert _same(pab, M.probability_of_improvement(xa, xb))
    best = tb.methods[0]
    assert tb.iqm[best]["success"].value == max(v["success"].value for v in tb.iqm.values())


def test_rerun_of_a_seed_counts_once(results, lookup):
    r = results[0]
    rerun = dataclasses.replace(r, run_id="rerun", start_time=r.start_time + 10**6,
                                metrics={**r.metrics, "success_rate": 0.0})
    lb = _compile(results + [rerun], lookup)
    g = next(g for g in lb.groups()
             if (g.task, g.label, g.tier) == (r.task, r.method, r.tier))
    assert g.n_seeds == 5 and g.superseded == 1
    assert "rerun" in {x.run_id for x in g.results} and r.run_id not in {x.run_id
                                                                          for x in g.results}


def test_stale_results_are_never_mixed(results, lookup, avoid_spec):
    old = dataclasses.replace(avoid_spec, description="changed behaviour")
    stale_spec = make_results([old], seeds=range(2), prefix="old")
    unknown = make_results([dataclasses.replace(avoid_spec, name="gone")], seeds=range(3),
                           prefix="gone")
    pinned = dataclasses.replace(avoid_spec, dataset_hash="feedbeef")
    bad_data = [dataclasses.replace(r, dataset_hash="deadbeef", run_id=f"d{i}")
                for i, r in enumerate(make_results([pinned], seeds=range(2), prefix="pin"))]

    def pinned_lookup(task_id):
        return (pinned, "") if task_id == avoid_spec.id else lookup(task_id)

    lb = compile_leaderboard(results + stale_spec + unknown, lookup, method_lookup)
    clean = compile_leaderboard(results, lookup, method_lookup)
    assert [(g.task, g.label, g.tier, g.cells) for g in lb.groups()] == \
        [(g.task, g.label, g.tier, g.cells) for g in clean.groups()]
    reasons = {(s.task, s.reason.split(" (")[0]): s.n_runs for s in lb.stale if s.method == "bc"}
    assert reasons[("avoid-v0", "spec hash differs from the current spec")] == 2
    assert reasons[("gone-v0", "unknown task id 'gone-v0'")] == 3
    assert sum(s.n_runs for s in lb.stale) == len(stale_spec) + len(unknown)
    # a spec that pins its dataset hash: results trained on other data are stale
    lb2 = compile_leaderboard(bad_data, pinned_lookup, method_lookup)
    assert not lb2.tiers and {s.reason for s in lb2.stale} == {
        "dataset hash differs from the current spec"}


def test_forced_mode_is_its_own_row(results, lookup):
    forced = [dataclasses.replace(r, run_id=r.run_id + "z", mode="2")
              for r in results if r.method == "bmd"]
    lb = _compile(results + forced, lookup)
    labels = {g.label for g in lb.groups()}
    assert "bmd [mode 2]" in labels and "bmd" in labels
    assert {g.method for g in lb.groups() if g.label == "bmd [mode 2]"} == {"bmd"}


def test_a_run_with_options_is_its_own_row_and_never_supersedes_the_default(results,
                                                                             lookup):
    bmd = [r for r in results if r.method == "bmd"]
    ablation = [dataclasses.replace(r, run_id=r.run_id + "o", start_time=r.start_time + 10**9,
                                    options={"alpha": "0"}, metrics={**r.metrics,
                                                                     "success_rate": 0.0})
                for r in bmd]
    lb = _compile(results + ablation, lookup)
    rows = {(g.task, g.label, g.tier): g for g in lb.groups()}
    default = _compile(results, lookup)
    for g in default.groups():
        if g.label == "bmd":  # newer ablation runs of the same seeds left the row alone
            assert rows[(g.task, "bmd", g.tier)].cells == g.cells
            assert rows[(g.task, "bmd [alpha=0]", g.tier)].cells["success"].value == 0.0


def test_missing_metric_is_none_not_zero(results, lookup):
    stripped = [dataclasses.replace(r, metrics={k: v for k, v in r.metrics.items()
                                                if k != "robustness"}) for r in results]
    g = next(iter(_compile(stripped, lookup).groups()))
    assert g.cells["robustness"] is None and g.cells["success"] is not None


def test_registry_lookup_unknown_task():
    spec, why = registry_spec("no-such-task-v0")
    assert spec is None and "unknown task" in why
    spec, why = registry_spec("avoid-v0")
    assert spec is not None and why == ""


# ---- issue 17: statistics a paper could cite ----------------------------------------------


def test_runs_of_another_method_version_or_config_are_split_not_averaged(results, lookup):
    dppo = [r for r in results if r.method == "dppo" and r.tier == "small"]
    v2 = [dataclasses.replace(r, run_id="v2" + r.run_id, method_version="2",
                              metrics={**r.metrics, "success_rate": 0.0}) for r in dppo]
    lb = _compile(results + v2, lookup)
    labels = {g.label for g in lb.tiers[0].tasks[0].rows}
    assert {"dppo (v1)", "dppo (v2)"} <= labels and "dppo" not in labels
    cfg = [dataclasses.replace(r, run_id="c" + r.run_id, config_hash="abcdef0123")
           for r in dppo]
    labels = {g.label for g in _compile(results + cfg, lookup).tiers[0].tasks[0].rows}
    assert any(label.startswith("dppo (v") and "cfg abcdef01" in label for label in labels)


def test_a_dirty_commit_is_flagged(results, lookup):
    dirty = [dataclasses.replace(r, git_commit=r.git_commit + "+dirty") if r.method == "bc"
             else r for r in results]
    groups = list(_compile(dirty, lookup).groups())
    assert all(g.dirty == (g.method == "bc") for g in groups)


def test_zero_success_seeds_are_left_out_of_mode_metrics(results, lookup):
    """A seed with no successful episode has no mode distribution: its logged 0 mode count
    and 0 entropy read as 'collapsed' and dragged the means down."""
    bc = [r for r in results if r.method == "bc" and r.tier == "small"
          and r.task == "avoid-v0"]
    failed = dataclasses.replace(bc[0], metrics={**bc[0].metrics, "success_rate": 0.0,
                                                 "mode_count": 0.0, "mode_entropy": 0.0})
    rest = [r for r in results if r.run_id != bc[0].run_id]
    g = next(g for g in _compile(rest + [failed], lookup).groups()
             if g.method == "bc" and g.tier == "small" and g.task == "avoid-v0")
    assert g.n_no_success == 1
    assert g.cells["mode_count"].n == 4 and g.cells["success"].n == 5
    others = [r.metrics["mode_entropy"] for r in bc[1:]]
    assert g.cells["mode_entropy"].value == pytest.approx(np.mean(others))


def test_probability_of_improvement_on_entropy_and_for_chosen_methods(results, lookup):
    """Issue 17: P(improvement) was on success only and for the best 8 only."""
    tb = _compile(results, lookup).tiers[0]
    a, b = tb.methods[0], tb.methods[-1]
    ent = {m: {t.task: np.array([r.metrics["mode_entropy"] for r in g.results])
               for t in tb.tasks for g in t.rows if g.label == m} for m in (a, b)}
    assert _same(tb.poi["mode_entropy"][(a, b)], M.probability_of_improvement(ent[a], ent[b]))
    chosen = _compile(results, lookup, compare=(b, "not-a-row", a)).tiers[0]
    assert chosen.poi_methods == (b, a)
    assert set(chosen.poi["success"]) == {(a, b), (b, a)}


def test_zero_success_seeds_are_left_out_of_the_aggregate_entropy(results, lookup):
    """The row estimates left them out, but the tier's IQM of H(pi) still pooled their 0."""
    small = [r for r in results if r.tier == "small"]
    failed = {r.run_id for r in small if r.method == "bc" and r.seed == 0}
    changed = [dataclasses.replace(r, metrics={**r.metrics, "success_rate": 0.0,
                                               "mode_count": 0.0, "mode_entropy": 0.0})
               if r.run_id in failed else r for r in small]
    tb = _compile(changed, lookup).tiers[0]
    kept = {t: np.array([r.metrics["mode_entropy"] for r in changed
                         if r.method == "bc" and r.task == t and r.run_id not in failed])
            for t in tb.common_tasks}
    assert tb.iqm["bc"]["mode_entropy"].value == pytest.approx(M.aggregate_iqm(kept).value)


def test_the_aggregate_is_over_the_tasks_every_method_ran(results, lookup):
    """An IQM over two tasks was ranked against an IQM over one."""
    only_avoid = [r for r in results if not (r.method == "bmd" and r.task != "avoid-v0")]
    tb = _compile(only_avoid, lookup).tiers[0]
    assert tb.common_tasks == ("avoid-v0",)
    assert set(tb.iqm_tasks.values()) == {1}
    per_seed = np.array([r.metrics["success_rate"] for r in only_avoid
                         if r.method == "dppo" and r.tier == "small" and r.task == "avoid-v0"])
    assert tb.iqm["dppo"]["success"].value == pytest.approx(M.iqm(per_seed))
    apart = [dataclasses.replace(r, task="twin-v0") if r.method == "bmd" else r
             for r in results if r.task == "avoid-v0" or r.method == "bmd"]
    tb = _compile(apart, lookup).tiers[0]
    if "bmd" in tb.iqm:  # bmd ran only twin-v0, the others only avoid-v0: nothing in common
        assert tb.iqm["bmd"] == {}
    assert tb.common_tasks == () and not any(tb.poi.values())


def _without_timings(lb):
    return dataclasses.replace(lb, timings={})


def test_statistics_computed_by_a_forked_process_are_the_serial_ones(results, lookup,
                                                                    monkeypatch):
    """Issue 18: from PARALLEL_STATS_MIN_RUNS on, the rows and aggregates are shared with a
    forked child; every row (its results included) must equal the serial build's."""
    import leaderboard.compile as compile_module
    import leaderboard.forked as forked_module

    rerun = dataclasses.replace(results[0], run_id="rerun", start_time=results[0].start_time + 1)
    runs = [*results, rerun]  # a superseded seed: the child's rows get the latest run back
    monkeypatch.setattr(compile_module, "PARALLEL_STATS_MIN_RUNS", 10**9)
    serial = _compile(runs, lookup)
    monkeypatch.setattr(compile_module, "PARALLEL_STATS_MIN_RUNS", 0)
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 2)
    shared = []
    run_jobs = forked_module.run_jobs
    monkeypatch.setattr(compile_module, "run_jobs",
                        lambda jobs, parallel: shared.append(parallel) or run_jobs(jobs, parallel))
    forked = _compile(runs, lookup)
    assert shared == [True]
    assert _without_timings(forked) == _without_timings(serial)
    assert any(g.superseded for g in forked.groups())


def test_failing_children_leave_the_statistics_to_this_process(results, lookup, monkeypatch):
    import leaderboard.compile as compile_module
    import leaderboard.forked as forked_module

    def dies(conn, jobs, counter):
        next(forked_module._taken(counter, len(jobs)))  # takes a job, then dies silently
        raise SystemExit(3)

    monkeypatch.setattr(compile_module, "PARALLEL_STATS_MIN_RUNS", 10**9)
    serial = _compile(results, lookup)
    monkeypatch.setattr(compile_module, "PARALLEL_STATS_MIN_RUNS", 0)
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(forked_module, "_child", dies)
    assert _without_timings(_compile(results, lookup)) == _without_timings(serial)
