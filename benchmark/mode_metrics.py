"""The BMD paper's per-mode metrics and the metrics of latent (selectable) modes.

Per policy (one training seed):

* :func:`mode_threshold` — the share a label needs to count as a *present mode*: a quarter of
  a uniform share over the K demonstrated modes (0.25 / K), so that the rule can be met for
  any K (a fixed 5 % cannot be reached by any of kitchen's 24 orders when the policy spreads
  its successes evenly over them).
* :func:`per_mode_success`, :func:`srm`, :func:`modes_covered` — SR_m per demonstrated mode,
  **SRM** = (1/K) Σ_m SR_m and **mc@τ** = (1/K) #{m : SR_m ≥ τ} (Longhini et al., ICML 2026).
* :func:`wilson_interval` — a seed's success rate with a Wilson 95 % interval.

For policies whose mode can be forced (``set_mode``), over episodes run with each latent z:

* :func:`latent_mode_map`, :func:`purity`, :func:`latent_nmi_ari`, :func:`forced_mode_success`;
* across seeds, :func:`map_agreement`: agreement of two seeds' z → mode maps up to a
  permutation of the codes (Hungarian matching).

Mode distributions are ``{label: count}`` of *successful* episodes, as in
:mod:`benchmark.metrics`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from benchmark.metrics import MetricInputError

__all__ = [
    "DEFAULT_TAU",
    "forced_mode_success",
    "latent_mode_map",
    "latent_nmi_ari",
    "map_agreement",
    "mode_threshold",
    "modes_covered",
    "per_mode_success",
    "purity",
    "srm",
    "wilson_interval",
]

DEFAULT_TAU = 0.8
"""mc@τ's success threshold (the BMD paper reports mc@0.8)."""

PRESENT_FRACTION = 0.25
"""A present mode holds at least this fraction of a uniform share (1/K) of the successes."""


def mode_threshold(n_demonstrated_modes: int, fraction: float = PRESENT_FRACTION) -> float:
    """Minimum share of successful episodes for a label to count as a present mode.

    Args:
        n_demonstrated_modes: K >= 1.
        fraction: Fraction of the uniform share 1/K (default 0.25).

    Returns:
        ``fraction / K`` (K = 8: 3.1 %; K = 24: 1.04 %, one success in 96 episodes).
    """
    if n_demonstrated_modes < 1 or not 0 < fraction <= 1:
        raise MetricInputError("need K >= 1 demonstrated modes and a fraction in (0, 1]")
    return fraction / n_demonstrated_modes


def per_mode_success(dist: Mapping[str, int], n_episodes: int, modes: Sequence[str],
                     weights: Sequence[float]) -> dict[str, float]:
    """SR_m for a policy evaluated without forcing a mode (its own mode choice).

    Such a policy does not say which mode an episode *attempted*; an episode that succeeded
    shows its mode, one that failed shows none. Each mode is therefore given its
    demonstrated share q_m of the episodes as its attempts, and

        SR_m = min(1, (s_m / N) / q_m),

    with s_m the successful episodes in mode m and N all episodes. A policy that succeeds
    always and spreads its successes over the modes as the demonstrations do has SR_m = 1
    everywhere; one that succeeds always in a single mode has SR_m = 1 there and 0 elsewhere
    (SRM = 1/K); a mode never reached counts 0.

    Args:
        dist: ``{label: count}`` of successful episodes.
        n_episodes: N, all evaluation episodes (successful or not).
        modes: The task's demonstrated modes, length K.
        weights: Their shares q_m in the demonstrations, length K (normalised here).

    Returns:
        ``{mode: SR_m}`` in the order of ``modes``; labels that are not demonstrated modes
        are ignored. All zeros when ``n_episodes == 0``.
    """
    q = np.asarray(weights, dtype=float)
    if len(modes) != q.size or q.size == 0 or np.any(q <= 0) or not np.all(np.isfinite(q)):
        raise MetricInputError("modes and positive weights must have the same, non-zero length")
    if n_episodes < 0 or any(c < 0 for c in dist.values()):
        raise MetricInputError("episode counts must be >= 0")
    if sum(dist.get(m, 0) for m in modes) > n_episodes:
        raise MetricInputError("more successful episodes than episodes")
    q = q / q.sum()
    if n_episodes == 0:
        return {m: 0.0 for m in modes}
    return {m: float(min(1.0, dist.get(m, 0) / n_episodes / qm))
            for m, qm in zip(modes, q, strict=True)}


def srm(per_mode: Mapping[str, float]) -> float:
    """SRM = (1/K) Σ_m SR_m: success averaged over the demonstrated modes."""
    if not per_mode:
        raise MetricInputError("SRM needs at least one demonstrated mode")
    return float(np.mean(list(per_mode.values())))


