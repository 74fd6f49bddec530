"""Tests of benchmark.metrics on hand-computed cases, degenerate ones included."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from benchmark import metrics as m
from benchmark.errors import BenchError

# --------------------------------------------------------------------------------------------
# success rate and mode distribution


def test_success_rate_hand_computed():
    assert m.success_rate([True, False, True, True]) == 0.75
    assert m.success_rate(np.array([0, 1, 0, 0])) == 0.25
    assert m.success_rate([False] * 7) == 0.0


def test_success_rate_zero_episodes_raises_value_error():
    with pytest.raises(ValueError, match="zero episodes"):
        m.success_rate([])


def test_success_rate_rejects_non_flags():
    # "False" is truthy: a string flag must fail loudly, not count as a success.
    with pytest.raises(m.MetricInputError):
        m.success_rate(["False", "True"])
    with pytest.raises(m.MetricInputError):
        m.success_rate([0, 2])
    with pytest.raises(m.MetricInputError):
        m.success_rate([0.5, 1.0])


def test_metric_input_error_is_value_and_bench_error():
    err = m.MetricInputError("x")
    assert isinstance(err, ValueError)
    assert isinstance(err, BenchError)
    assert err.exit_code == 1


def test_mode_distribution_counts_successful_only():
    labels = ["LR", "LL", "LR", "RR", "LL", "LR"]
    succ = [True, True, False, True, False, True]
    assert m.mode_distribution(labels, succ) == {"LL": 1, "LR": 2, "RR": 1}


def test_mode_distribution_no_successes_is_empty():
    assert m.mode_distribution(["a", "b"], [False, False]) == {}
    assert m.mode_distribution([], []) == {}


def test_mode_distribution_sorted_for_stable_json():
    assert list(m.mode_distribution(["b", "a", "c"], [True] * 3)) == ["a", "b", "c"]


def test_mode_distribution_bad_input():
    with pytest.raises(m.MetricInputError, match="differ in length"):
        m.mode_distribution(["a", "b"], [True])
    with pytest.raises(m.MetricInputError, match="must be str"):
        m.mode_distribution([("a", "b")], [True])


# --------------------------------------------------------------------------------------------
# mode count


def test_mode_count_threshold_boundary_exactly_5_percent_counts():
    # 1 of 20 = exactly 5 %: counts; 1 of 21 (4.76 %) does not.
    assert m.mode_count({"a": 19, "b": 1}) == 2
    assert m.mode_count({"a": 20, "b": 1}) == 1
    # exactly 5 % via a share that is not 1/20 literally, and a computed threshold
    assert m.mode_count({"a": 57, "b": 3}) == 2
    assert m.mode_count({"a": 57, "b": 3}, threshold=0.1 / 2) == 2


def test_mode_count_custom_threshold_and_zero_counts():
    assert m.mode_count({"a": 5, "b": 3, "c": 2}, threshold=0.3) == 2
    # a label with count 0 is not a mode even at threshold 0
    assert m.mode_count({"a": 5, "b": 0}, threshold=0.0) == 1


def test_mode_count_no_successes_is_zero():
    assert m.mode_count({}) == 0
    assert m.mode_count({"a": 0}) == 0


def test_mode_count_bad_input():
    with pytest.raises(m.MetricInputError, match="threshold"):
        m.mode_count({"a": 1}, threshold=1.5)
    with pytest.raises(m.MetricInputError, match=">= 0"):
        m.mode_count({"a": -1})
    with pytest.raises(m.MetricInputError, match="not a number"):
        m.mode_count({"a": "many"})


# --------------------------------------------------------------------------------------------
# mode entropy


def test_mode_entropy_uniform_over_demonstrated_is_one():
    assert m.mode_entropy({"a": 5, "b": 5, "c": 5, "d": 5}, 4) == pytest.approx(1.0)


def test_mode_entropy_hand_computed():
    # p = (3/4, 1/4), K = 4: H = -(.75 ln .75 + .25 ln .25) = 0.562335..., / ln 4
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert m.mode_entropy({"a": 3, "b": 1}, 4) == pytest.approx(h / math.log(4))
    assert m.mode_entropy({"a": 3, "b": 1}, 4) == pytest.approx(0.4056390622295664)


def test_mode_entropy_degenerate_cases():
    assert m.mode_entropy({}, 4) == 0.0  # no successes
    assert m.mode_entropy({"a": 10}, 4) == 0.0  # one mode (collapse)
    assert math.copysign(1.0, m.mode_entropy({"a": 10}, 4)) == 1.0  # +0.0, not -0.0
    assert m.mode_entropy({"a": 1, "b": 1}, 1) == 0.0  # one demonstrated mode
    # more labels than demonstrated modes: capped at 1
    assert m.mode_entropy({"a": 1, "b": 1, "c": 1}, 2) == 1.0


def test_mode_entropy_bad_k():
    with pytest.raises(m.MetricInputError):
        m.mode_entropy({"a": 1}, 0)
    with pytest.raises(m.MetricInputError):
        m.mode_entropy({"a": 1}, 2.5)


# --------------------------------------------------------------------------------------------
# mode retention


def test_mode_retention_hand_computed():
    pre = {"a": 40, "b": 40, "c": 20}
    assert m.mode_retention(pre, {"a": 100}) == pytest.approx(1 / 3)
    assert m.mode_retention(pre, {"a": 50, "c": 50, "z": 10}) == pytest.approx(2 / 3)
    assert m.mode_retention(pre, pre) == 1.0


def test_mode_retention_uses_threshold_on_both_sides():
    pre = {"a": 97, "b": 3}  # b below 5 %: not a mode before
    assert m.mode_retention(pre, {"a": 1}) == 1.0
    # b present before (exactly 5 %) but only 1 % after: lost
    assert m.mode_retention({"a": 19, "b": 1}, {"a": 99, "b": 1}) == 0.5


def test_mode_retention_degenerate_cases():
    assert math.isnan(m.mode_retention({}, {"a": 3}))  # nothing to retain
    assert m.mode_retention({"a": 3}, {}) == 0.0  # fine-tuned never succeeds


# --------------------------------------------------------------------------------------------
# JS divergence and mode stability


def test_js_divergence_known_pair_by_hand():
    # P = (1, 0), Q = (1/2, 1/2), M = (3/4, 1/4)
    # KL(P||M) = log2(4/3); KL(Q||M) = 1/2 log2(2/3) + 1/2 log2(2)
    kl_p = math.log2(4 / 3)
    kl_q = 0.5 * math.log2(2 / 3) + 0.5 * 1.0
    expected = 0.5 * kl_p + 0.5 * kl_q
    assert m.js_divergence({"a": 2}, {"a": 1, "b": 1}) == pytest.approx(expected)
    assert expected == pytest.approx(0.31127812445913283)


def test_js_divergence_is_not_scipy_distance():
    # scipy's jensenshannon is the square root of the divergence
    from scipy.spatial.distance import jensenshannon

    p, q = np.array([0.2, 0.8]), np.array([0.6, 0.4])
    js = m.js_divergence({"a": 2, "b": 8}, {"a": 6, "b": 4})
    assert js == pytest.approx(jensenshannon(p, q, base=2) ** 2)


def test_js_divergence_symmetric_bounds_and_counts_normalised():
    a, b = {"x": 1, "y": 3}, {"x": 30, "y": 10, "z": 5}
    assert m.js_divergence(a, b) == pytest.approx(m.js_divergence(b, a))
    assert m.js_divergence(a, {"x": 10, "y": 30}) == pytest.approx(0.0, abs=1e-15)
    assert m.js_divergence({"x": 1}, {"y": 7}) == 1.0
    assert m.js_divergence({}, {"y": 7}) == 1.0
    assert m.js_divergence({}, {}) == 1.0


def test_mode_stability_identical_is_one():
    d = {"LL": 3, "LR": 5, "RR": 2}
    assert m.mode_stability([d, dict(d), {k: 2 * v for k, v in d.items()}]) == 1.0


def test_mode_stability_disjoint_is_zero():
    assert m.mode_stability([{"a": 4}, {"b": 4}, {"c": 1, "d": 1}]) == 0.0


def test_mode_stability_hand_computed_mean_of_pairs():
    # pairs: (P,Q) 0.311278..., (P,P') 0, (Q,P') 0.311278... -> mean 0.207519
    p, q = {"a": 2}, {"a": 1, "b": 1}
    js = m.js_divergence(p, q)
    assert m.mode_stability([p, q, {"a": 5}]) == pytest.approx(1 - 2 * js / 3)


def test_mode_stability_degenerate_cases():
    assert m.mode_stability([{"a": 1, "b": 2}]) == 1.0  # one seed
    assert m.mode_stability([{}]) == 1.0  # one seed, even empty (documented)
    # an empty seed diverges fully from the others: pairs (a,a)=0, (a,{})=1, (a,{})=1
    assert m.mode_stability([{"a": 1}, {"a": 2}, {}]) == pytest.approx(1 - 2 / 3)
    assert m.mode_stability([{}, {}]) == 0.0  # all seeds failing is not "stable"
    with pytest.raises(m.MetricInputError):
        m.mode_stability([])
    with pytest.raises(m.MetricInputError):
        m.mode_stability({"a": 1})  # one distribution, not a list of them


# --------------------------------------------------------------------------------------------
# robustness


def test_robustness_hand_computed_and_capped():
    # ratios 0.5, 1.0, capped 1.5 -> 1.0, 0.0: mean 2.5 / 4
    assert m.robustness(0.8, [0.4, 0.8, 1.0, 0.0]) == pytest.approx(0.625)


def test_robustness_degenerate_cases():
    assert m.robustness(0.0, [0.0, 0.3]) == 0.0
    with pytest.raises(m.MetricInputError, match="empty"):
        m.robustness(0.5, [])
    with pytest.raises(m.MetricInputError):
        m.robustness(0.5, [1.2])
    with pytest.raises(m.MetricInputError):
        m.robustness(float("nan"), [0.2])


# --------------------------------------------------------------------------------------------
# bootstrap CIs


def test_bootstrap_ci_deterministic_and_contains_mean():
    x = [0.1, 0.5, 0.3, 0.9, 0.7]
    a = m.bootstrap_ci(x, seed=3)
    b = m.bootstrap_ci(x, seed=3)
    assert a == b
    assert a.value == pytest.approx(0.5)
    assert a.n == 5
    assert a.ci_low <= a.value <= a.ci_high
    assert a.ci_low < a.ci_high
    # the interval lies within the data's range (percentile bootstrap of the mean)
    assert 0.1 <= a.ci_low and a.ci_high <= 0.9
    assert m.bootstrap_ci(x, seed=4) != a


def test_bootstrap_ci_coverage_shrinks_with_alpha():
    x = np.linspace(0, 1, 9)
    wide = m.bootstrap_ci(x, alpha=0.01)
    narrow = m.bootstrap_ci(x, alpha=0.5)
    assert wide.ci_low < narrow.ci_low <= narrow.ci_high < wide.ci_high


def test_bootstrap_ci_one_seed_collapses():
    assert m.bootstrap_ci([0.42]) == m.Estimate(0.42, 0.42, 0.42, 1)


def test_bootstrap_ci_custom_statistic_and_constant_input():
    est = m.bootstrap_ci([1.0, 2.0, 3.0, 100.0], statistic=np.median)
    assert est.value == 2.5
    assert m.bootstrap_ci([0.3, 0.3, 0.3]) == m.Estimate(0.3, 0.3, 0.3, 3)


def test_bootstrap_ci_bad_input():
    with pytest.raises(m.MetricInputError, match="empty"):
        m.bootstrap_ci([])
    with pytest.raises(m.MetricInputError, match="NaN"):
        m.bootstrap_ci([0.5, float("nan")])
    with pytest.raises(m.MetricInputError, match="reps"):
        m.bootstrap_ci([0.5, 0.6], reps=0)
    with pytest.raises(m.MetricInputError, match="alpha"):
        m.bootstrap_ci([0.5, 0.6], alpha=1.0)


def test_stability_ci_identical_collapses_to_one():
    d = {"a": 3, "b": 1}
    assert m.stability_ci([d, d, d, d]) == m.Estimate(1.0, 1.0, 1.0, 4)
    assert m.stability_ci([d]) == m.Estimate(1.0, 1.0, 1.0, 1)


def test_stability_ci_disjoint_collapses_to_zero():
    # Every pair of different seeds has JS 1; duplicates are not counted as agreeing pairs,
    # so no resample looks more stable than the data.
    dists = [{"a": 1}, {"b": 1}, {"c": 1}, {"d": 1}, {"e": 1}]
    assert m.stability_ci(dists) == m.Estimate(0.0, 0.0, 0.0, 5)


def test_stability_ci_deterministic_contains_value():
    dists = [{"a": 3, "b": 1}, {"a": 1, "b": 3}, {"a": 2, "b": 2}, {"a": 4}, {"b": 4}]
    a = m.stability_ci(dists, seed=1)
    assert a == m.stability_ci(dists, seed=1)
    assert a.value == pytest.approx(m.mode_stability(dists))
    assert a.ci_low <= a.value <= a.ci_high
    assert 0.0 <= a.ci_low < a.ci_high <= 1.0


def test_stability_ci_resample_statistic_matches_direct_computation():
    # The weighted-count shortcut must equal mode_stability on the resample's distinct-seed
    # pairs: check one resample by hand (seeds 0, 0, 1, 2 drawn).
    dists = [{"a": 1}, {"a": 1, "b": 1}, {"b": 1}]
    j01 = m.js_divergence(dists[0], dists[1])
    j02 = m.js_divergence(dists[0], dists[2])
    j12 = m.js_divergence(dists[1], dists[2])
    # positions (0,0',1,2): distinct-seed pairs 0-1, 0-2, 0'-1, 0'-2, 1-2 -> 5 pairs
    expected = 1 - (2 * j01 + 2 * j02 + j12) / 5
    counts = np.array([2.0, 1.0, 1.0])
    js = m._js_matrix(dists)
    weighted = 0.5 * counts @ js @ counts
    pairs = 0.5 * (counts.sum() ** 2 - (counts**2).sum())
    assert 1 - weighted / pairs == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# IQM and aggregates


def test_iqm_known_array():
    # sorted: -50, 1, 2, 3, 4, 5, 6, 100; drop 2 at each end -> mean(2, 3, 4, 5) = 3.5
    assert m.iqm(np.array([100.0, 1, 2, 3, 4, 5, 6, -50])) == pytest.approx(3.5)
    # 2-D is flattened: (runs x tasks)
    assert m.iqm(np.arange(12.0).reshape(4, 3)) == pytest.approx(np.mean(np.arange(3, 9)))
    # n not divisible by 4: floor(0.25 * 5) = 1 cut at each end
    assert m.iqm(np.array([0.0, 1, 2, 3, 10])) == pytest.approx(2.0)


def test_iqm_bad_input():
    with pytest.raises(m.MetricInputError):
        m.iqm(np.array([]))
    with pytest.raises(m.MetricInputError):
        m.iqm(np.array([1.0, np.inf]))


def test_aggregate_iqm_pools_ragged_tasks():
    scores = {"t1": np.array([0.0, 1, 2, 3, 4]), "t2": np.array([5.0, 6, 7])}
    est = m.aggregate_iqm(scores, seed=0)
    assert est.value == pytest.approx(m.iqm(np.arange(8.0)))  # = 3.5
    assert est.n == 8
    assert est.ci_low <= est.value <= est.ci_high
    assert est == m.aggregate_iqm(scores, seed=0)


def _trim_every_resample_interval(scores: dict, reps: int, seed: int) -> tuple[float, float]:
    """The stratified IQM interval the slow way: gather each task's resamples from one
    generator, task by task, and apply scipy's trim_mean to every pooled resample."""
    draw = np.random.default_rng(seed)
    pooled = np.concatenate([scores[t][draw.integers(0, scores[t].size,
                                                     size=(reps, scores[t].size))]
                             for t in sorted(scores)], axis=1)
    low, high = np.quantile(scipy.stats.trim_mean(pooled, 0.25, axis=1), [0.025, 0.975])
    return low, high


