"""Audit 5: exact McNemar, power / Type-M / Type-S, minimum detectable effect."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from benchtrust.stats import (
    cell_probabilities,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_counts,
    power_exact,
    power_simulation,
)

CARD = dict(n=500, acc_old=0.80, acc_new=0.82, agreement=0.975, alpha=0.05)


def test_mcnemar_reference():
    assert round(float(mcnemar_exact(10, 2)), 4) == 0.0386
    assert float(mcnemar_exact(2, 10)) == float(mcnemar_exact(10, 2))


def test_mcnemar_matches_statsmodels_and_binomtest():
    rng = np.random.default_rng(41)
    b = rng.integers(0, 60, size=200)
    c = rng.integers(0, 60, size=200)
    b[:5] = 0
    c[:3] = 0  # includes b = c = 0
    p = mcnemar_exact(b, c)
    assert p.shape == (200,)
    for bb, cc, pp in zip(b, c, p):
        ref = mcnemar([[17, bb], [cc, 4]], exact=True).pvalue
        assert pp == pytest.approx(ref, rel=1e-12, abs=1e-300)
        if bb + cc > 0:
            assert pp == pytest.approx(stats.binomtest(int(bb), int(bb + cc)).pvalue, rel=1e-9)
    assert np.all(p <= 1.0)
    assert p[np.flatnonzero((b == 0) & (c == 0))[0]] == 1.0


def test_paired_counts():
    a = np.array([1, 1, 0, 0, 1, 0, 1], dtype=bool)
    b = np.array([1, 0, 1, 0, 1, 0, 0], dtype=bool)
    pc = paired_counts(a, b)
    assert (int(pc.both), int(pc.only_a), int(pc.only_b), int(pc.neither)) == (2, 2, 1, 2)
    rng = np.random.default_rng(42)
    x = rng.random((4, 100)) < 0.7
    y = rng.random((4, 100)) < 0.6
    pc = paired_counts(x, y)
    np.testing.assert_array_equal(pc.both + pc.only_a + pc.only_b + pc.neither, 100)
    np.testing.assert_array_equal(pc.both + pc.only_a, x.sum(axis=1))
    with pytest.raises(ValueError):
        paired_counts(x, y[:, :50])


def test_cell_probabilities():
    both, only_old, only_new, neither = cell_probabilities(0.80, 0.82, 0.975)
    assert (both, only_old, only_new, neither) == pytest.approx((0.7975, 0.0025, 0.0225, 0.1775))
    assert both + only_old == pytest.approx(0.80)
    assert both + only_new == pytest.approx(0.82)
    with pytest.raises(ValueError):
        cell_probabilities(0.80, 0.90, 0.975)  # |Δ| > disagreement


def test_power_reference_card_et_al():
    res = power_simulation(**CARD, n_sims=20_000, seed=0)
    assert abs(res.power - 0.800) <= 0.01
    assert abs(res.type_m - 1.118) <= 0.03
    assert round(res.type_s, 3) == 0.0
    assert res.mean_effect == pytest.approx(0.02, abs=0.002)


def test_power_exact_reference_card_et_al():
    res = power_exact(**CARD)
    assert abs(res.power - 0.800) <= 0.01
    assert abs(res.type_m - 1.118) <= 0.03
    assert round(res.type_s, 3) == 0.0


def test_power_simulation_deterministic():
    a = power_simulation(**CARD, n_sims=3000, seed=7)
    b = power_simulation(**CARD, n_sims=3000, seed=7)
    c = power_simulation(**CARD, n_sims=3000, seed=8)
    assert a == b
    assert a != c


def _literal_card(n, acc_old, acc_new, agreement, alpha, n_sims, seed):
    """Card et al.'s loop, vectorised: multinomial 2×2 draws and the exact McNemar test."""
    both, only_old, only_new, neither = cell_probabilities(acc_old, acc_new, agreement)
    rng = np.random.default_rng(seed)
    tables = rng.multinomial(n, [both, only_old, only_new, neither], size=n_sims)
    b_old, b_new = tables[:, 1], tables[:, 2]
    diff = (b_new - b_old) / n
    sig = mcnemar_exact(b_new, b_old) <= alpha
    true = acc_new - acc_old
    power = np.mean(sig & (np.sign(diff) == np.sign(true)))
    type_m = np.mean(np.abs(diff[sig])) / abs(true)
    type_s = np.mean(np.sign(diff[sig]) != np.sign(true))
    return power, type_m, type_s


