"""Audits 2 and 3: run variance, churn, decoding spread and pass@k."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from benchtrust.stats import (
    decoding_summary,
    flip_share,
    independent_errors_sd,
    pairwise_churn,
    pass_at_k,
    run_variance,
    seed_sd,
)

C = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 1]])  # k = 3, 1, 0, 2; R = 3


def test_flip_share_and_churn_by_hand():
    assert flip_share(C) == 0.5
    assert pairwise_churn(C) == pytest.approx((0 + 2 / 3 + 0 + 2 / 3) / 4)
    assert math.isnan(pairwise_churn(C[:, :1]))


def test_churn_is_mean_pairwise_disagreement():
    rng = np.random.default_rng(51)
    for _ in range(100):
        n, r = int(rng.integers(1, 60)), int(rng.integers(2, 7))
        c = (rng.random((n, r)) < rng.random((n, 1))).astype(int)
        pairs = itertools.combinations(range(r), 2)
        brute = np.mean([np.mean(c[:, a] != c[:, b]) for a, b in pairs])
        assert pairwise_churn(c) == pytest.approx(brute, abs=1e-12)
        k = c.sum(axis=1)
        assert flip_share(c) == pytest.approx(np.mean((k > 0) & (k < r)))


@pytest.mark.parametrize("ddof", [0, 1])
def test_seed_sd_decomposes_into_independent_plus_covariance(ddof):
    """seed_sd² = independent_sd² + (1/n²) Σ_{i≠j} Cov_r(c_i, c_j), same ddof on both sides."""
    rng = np.random.default_rng(52)
    for _ in range(100):
        n, r = int(rng.integers(2, 40)), int(rng.integers(2, 8))
        run_shift = rng.normal(0, 1, size=(1, r))  # correlated errors across items within a run
        item_effect = rng.normal(0, 1, size=(n, 1))
        c = (item_effect + run_shift + rng.normal(0, 1, size=(n, r)) > 0).astype(int)
        cov = np.cov(c, ddof=ddof)  # (n, n) over runs
        off_diag = cov.sum() - np.trace(cov)
        lhs = seed_sd(c, ddof) ** 2
        rhs = independent_errors_sd(c, ddof) ** 2 + off_diag / n**2
        assert lhs == pytest.approx(rhs, abs=1e-12)
        assert seed_sd(c, ddof) == pytest.approx(np.std(c.mean(axis=0), ddof=ddof))


def test_independent_errors_matches_seed_sd_when_items_independent():
    rng = np.random.default_rng(53)
    p = rng.uniform(0.05, 0.95, size=(400, 1))
    c = (rng.random((400, 4000)) < p).astype(np.int8)
    ratio = seed_sd(c) / independent_errors_sd(c)
    assert ratio == pytest.approx(1.0, abs=0.05)


def test_run_variance_summary():
    rv = run_variance(C)
    assert (rv.n_items, rv.n_runs) == (4, 3)
    assert rv.mean_accuracy == pytest.approx(6 / 12)
    assert rv.flip_share == 0.5
    assert rv.seed_sd == pytest.approx(np.std([2 / 4, 2 / 4, 2 / 4]))
    p = np.array([1, 1 / 3, 0, 2 / 3])
    assert rv.independent_sd == pytest.approx(np.sqrt(np.sum(p * (1 - p))) / 4)
    with pytest.raises(ValueError):
        run_variance(np.ones(5))


def test_decoding_summary_by_hand():
    greedy = np.array([1, 1, 0, 1])
    samples = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 1], [0, 0, 0]])
    d = decoding_summary(greedy, samples)
    acc_k = np.array([2, 1, 3]) / 4
    assert d.greedy_accuracy == 0.75
    assert d.sample_mean == pytest.approx(acc_k.mean())
    assert d.gap == pytest.approx(0.75 - acc_k.mean())
    assert d.sample_sd == pytest.approx(np.std(acc_k, ddof=0))
    assert (d.sample_min, d.sample_max) == (0.25, 0.75)
    assert d.best_of_n == 0.75
    assert d.worst_of_n == 0.25


def test_pass_at_k_reference():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.30, abs=1e-4)
    assert round(float(pass_at_k(10, 3, 5)), 4) == 0.9167


def _humaneval_numpy(n: int, c: int, k: int) -> float:
    """The estimator exactly as in Chen et al. (2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def test_pass_at_k_vectorised_matches_reference_forms():
    rng = np.random.default_rng(54)
    n = rng.integers(1, 400, size=300)
    c = rng.integers(0, n + 1)
    for k in (1, 2, 5, 10, 100):
        ok = n >= k
        got = pass_at_k(n[ok], c[ok], k)
        for nn, cc, g in zip(n[ok], c[ok], got):
            assert g == pytest.approx(_humaneval_numpy(int(nn), int(cc), k), abs=1e-12)
            exact = 1 - math.comb(int(nn - cc), k) / math.comb(int(nn), k)
            assert g == pytest.approx(exact, abs=1e-12)
    np.testing.assert_allclose(pass_at_k(n, c, 1), c / n, atol=1e-12)


def test_pass_at_k_edges():
    assert pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 3, 3) == 1.0  # n - c = 2 < k
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