def test_aggregate_iqm_interval_equals_trimming_every_resample():
    """The counting IQM of each resample (issue 18) equals scipy's trim_mean over the
    gathered resamples, drawn from the same generator task by task."""
    rng = np.random.default_rng(7)
    scores = {f"t{i}": rng.random(n).round(2) for i, n in enumerate((5, 3, 10, 1, 7))}
    est = m.aggregate_iqm(scores, reps=500, seed=3)
    low, high = _trim_every_resample_interval(scores, 500, 3)
    assert est.ci_low == pytest.approx(low, abs=1e-12)
    assert est.ci_high == pytest.approx(high, abs=1e-12)
    assert est.value == pytest.approx(scipy.stats.trim_mean(np.concatenate(list(
        scores.values())), 0.25), abs=1e-12)


def test_aggregate_iqm_stratified_keeps_tasks_apart():
    # Each task's seeds are constant, so resampling within tasks changes nothing: the
    # interval must collapse. An unstratified bootstrap over the pooled values would not.
    scores = {"t1": np.zeros(4), "t2": np.ones(4), "t3": np.full(4, 0.5)}
    est = m.aggregate_iqm(scores)
    assert est == m.Estimate(0.5, 0.5, 0.5, 12)


def test_aggregate_iqm_one_seed_per_task_collapses():
    est = m.aggregate_iqm({"a": np.array([0.2]), "b": np.array([0.9])})
    assert est.ci_low == est.value == est.ci_high


