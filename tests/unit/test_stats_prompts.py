"""Audit 4: prompt sensitivity."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from benchtrust.stats import (
    combined_performance_score,
    kendalls_w,
    prompt_spread,
    prompt_summary,
    prosa_pss,
)


def test_cps_reference():
    assert float(combined_performance_score(0.80, 0.6172093023255814)) == pytest.approx(0.6537674418604651, abs=1e-15)


def test_prompt_summary_per_model():
    acc = np.array([[0.6, 0.8, 0.7], [0.5, 0.5, 0.5]])
    s = prompt_summary(acc)
    np.testing.assert_allclose(s.spread, [0.2, 0.0])
    np.testing.assert_allclose(prompt_spread(acc), [0.2, 0.0])
    np.testing.assert_allclose(s.max_p, [0.8, 0.5])
    np.testing.assert_allclose(s.avg_p, [0.7, 0.5])
    np.testing.assert_allclose(s.cps, [0.8 * (1 - 0.1), 0.5])


def test_prosa_pss_binary_formula():
    rng = np.random.default_rng(61)
    for _ in range(100):
        n, p = int(rng.integers(1, 50)), int(rng.integers(2, 12))
        y = (rng.random((n, p)) < rng.random((n, 1))).astype(int)
        m = y.sum(axis=1)
        expected = np.mean(m * (p - m) / math.comb(p, 2))
        assert prosa_pss(y) == pytest.approx(expected, abs=1e-12)


def test_prosa_pss_general_scores_brute_force():
    rng = np.random.default_rng(62)
    for _ in range(50):
        n, p = int(rng.integers(1, 20)), int(rng.integers(2, 8))
        y = rng.random((n, p))
        pairs = list(itertools.combinations(range(p), 2))
        brute = np.mean([np.mean([abs(row[j] - row[k]) for j, k in pairs]) for row in y])
        assert prosa_pss(y) == pytest.approx(brute, abs=1e-12)


def test_prosa_pss_extremes():
    assert prosa_pss(np.ones((5, 4))) == 0.0
    assert prosa_pss(np.array([[1, 0], [0, 1]])) == 1.0
    with pytest.raises(ValueError):
        prosa_pss(np.ones((5, 1)))


def test_kendalls_w_matches_friedman_with_ties():
    rng = np.random.default_rng(63)
    for _ in range(100):
        m, n = int(rng.integers(2, 12)), int(rng.integers(3, 9))  # prompts, models
        scores = rng.integers(0, 5, size=(m, n)).astype(float)  # many ties
        if np.all(scores == scores[:, :1]):
            continue
        chi2 = stats.friedmanchisquare(*scores.T).statistic
        assert kendalls_w(scores) == pytest.approx(chi2 / (m * (n - 1)), rel=1e-10)


def test_kendalls_w_extremes():
    base = np.array([0.5, 0.6, 0.7, 0.8])
    assert kendalls_w(np.vstack([base, base + 0.01, base * 0.9])) == pytest.approx(1.0)
    assert kendalls_w(np.vstack([base, base[::-1]])) == pytest.approx(0.0)
    assert math.isnan(kendalls_w(np.ones((3, 4))))