def modes_covered(per_mode: Mapping[str, float], tau: float = DEFAULT_TAU) -> float:
    """mc@τ: the share of demonstrated modes whose success SR_m is at least ``tau``."""
    if not per_mode:
        raise MetricInputError("mc@tau needs at least one demonstrated mode")
    if not 0 <= tau <= 1:
        raise MetricInputError(f"tau must be in [0, 1], got {tau}")
    return float(np.mean([v >= tau - 1e-12 for v in per_mode.values()]))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a success rate over one seed's episodes (scipy).

    Args:
        successes: Successful episodes, 0 <= successes <= n.
        n: Episodes, n >= 1.
        confidence: Coverage.

    Returns:
        ``(low, high)``.
    """
    if n < 1 or not 0 <= successes <= n:
        raise MetricInputError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence,
                                                         method="wilson")
    return float(ci.low), float(ci.high)


# ------------------------------------------------------------------------------------------
# latent modes: episodes run with a forced z


def _check_latent(z: Sequence[int], labels: Sequence[str], successes: Sequence[bool]) -> None:
    if not len(z) == len(labels) == len(successes):
        raise MetricInputError("z, labels and successes differ in length")


def latent_mode_map(z: Sequence[int], labels: Sequence[str], successes: Sequence[bool],
                    n_latent: int) -> list[str | None]:
    """Each latent code's task mode: the most frequent label of its successful episodes.

    Args:
        z: Forced latent code per episode, shape (n,).
        labels: Achieved mode label per episode, shape (n,).
        successes: Success flag per episode, shape (n,).
        n_latent: Number of codes K_z.

    Returns:
        ``map[k]`` = the mode of code k, or None when no episode of k succeeded. Ties go to
        the label that sorts first (deterministic).
    """
    _check_latent(z, labels, successes)
    out: list[str | None] = []
    for k in range(n_latent):
        c = Counter(lab for zz, lab, ok in zip(z, labels, successes, strict=True)
                    if ok and zz == k)
        out.append(min(c, key=lambda lab: (-c[lab], lab)) if c else None)
    return out


def purity(z: Sequence[int], labels: Sequence[str], successes: Sequence[bool],
           n_latent: int) -> float:
    """Share of a code's successful episodes that land in its most frequent mode, averaged
    over the codes that have a successful episode (NaN when none has)."""
    _check_latent(z, labels, successes)
    shares = []
    for k in range(n_latent):
        c = Counter(lab for zz, lab, ok in zip(z, labels, successes, strict=True)
                    if ok and zz == k)
        if c:
            shares.append(max(c.values()) / sum(c.values()))
    return float(np.mean(shares)) if shares else float("nan")


def latent_nmi_ari(z: Sequence[int], labels: Sequence[str],
                   successes: Sequence[bool]) -> tuple[float, float]:
    """NMI and ARI (scikit-learn) between the forced code and the achieved mode, over the
    successful episodes. NaN when fewer than two successful episodes."""
    _check_latent(z, labels, successes)
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    zs = [zz for zz, ok in zip(z, successes, strict=True) if ok]
    ls = [lab for lab, ok in zip(labels, successes, strict=True) if ok]
    if len(zs) < 2:
        return float("nan"), float("nan")
    return (float(normalized_mutual_info_score(ls, zs)), float(adjusted_rand_score(ls, zs)))


def forced_mode_success(z: Sequence[int], labels: Sequence[str], successes: Sequence[bool],
                        n_latent: int, modes: Sequence[str]) -> dict[str, float]:
    """SR_m of a mode-selectable policy: the success of the episodes that *attempted* m.

    Code k attempts mode ``latent_mode_map(...)[k]``; SR_m is the share of episodes of the
    codes attempting m that succeed *in m* (pooled over those codes). A demonstrated mode
    that no code attempts counts 0.

    Returns:
        ``{mode: SR_m}`` in the order of ``modes``.
    """
    target = latent_mode_map(z, labels, successes, n_latent)
    out = {}
    for m in modes:
        codes = {k for k, t in enumerate(target) if t == m}
        eps = [(lab, ok) for zz, lab, ok in zip(z, labels, successes, strict=True)
               if zz in codes]
        out[m] = float(np.mean([ok and lab == m for lab, ok in eps])) if eps else 0.0
    return out


def map_agreement(map_a: Sequence[str | None], map_b: Sequence[str | None]) -> float:
    """Agreement of two seeds' z → mode maps, invariant to permuting either seed's codes.

    The codes of ``map_b`` are matched one-to-one to those of ``map_a`` (scipy's
    ``linear_sum_assignment``) to maximise the codes mapped to the same mode; the agreement
    is the matched share. A relabelling of the codes gives 1.0. Codes with no mode (None)
    never match.

    It is not chance-corrected: two unrelated maps share modes by chance, on average about
    K_z / M of the codes for K_z codes mapped at random onto M modes (0.27 for 8 codes over
    kitchen's 24 orders, ~0 over many modes). An NMI or ARI between the seeds' partitions
    of the modes would not help: when every code has a mode of its own, both partitions are
    all singletons and agree trivially.

    Args:
        map_a: Seed A's map, length K_z.
        map_b: Seed B's map, length K_z.

    Returns:
        A share in [0, 1] (NaN when both maps are all None).
    """
    if len(map_a) != len(map_b):
        raise MetricInputError("the two maps have different numbers of codes")
    if all(m is None for m in map_a) and all(m is None for m in map_b):
        return float("nan")
    from scipy.optimize import linear_sum_assignment

    same = np.array([[a is not None and a == b for b in map_b] for a in map_a], dtype=float)
    rows, cols = linear_sum_assignment(same, maximize=True)
    return float(same[rows, cols].sum() / len(map_a))