def test_aggregate_iqm_bad_input():
    with pytest.raises(m.MetricInputError, match="no tasks"):
        m.aggregate_iqm({})
    with pytest.raises(m.MetricInputError, match="empty"):
        m.aggregate_iqm({"a": np.array([])})


def test_probability_of_improvement_fully_separated():
    x = {"t1": np.array([0.8, 0.9, 1.0]), "t2": np.array([0.5, 0.6])}
    y = {"t1": np.array([0.1, 0.2]), "t2": np.array([0.0, 0.1, 0.2, 0.3])}
    assert m.probability_of_improvement(x, y) == m.Estimate(1.0, 1.0, 1.0, 2)
    assert m.probability_of_improvement(y, x) == m.Estimate(0.0, 0.0, 0.0, 2)


def test_probability_of_improvement_identical_is_half():
    x = {"t": np.array([0.1, 0.5, 0.9])}
    est = m.probability_of_improvement(x, x)
    assert est.value == 0.5
    assert est.ci_low <= 0.5 <= est.ci_high
    # all ties
    same = {"t": np.full(4, 0.7)}
    assert m.probability_of_improvement(same, same) == m.Estimate(0.5, 0.5, 0.5, 1)


def test_probability_of_improvement_hand_computed_with_ties_and_common_tasks():
    # t: x=(1,2,3), y=(0,2,5): pairs x>y: 1>0, 2>0, 3>0, 3>2 -> 4; tie 2=2 -> 0.5; /9
    x = {"t": np.array([1.0, 2, 3]), "only_x": np.array([9.0])}
    y = {"t": np.array([0.0, 2, 5]), "only_y": np.array([0.0])}
    est = m.probability_of_improvement(x, y)
    assert est.value == pytest.approx(4.5 / 9)
    assert est.n == 1
    assert est == m.probability_of_improvement(x, y)