@pytest.mark.parametrize(
    "cfg",
    [
        dict(n=500, acc_old=0.80, acc_new=0.82, agreement=0.975, alpha=0.05),
        dict(n=1000, acc_old=0.70, acc_new=0.72, agreement=0.42, alpha=0.05),  # Card's lower bound
        dict(n=300, acc_old=0.65, acc_new=0.60, agreement=0.85, alpha=0.05),  # negative Δ
        dict(n=2000, acc_old=0.50, acc_new=0.52, agreement=0.70, alpha=0.01),
    ],
)
def test_simulation_agrees_with_exact_and_multinomial(cfg):
    n_sims = 20_000
    sim = power_simulation(**cfg, n_sims=n_sims, seed=1)
    ex = power_exact(**cfg)
    lit_power, lit_m, lit_s = _literal_card(**cfg, n_sims=n_sims, seed=2)
    se = math.sqrt(max(ex.power * (1 - ex.power), 1e-4) / n_sims)
    assert abs(sim.power - ex.power) < 5 * se
    assert abs(lit_power - ex.power) < 5 * se
    assert sim.type_m == pytest.approx(ex.type_m, rel=0.04)
    assert lit_m == pytest.approx(ex.type_m, rel=0.04)
    assert abs(sim.type_s - ex.type_s) < 0.01 and abs(lit_s - ex.type_s) < 0.01


@pytest.mark.parametrize(
    ("n", "acc_old", "acc_new", "agreement", "alpha"),
    [(30, 0.6, 0.7, 0.7, 0.05), (25, 0.5, 0.45, 0.6, 0.1), (40, 0.8, 0.9, 0.85, 0.05)],
)
def test_power_exact_brute_force_enumeration(n, acc_old, acc_new, agreement, alpha):
    """Sum over every table of the multinomial (both and neither lumped) at small n."""
    _, p_old, p_new, _ = cell_probabilities(acc_old, acc_new, agreement)
    true = acc_new - acc_old
    right = wrong = abs_sum = 0.0
    for b_old in range(n + 1):
        for b_new in range(n + 1 - b_old):
            cells = [b_old, b_new, n - b_old - b_new]
            pr = stats.multinomial.pmf(cells, n, [p_old, p_new, 1 - p_old - p_new])
            if mcnemar_exact(b_new, b_old) <= alpha:
                diff = (b_new - b_old) / n
                abs_sum += pr * abs(diff)
                if np.sign(diff) == np.sign(true):
                    right += pr
                else:
                    wrong += pr
    ex = power_exact(n, acc_old, acc_new, agreement, alpha)
    assert ex.power == pytest.approx(right, abs=1e-12)
    assert ex.type_s == pytest.approx(wrong / (right + wrong), abs=1e-12)
    assert ex.type_m == pytest.approx(abs_sum / (right + wrong) / abs(true), rel=1e-10)


def test_power_sign_symmetry_and_zero_effect():
    up = power_exact(500, 0.80, 0.82, 0.975)
    down = power_exact(500, 0.82, 0.80, 0.975)
    assert up.power == pytest.approx(down.power, rel=1e-12)
    assert up.type_m == pytest.approx(down.type_m, rel=1e-12)
    assert down.mean_effect < 0
    with pytest.raises(ValueError):
        power_simulation(500, 0.8, 0.8, 0.9)


def test_minimum_detectable_effect_simulation():
    kw = dict(n=500, acc=0.80, agreement=0.975, alpha=0.05, power=0.8, n_sims=10_000, seed=3)
    mde = minimum_detectable_effect(**kw, tol=1e-4)
    assert 0.015 < mde < 0.025
    assert minimum_detectable_effect(**kw, tol=1e-4) == mde  # deterministic
    # bracketed: power at the MDE reaches 0.8, just below it does not (same seed)
    at = power_simulation(500, 0.80, 0.80 + mde, 0.975, n_sims=10_000, seed=3).power
    below = power_simulation(500, 0.80, 0.80 + mde - 2e-4, 0.975, n_sims=10_000, seed=3).power
    assert at >= 0.8 > below


def test_minimum_detectable_effect_exact_and_agreement():
    mde_exact = minimum_detectable_effect(500, 0.80, 0.975, method="exact", tol=1e-5)
    assert power_exact(500, 0.80, 0.80 + mde_exact, 0.975).power >= 0.8
    assert power_exact(500, 0.80, 0.80 + mde_exact - 2e-5, 0.975).power < 0.8
    mde_sim = minimum_detectable_effect(500, 0.80, 0.975, n_sims=20_000, seed=0)
    assert mde_sim == pytest.approx(mde_exact, abs=0.001)
    # more disagreement (lower agreement) needs a larger effect
    assert minimum_detectable_effect(500, 0.80, 0.90, method="exact") > mde_exact


def test_minimum_detectable_effect_unreachable_is_nan():
    assert math.isnan(minimum_detectable_effect(20, 0.8, 0.99, n_sims=2000))
    assert math.isnan(minimum_detectable_effect(100, 0.8, 1.0, n_sims=2000))
