"""The vectorised estimators give the numbers of benchmark.metrics (same draws, same CIs)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark import metrics as M
from leaderboard import faststats as F


def _close(a: M.Estimate, b: M.Estimate) -> None:
    assert a.n == b.n
    np.testing.assert_allclose([a.value, a.ci_low, a.ci_high], [b.value, b.ci_low, b.ci_high],
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 5, 31])
def test_bootstrap_equal(n):
    rng = np.random.default_rng(n)
    x = rng.random((n, 4)).round(2)  # rounding makes ties, as success rates have
    for k, est in enumerate(F.bootstrap_mean_cis(x)):
        _close(M.bootstrap_ci(x[:, k]), est)
        _close(M.bootstrap_ci(x[:, k]), F.bootstrap_mean_ci(x[:, k]))


@pytest.mark.parametrize("n", [1, 2, 6, 20])
def test_stability_equal(n):
    rng = np.random.default_rng(100 + n)
    dists = []
    for i in range(n):
        total = 0 if i == 1 else int(rng.integers(1, 40))  # one seed with no success
        counts = rng.multinomial(total, rng.dirichlet([0.4] * 8))
        dists.append({f"m{j}": int(c) for j, c in enumerate(counts) if c})
    _close(M.stability_ci(dists), F.stability_ci(dists))


def test_js_matrix_matches_pairwise():
    dists = [{"a": 3, "b": 1}, {"b": 2, "c": 2}, {}, {"a": 1}]
    js = F.js_matrix(dists)
    for i in range(4):
        for j in range(4):
            want = 0.0 if i == j else M.js_divergence(dists[i], dists[j])
            assert js[i, j] == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("n,m", [(1, 1), (3, 5), (10, 10)])
def test_probability_of_improvement_equal(n, m):
    rng = np.random.default_rng(7 * n + m)
    x = {f"t{i}": rng.random(n).round(1) for i in range(4)}
    y = {f"t{i}": rng.random(m).round(1) for i in range(1, 6)}
    _close(M.probability_of_improvement(x, y), F.probability_of_improvement(x, y))


def test_bad_input_raises_metrics_error():
    with pytest.raises(M.MetricInputError):
        F.bootstrap_mean_ci([])
    with pytest.raises(M.MetricInputError):
        F.bootstrap_mean_cis(np.array([[np.nan]]))
    with pytest.raises(M.MetricInputError):
        F.probability_of_improvement({"a": np.ones(2)}, {"b": np.ones(2)})