def test_probability_of_improvement_matches_mann_whitney():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 6).astype(float), rng.integers(0, 5, 4).astype(float)
    u = mannwhitneyu(a, b, alternative="greater").statistic
    est = m.probability_of_improvement({"t": a}, {"t": b}, reps=10)
    assert est.value == pytest.approx(u / (6 * 4))


def test_probability_of_improvement_no_common_task():
    with pytest.raises(m.MetricInputError, match="share no task"):
        m.probability_of_improvement({"a": np.ones(2)}, {"b": np.ones(2)})


def test_point_estimates_match_rliable():
    # rliable.metrics imports (only rliable.library is broken by arch/pandas); check our
    # definitions against it on a rectangular (runs x tasks) case.
    import rliable.metrics as rl  # a dev dependency: CI runs this check
    rng = np.random.default_rng(1)
    sx = rng.random((5, 3))
    sy = np.round(rng.random((4, 3)), 1)  # rounded to make ties likely
    sx[:, 2] = np.round(sx[:, 2], 1)
    tasks = ["t0", "t1", "t2"]
    x = {t: sx[:, i] for i, t in enumerate(tasks)}
    y = {t: sy[:, i] for i, t in enumerate(tasks)}
    assert m.aggregate_iqm(x, reps=10).value == pytest.approx(rl.aggregate_iqm(sx))
    assert m.probability_of_improvement(x, y, reps=10).value == pytest.approx(
        rl.probability_of_improvement(sx, sy)
    )


