"""Hand-computed cases for SRM, mc@tau, the mode threshold, Wilson intervals, latent modes."""

import math
import random

import numpy as np
import pytest

from benchmark import metrics
from benchmark import mode_metrics as MM
from benchmark.metrics import MetricInputError

MODES = ("A", "B", "C", "D")
UNIFORM = (1, 1, 1, 1)


def test_per_mode_success_and_srm_by_hand():
    # 100 episodes; 25 succeed in A, 20 in B, 5 in C, none in D (50 fail)
    sr = MM.per_mode_success({"A": 25, "B": 20, "C": 5}, 100, MODES, UNIFORM)
    assert sr == pytest.approx({"A": 1.0, "B": 0.8, "C": 0.2, "D": 0.0})
    assert MM.srm(sr) == pytest.approx(0.5)
    assert MM.modes_covered(sr, 0.8) == pytest.approx(0.5)  # A and B (0.8 counts)
    assert MM.modes_covered(sr, 0.9) == pytest.approx(0.25)


def test_a_collapsed_perfect_policy_has_srm_one_over_k():
    sr = MM.per_mode_success({"A": 100}, 100, MODES, UNIFORM)
    assert MM.srm(sr) == pytest.approx(0.25) and MM.modes_covered(sr) == pytest.approx(0.25)


def test_per_mode_success_uses_the_demonstrated_shares():
    # A is demonstrated 3x as often as B: 75 % of episodes in A and 25 % in B is "fair"
    sr = MM.per_mode_success({"A": 75, "B": 25}, 100, ("A", "B"), (3, 1))
    assert sr == pytest.approx({"A": 1.0, "B": 1.0})
    sr = MM.per_mode_success({"A": 50, "B": 50}, 100, ("A", "B"), (3, 1))
    assert sr == pytest.approx({"A": 50 / 75, "B": 1.0})


def test_degenerate_per_mode_inputs():
    assert MM.srm(MM.per_mode_success({}, 10, MODES, UNIFORM)) == 0.0  # no success
    assert MM.per_mode_success({}, 0, MODES, UNIFORM) == dict.fromkeys(MODES, 0.0)
    assert MM.srm(MM.per_mode_success({"A": 3}, 3, ("A",), (1,))) == 1.0  # one mode
    # labels that are not demonstrated modes count for nothing
    assert MM.per_mode_success({"Z": 4}, 4, MODES, UNIFORM) == dict.fromkeys(MODES, 0.0)
    with pytest.raises(MetricInputError):
        MM.per_mode_success({"A": 5}, 4, MODES, UNIFORM)
    with pytest.raises(MetricInputError):
        MM.per_mode_success({"A": 1}, 4, MODES, (1, 1))


def test_mode_threshold_can_be_met_by_24_evenly_spread_modes():
    """Issue 12: with 24 orders and a fixed 5 % no order could count; every order once in
    96 episodes of which every one succeeds (4 per order) must give 24 modes."""
    orders = [f"o{i}" for i in range(24)]
    dist = {o: 4 for o in orders}
    assert metrics.mode_count(dist, 0.05) == 0  # the old rule: a bug by construction
    assert metrics.mode_count(dist, MM.mode_threshold(24)) == 24
    uneven = {**{o: 1 for o in orders[:23]}, "o23": 73}  # 96 successes, 23 seen once
    assert metrics.mode_count(uneven, MM.mode_threshold(24)) == 24
    assert MM.mode_threshold(8) == pytest.approx(0.03125)


def test_wilson_interval_matches_the_formula():
    low, high = MM.wilson_interval(8, 10)
    z = 1.959963984540054
    p, n = 0.8, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-9)
    assert MM.wilson_interval(0, 5)[0] == 0.0 and MM.wilson_interval(5, 5)[1] == 1.0
    assert MM.wilson_interval(0, 5)[1] > 0.3  # no success in 5 is not "surely 0"
    with pytest.raises(MetricInputError):
        MM.wilson_interval(1, 0)


def _forced(mapping, n=10, fail_every=0):
    """Episodes of each code k landing in mapping[k] (every fail_every-th one fails)."""
    z, labels, ok = [], [], []
    for k, mode in enumerate(mapping):
        for e in range(n):
            z.append(k)
            labels.append(mode)
            ok.append(not (fail_every and e % fail_every == 0))
    return z, labels, ok


def test_latent_map_purity_nmi_ari_and_forced_success():
    z, labels, ok = _forced(["A", "B", "C", "D"])
    assert MM.latent_mode_map(z, labels, ok, 4) == ["A", "B", "C", "D"]
    assert MM.purity(z, labels, ok, 4) == 1.0
    assert MM.latent_nmi_ari(z, labels, ok) == pytest.approx((1.0, 1.0))
    assert MM.forced_mode_success(z, labels, ok, 4, MODES) == dict.fromkeys(MODES, 1.0)
    # code 3 lands half in C, half in D: purity 0.875; D is attempted by nobody... unless tie
    labels2 = labels[:30] + ["C"] * 5 + ["D"] * 5
    assert MM.purity(z, labels2, ok, 4) == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert MM.latent_mode_map(z, labels2, ok, 4)[3] == "C"  # tie -> first label
    sr = MM.forced_mode_success(z, labels2, ok, 4, MODES)
    # codes 2 and 3 attempt C: 10 + 5 of their 20 episodes succeed in C
    assert sr == pytest.approx({"A": 1.0, "B": 1.0, "C": 0.75, "D": 0.0})


def test_latent_metrics_without_success_are_undefined():
    z, labels, ok = _forced(["A", "B"], n=3)
    none = [False] * len(ok)
    assert MM.latent_mode_map(z, labels, none, 2) == [None, None]
    assert math.isnan(MM.purity(z, labels, none, 2))
    assert all(math.isnan(v) for v in MM.latent_nmi_ari(z, labels, none))
    assert MM.forced_mode_success(z, labels, none, 2, ("A", "B")) == {"A": 0.0, "B": 0.0}


def test_map_agreement_is_invariant_to_permuted_codes():
    seed_a = ["A", "B", "C", "D", "E", "F", "G", "H"]
    seed_b = list(seed_a)
    random.Random(3).shuffle(seed_b)
    assert seed_b != seed_a and MM.map_agreement(seed_a, seed_b) == 1.0
    assert MM.map_agreement(seed_a, ["A", "A", "A", "A", "B", "B", "B", "B"]) == 0.25
    assert MM.map_agreement(["A", None], [None, "A"]) == 0.5
    assert math.isnan(MM.map_agreement([None, None], [None, None]))


def test_unrelated_maps_agree_at_chance_level_only():
    rng = np.random.default_rng(0)
    for n_modes, low, high in ((24, 0.2, 0.35), (1000, 0.0, 0.03)):
        modes = [f"m{i}" for i in range(n_modes)]
        values = [MM.map_agreement(list(rng.choice(modes, 8)), list(rng.choice(modes, 8)))
                  for _ in range(200)]
        assert low <= np.mean(values) <= high
