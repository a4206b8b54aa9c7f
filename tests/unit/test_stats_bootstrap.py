"""Audit 7: joint item bootstrap and ranking stability."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchtrust.stats import bootstrap_accuracy, kendall_tau_b, ranking_stability


def _correlated_correctness(rng, n_models, n_items, skill):
    difficulty = rng.random(n_items)
    noise = rng.random((n_models, n_items))
    return (0.5 * noise + 0.8 * difficulty) < (np.asarray(skill)[:, None] + 0.2)


def test_bootstrap_full_size_correctness():
    """10 models × 14,000 items × 10,000 reps (the performance target).

    Timing is not asserted here; measured 0.6–0.8 s on the 2-core dev machine (see the docstring
    of ``bootstrap_accuracy``).
    """
    rng = np.random.default_rng(81)
    correct = _correlated_correctness(rng, 10, 14_000, np.linspace(0.55, 0.75, 10))
    boot = bootstrap_accuracy(correct, reps=10_000, seed=0)
    assert boot.shape == (10_000, 10)
    p = correct.mean(axis=1)
    se = np.sqrt(p * (1 - p) / 14_000)
    assert np.all(np.abs(boot.mean(axis=0) - p) < 5 * se / np.sqrt(10_000))
    np.testing.assert_allclose(boot.std(axis=0), se, rtol=0.05)
    # every replicate is an exact multiple of 1/n
    np.testing.assert_allclose(boot * 14_000, np.round(boot * 14_000), atol=1e-6)


def test_bootstrap_same_seed_same_result():
    rng = np.random.default_rng(82)
    correct = rng.random((4, 500)) < 0.6
    a = bootstrap_accuracy(correct, reps=500, seed=3)
    b = bootstrap_accuracy(correct, reps=500, seed=3)
    c = bootstrap_accuracy(correct, reps=500, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # chunking does not change the distribution's summary much, and shape is kept
    d = bootstrap_accuracy(correct, reps=500, seed=3, chunk=77)
    assert d.shape == a.shape


def test_bootstrap_matches_naive_index_bootstrap_including_pairing():
    """Pattern-compressed multinomial vs resampled item indices: same mean, SD and correlation."""
    rng = np.random.default_rng(83)
    correct = _correlated_correctness(rng, 3, 300, [0.5, 0.55, 0.6])
    reps = 20_000
    fast = bootstrap_accuracy(correct, reps=reps, seed=1)
    idx = rng.integers(0, 300, size=(reps, 300))
    naive = correct[:, idx].mean(axis=2).T  # (reps, 3)
    np.testing.assert_allclose(fast.mean(axis=0), naive.mean(axis=0), atol=0.002)
    np.testing.assert_allclose(fast.std(axis=0), naive.std(axis=0), rtol=0.05)
    cf, cn = np.corrcoef(fast.T), np.corrcoef(naive.T)
    np.testing.assert_allclose(cf, cn, atol=0.03)
    assert cf[0, 1] > 0.2  # the pairing is kept: correlated models stay correlated


def test_bootstrap_non_binary_scores():
    rng = np.random.default_rng(84)
    scores = rng.random((2, 200))
    boot = bootstrap_accuracy(scores, reps=4000, seed=0)
    np.testing.assert_allclose(boot.mean(axis=0), scores.mean(axis=1), atol=0.005)
    np.testing.assert_allclose(boot.std(axis=0), scores.std(axis=1) / np.sqrt(200), rtol=0.08)


def test_kendall_tau_b_matches_scipy():
    rng = np.random.default_rng(85)
    for _ in range(100):
        m = int(rng.integers(2, 9))
        ref = rng.integers(0, 4, size=m).astype(float)
        rows = rng.integers(0, 4, size=(5, m)).astype(float)
        got = kendall_tau_b(ref, rows)
        for r, g in zip(rows, got):
            expected = stats.kendalltau(ref, r).statistic
            if np.isnan(expected):
                assert np.isnan(g)
            else:
                assert g == pytest.approx(expected, abs=1e-12)


def test_ranking_stability_separated_models():
    rng = np.random.default_rng(86)
    correct = _correlated_correctness(rng, 4, 3000, [0.3, 0.45, 0.6, 0.75])
    rs = ranking_stability(correct, reps=2000, seed=0)
    assert rs.leader == 3
    assert rs.p_top1_change == 0.0
    assert rs.tau_mean == pytest.approx(1.0)
    assert rs.tau_quantiles == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(rs.lomo_leader_flips, 0.0)


def test_ranking_stability_tied_leaders():
    rng = np.random.default_rng(87)
    n = 2000
    a = rng.random(n) < 0.7
    b = a.copy()
    # same accuracy, disagreeing on 200 items, 100 each way
    b[rng.choice(np.flatnonzero(a), 100, replace=False)] = False
    b[rng.choice(np.flatnonzero(~a), 100, replace=False)] = True
    assert a.sum() == b.sum()
    weak = rng.random(n) < 0.4
    correct = np.vstack([a, b, weak])
    rs = ranking_stability(correct, reps=4000, seed=1)
    assert rs.leader == 0  # first on ties
    assert 0.4 < rs.p_top1_change < 0.6
    assert rs.tau_mean < 1.0
    # dropping the weak model changes nothing; dropping either contender removes the instability
    assert rs.lomo_leader_flips[2] == pytest.approx(rs.p_top1_change)
    other = 1 - rs.leader
    assert rs.lomo_leader_flips[other] == 0.0
    assert rs.lomo_leader_flips[rs.leader] == 0.0


def test_ranking_stability_reuses_given_replicates():
    """leaderboard_stability draws the replicates once and hands them over: the result is the one ranking_stability
    gets by drawing them itself with the same seed, and replicates of the wrong shape are refused."""
    rng = np.random.default_rng(88)
    correct = _correlated_correctness(rng, 3, 500, [0.5, 0.55, 0.6])
    boot = bootstrap_accuracy(correct, reps=1000, seed=5)
    given, drawn = (
        ranking_stability(correct, reps=1000, seed=5, boot=boot),
        ranking_stability(correct, reps=1000, seed=5),
    )
    assert (given.tau_mean, given.tau_quantiles, given.leader, given.p_top1_change) == (
        drawn.tau_mean,
        drawn.tau_quantiles,
        drawn.leader,
        drawn.p_top1_change,
    )
    np.testing.assert_array_equal(given.lomo_leader_flips, drawn.lomo_leader_flips)
    with pytest.raises(ValueError, match="boot must have shape"):
        ranking_stability(correct, reps=999, seed=5, boot=boot)