def test_bootstrap_ci_mean_fast_path_equals_generic_loop():
    # np.mean takes a vectorised path; a lambda takes the per-resample loop: same draws,
    # so the same interval up to summation rounding.
    x = np.random.default_rng(5).random(7).round(2)
    fast = m.bootstrap_ci(x, seed=9)
    slow = m.bootstrap_ci(x, statistic=lambda a: float(np.mean(a)), seed=9)
    np.testing.assert_allclose(
        [fast.value, fast.ci_low, fast.ci_high], [slow.value, slow.ci_low, slow.ci_high],
        rtol=0, atol=1e-12,
    )


# --------------------------------------------------------------------------------------------
# vectorised estimators against direct per-resample / per-pair references (same draws)


def _assert_same(a: m.Estimate, b: m.Estimate) -> None:
    assert a.n == b.n
    np.testing.assert_allclose([a.value, a.ci_low, a.ci_high], [b.value, b.ci_low, b.ci_high],
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 5, 31])
def test_bootstrap_mean_cis_equals_bootstrap_ci_per_column(n):
    x = np.random.default_rng(n).random((n, 4)).round(2)  # rounding makes ties, as rates have
    ests = m.bootstrap_mean_cis(x, seed=3)
    assert len(ests) == 4
    for k, est in enumerate(ests):
        _assert_same(m.bootstrap_ci(x[:, k], seed=3), est)


