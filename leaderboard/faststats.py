"""Vectorised twins of :mod:`benchmark.metrics`' interval estimators, for building at scale.

The definitions live in :mod:`benchmark.metrics`; this module computes *the same numbers*
faster. ``bootstrap_ci`` there applies the statistic to each of 2,000 resamples in a Python
loop (~7 ms a call) and ``stability_ci`` / ``probability_of_improvement`` build their pairwise
matrices pair by pair; a leaderboard of 10,000 runs needs thousands of such calls, ~1 min
in all. Here each estimator draws exactly the same resamples (same RNG, same order of draws)
and evaluates them as whole arrays, so the results agree with :mod:`benchmark.metrics` to
floating-point rounding; ``tests/leaderboard/test_faststats.py`` checks that on random inputs.
If ``benchmark.metrics`` ever gets vectorised itself, this module can go.

All functions validate through :mod:`benchmark.metrics` helpers and raise its
``MetricInputError`` on bad input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from benchmark import metrics as M
from benchmark.metrics import Estimate

REPS = 2000
ALPHA = 0.05


def _interval(stats: np.ndarray, alpha: float) -> tuple[float, float]:
    # identical to benchmark.metrics' percentile interval (numpy's linear interpolation)
    low, high = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


@lru_cache(maxsize=256)
def _resample_counts(n: int, reps: int, seed: int) -> np.ndarray:
    """Draw counts of the n seeds in each resample, shape (reps, n), read-only.

    ``benchmark.metrics`` seeds a fresh generator with ``seed`` for every interval, so every
    input of the same length gets the same resamples: drawing them once per (n, reps, seed)
    and reusing them gives the same numbers at a fraction of the cost.
    """
    rng = np.random.default_rng(seed)
    out = _draw_counts(rng, n, reps)
    out.setflags(write=False)
    return out


def bootstrap_mean_ci(per_seed: Sequence[float] | np.ndarray, reps: int = REPS,
                      alpha: float = ALPHA, seed: int = 0) -> Estimate:
    """``metrics.bootstrap_ci(per_seed)`` (statistic = mean), vectorised.

    Args:
        per_seed: One finite value per seed, shape (n_seeds,), n_seeds >= 1.
        reps: Bootstrap resamples.
        alpha: 1 - coverage.
        seed: Resampling seed.

    Returns:
        ``Estimate(mean, ci_low, ci_high, n_seeds)``.
    """
    x = np.asarray(per_seed, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        return M.bootstrap_ci(x, reps=reps, alpha=alpha, seed=seed)  # raises its clear error
    value = float(np.mean(x))
    n = x.size
    if n == 1:
        return Estimate(value, value, value, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(int(reps), n))
    low, high = _interval(x[idx].mean(axis=1), alpha)
    return Estimate(value, low, high, n)


def bootstrap_mean_cis(columns: np.ndarray, reps: int = REPS, alpha: float = ALPHA,
                       seed: int = 0) -> list[Estimate]:
    """``metrics.bootstrap_ci`` of the mean of every column of a seeds x metrics matrix at once.

    ``bootstrap_ci`` with a fixed seed draws the same resample indices for every input of the
    same length, so one draw serves all columns: the result equals calling it column by column.

    Args:
        columns: Per-seed values, shape (n_seeds, n_metrics), all finite.
        reps: Bootstrap resamples.
        alpha: 1 - coverage.
        seed: Resampling seed.

    Returns:
        One ``Estimate`` per column.
    """
    x = np.asarray(columns, dtype=float)
    if x.ndim != 2 or x.shape[0] == 0 or not np.isfinite(x).all():
        raise M.MetricInputError(f"columns must be a finite (n_seeds, n_metrics) matrix, "
                                 f"got shape {x.shape}")
    n = x.shape[0]
    values = x.mean(axis=0)
    if n == 1:
        return [Estimate(float(v), float(v), float(v), 1) for v in values]
    # resample means as draw counts (reps, n) @ values (n, k) / n: a matrix product instead of
    # a (reps, n, k) gather; quantiles along the contiguous axis
    stats = (_resample_counts(n, int(reps), seed) @ x / n).T.copy()  # (k, reps)
    lows, highs = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0], axis=1)
    return [Estimate(float(v), float(lo), float(hi), n)
            for v, lo, hi in zip(values, lows, highs, strict=True)]


def js_matrix(dists: Sequence[Mapping[str, int]]) -> np.ndarray:
    """Pairwise base-2 Jensen-Shannon divergences, shape (n, n), as ``metrics.js_divergence``.

    Empty distributions have divergence 1 from everything (themselves in other seeds too);
    the diagonal is 0.
    """
    checked = [M._checked_counts(d, f"dists[{i}]") for i, d in enumerate(dists)]
    labels = sorted({label for d in checked for label in d})
    n = len(checked)
    counts = np.array([[d.get(label, 0.0) for label in labels] for d in checked],
                      dtype=float).reshape(n, len(labels))
    totals = counts.sum(axis=1)
    empty = totals == 0
    p = counts / np.where(empty, 1.0, totals)[:, None]  # (n, L)
    m = 0.5 * (p[:, None, :] + p[None, :, :])  # (n, n, L)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 0 log 0 = 0; where p_i > 0, m_ij > 0
        term_i = np.where(p[:, None, :] > 0, p[:, None, :] * np.log2(p[:, None, :] / m), 0.0)
        term_j = np.where(p[None, :, :] > 0, p[None, :, :] * np.log2(p[None, :, :] / m), 0.0)
    js = 0.5 * term_i.sum(axis=2) + 0.5 * term_j.sum(axis=2)
    js = np.clip(js, 0.0, 1.0)
    js[empty, :] = 1.0
    js[:, empty] = 1.0
    np.fill_diagonal(js, 0.0)
    return js


def stability_ci(dists: Sequence[Mapping[str, int]], reps: int = REPS, seed: int = 0,
                 alpha: float = ALPHA) -> Estimate:
    """``metrics.stability_ci(dists)`` with a vectorised JS matrix.

    Args:
        dists: One mode distribution ``{label: count}`` per seed, n_seeds >= 1.
        reps: Bootstrap resamples.
        seed: Resampling seed.
        alpha: 1 - coverage.

    Returns:
        ``Estimate(mode_stability, ci_low, ci_high, n_seeds)``.
    """
    dists = M._check_dists(dists)
    n = len(dists)
    if n == 1:
        return Estimate(1.0, 1.0, 1.0, 1)
    js = js_matrix(dists)
    value = float(min(max(1.0 - js[np.triu_indices(n, k=1)].mean(), 0.0), 1.0))
    counts = _resample_counts(n, int(reps), seed)  # the draws of metrics.stability_ci
    weighted = 0.5 * np.einsum("ri,ij,rj->r", counts, js, counts)
    pairs = 0.5 * (n * n - (counts**2).sum(axis=1))
    ok = pairs > 0
    low, high = _interval(np.clip(1.0 - weighted[ok] / pairs[ok], 0.0, 1.0), alpha)
    return Estimate(value, low, high, n)


def _draw_counts(rng: np.random.Generator, n: int, reps: int) -> np.ndarray:
    """How often each of n seeds is drawn in each of ``reps`` resamples, shape (reps, n).

    Draws exactly what ``rng.integers(0, n, size=(reps, n))`` draws (as benchmark.metrics
    does) and counts it per row.
    """
    idx = rng.integers(0, n, size=(reps, n))
    flat = (idx + (np.arange(reps) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=reps * n).reshape(reps, n).astype(float)


def _pair_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """G[i, j] = 1 if a_i > b_j, ½ if equal, else 0; shape (n, m)."""
    return (a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])


def probability_of_improvement(x: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray],
                               reps: int = REPS, alpha: float = ALPHA,
                               seed: int = 0) -> Estimate:
    """``metrics.probability_of_improvement(x, y)``, with a sort-based Mann-Whitney count.

    Args:
        x: ``x[task]`` = per-seed scores of method X, shape (n_task,).
        y: ``y[task]`` = per-seed scores of method Y, shape (m_task,).
        reps: Bootstrap resamples.
        alpha: 1 - coverage.
        seed: Resampling seed.

    Returns:
        ``Estimate(P(X > Y), ci_low, ci_high, n_common_tasks)``.
    """
    xs, ys = M._check_task_scores(x, "x"), M._check_task_scores(y, "y")
    common = sorted(set(xs) & set(ys))
    if not common:
        return M.probability_of_improvement(x, y)  # raises its clear error
    grids = {t: _pair_matrix(xs[t], ys[t]) for t in common}
    value = float(np.mean([grids[t].mean() for t in common]))
    rng = np.random.default_rng(seed)
    per_task = []
    for t in common:
        g = grids[t]
        n, m = g.shape
        # the same draws, in the same order, as benchmark.metrics; a resample's share of
        # winning pairs is cx^T G cy / (n m) for its draw counts cx, cy (a matrix product
        # instead of a (reps, n, m) comparison grid; integer-valued, so exact)
        cx = _draw_counts(rng, n, int(reps))
        cy = _draw_counts(rng, m, int(reps))
        per_task.append(np.einsum("ri,ri->r", cx @ g, cy) / (n * m))
    low, high = _interval(np.mean(per_task, axis=0), alpha)
    if all(xs[t].size == 1 and ys[t].size == 1 for t in common):
        low = high = value
    return Estimate(value, low, high, len(common))