def test_bootstrap_mean_cis_bad_input():
    for bad in (np.array([[np.nan]]), np.zeros((0, 3)), np.zeros(3)):
        with pytest.raises(m.MetricInputError, match="matrix"):
            m.bootstrap_mean_cis(bad)
    with pytest.raises(m.MetricInputError, match="reps"):
        m.bootstrap_mean_cis(np.ones((2, 2)), reps=0)


def test_js_matrix_matches_pairwise_js_divergence():
    dists = [{"a": 3, "b": 1}, {"b": 2, "c": 2}, {}, {"a": 1}, {}]
    js = m._js_matrix(m._check_dists(dists))
    for i in range(len(dists)):
        for j in range(len(dists)):
            want = 0.0 if i == j else m.js_divergence(dists[i], dists[j])
            assert js[i, j] == pytest.approx(want, abs=1e-12)


def _random_dists(n: int, rng: np.random.Generator) -> list[dict[str, int]]:
    dists = []
    for i in range(n):
        total = 0 if i == 1 else int(rng.integers(1, 40))  # one seed with no success
        counts = rng.multinomial(total, rng.dirichlet([0.4] * 12))  # > 8 labels in all
        dists.append({f"m{j}": int(c) for j, c in enumerate(counts) if c})
    return dists


@pytest.mark.parametrize("n", [2, 6, 20])
def test_stability_ci_equals_per_resample_reference(n):
    # Reference: for each resample, the mean js_divergence over pairs of positions holding
    # different seeds, pair by pair; resamples with one distinct seed are left out.
    dists = _random_dists(n, np.random.default_rng(100 + n))
    reps, alpha = 300, 0.05
    idx = np.random.default_rng(0).integers(0, n, size=(reps, n))
    stats = []
    for row in idx:
        pairs = [m.js_divergence(dists[a], dists[b])
                 for i, a in enumerate(row) for b in row[i + 1:] if a != b]
        if pairs:
            stats.append(min(1.0, max(0.0, 1.0 - float(np.mean(pairs)))))
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    want = m.Estimate(m.mode_stability(dists), float(low), float(high), n)
    _assert_same(want, m.stability_ci(dists, reps=reps, seed=0, alpha=alpha))


@pytest.mark.parametrize("n,k", [(1, 1), (3, 5), (10, 10)])
def test_probability_of_improvement_equals_comparison_grid_reference(n, k):
    # Reference: per task (sorted), X's then Y's resample indices from one generator, and
    # P(X > Y) of each resample from the full (reps, n, k) comparison grid.
    rng = np.random.default_rng(7 * n + k)
    x = {f"t{i}": rng.random(n).round(1) for i in range(4)}
    y = {f"t{i}": rng.random(k).round(1) for i in range(1, 6)}
    reps = 300

    def p_greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (r, n), (r, k) -> (r,)
        grid = (a[:, :, None] > b[:, None, :]) + 0.5 * (a[:, :, None] == b[:, None, :])
        return grid.mean(axis=(1, 2))

    common = sorted(set(x) & set(y))
    draws = np.random.default_rng(0)
    per_task = []
    for t in common:
        ra = x[t][draws.integers(0, n, size=(reps, n))]
        rb = y[t][draws.integers(0, k, size=(reps, k))]
        per_task.append(p_greater(ra, rb))
    value = float(np.mean([p_greater(x[t][None], y[t][None])[0] for t in common]))
    low, high = np.quantile(np.mean(per_task, axis=0), [0.025, 0.975])
    if n == k == 1:
        low = high = value
    want = m.Estimate(value, float(low), float(high), len(common))
    _assert_same(want, m.probability_of_improvement(x, y, reps=reps, seed=0))


@pytest.mark.parametrize("n", [1, 2, 3, 40, 2000, 2001])
def test_quantiles_are_numpys_quantiles_bit_for_bit(n):
    """Issue 18: the intervals partition the bootstrap distribution at the order statistics
    they read instead of calling ``np.quantile`` (or sorting it); every interval must stay
    exactly the same."""
    rng = np.random.default_rng(n)
    qs = [0.0, 0.025, 0.05, 0.25, 0.5, 0.975, 0.995, 1.0]
    for scale in (1.0, 1e-3, 1e6):
        rows = (rng.random((7, n)) * scale).round(3 if scale == 1.0 else 12)  # ties too
        before = rows.copy()
        got = m.quantiles(rows, qs)
        assert np.array_equal(rows, before)  # the input is not partitioned in place
        assert np.array_equal(got, np.quantile(rows, qs, axis=1).T)
        assert np.array_equal(m.quantiles(rows[0], qs), np.quantile(rows[0], qs))
        assert np.array_equal(m.quantiles(rows[:, ::-1], qs),  # a non-contiguous view
                              np.quantile(rows[:, ::-1], qs, axis=1).T)


def test_probability_of_improvement_reused_draws_equal_fresh_draws():
    # The resamples are drawn once per (seed counts per task, reps, seed) and reused: a second
    # comparison with the same seed counts must equal what a cold cache computes for it.
    rng = np.random.default_rng(11)
    x = {t: rng.random(4).round(1) for t in ("a", "b")}
    y = {t: rng.random(3).round(1) for t in ("a", "b")}
    z = {t: rng.random(3).round(1) for t in ("a", "b")}
    m._paired_resample_counts.cache_clear()
    first = m.probability_of_improvement(x, y, reps=200)
    warm = m.probability_of_improvement(x, z, reps=200)  # same shapes: the cached draws
    assert m._paired_resample_counts.cache_info().hits >= 1
    m._paired_resample_counts.cache_clear()
    assert m.probability_of_improvement(x, z, reps=200) == warm
    assert m.probability_of_improvement(x, y, reps=200) == first


def test_aggregate_iqm_cached_counts_are_the_per_task_draws():
    # Issue 18: the stratified draw counts are made once per (sizes, reps, seed); they must
    # count, bit for bit, the per-task draws of one generator (the estimator before).
    sizes = (4, 9, 1, 6)
    draw = np.random.default_rng(5)
    idx = np.concatenate([draw.integers(0, n, size=(300, n)) + off
                          for n, off in zip(sizes, np.cumsum((0, *sizes[:-1])), strict=True)],
                         axis=1)
    want = np.stack([np.bincount(row, minlength=sum(sizes)) for row in idx]).T
    m._stratified_counts.cache_clear()
    for _ in range(2):  # cold, then warm
        assert np.array_equal(m._stratified_counts(sizes, 300, 5), want)
    assert m._stratified_counts.cache_info().hits == 1


def test_aggregate_iqm_counts_trim_ties_like_sorting():
    """Scores with many ties (success rates of 10 episodes) and pools whose cut falls inside a
    run of equal values: the counting IQM equals trimming each sorted resample."""
    rng = np.random.default_rng(21)
    scores = {f"t{i}": rng.integers(0, 11, n) / 10 for i, n in enumerate((10, 10, 7, 3))}
    est = m.aggregate_iqm(scores, reps=400, seed=9)
    low, high = _trim_every_resample_interval(scores, 400, 9)
    assert (est.ci_low, est.ci_high) == (pytest.approx(low, abs=1e-12),
                                         pytest.approx(high, abs=1e-12))
