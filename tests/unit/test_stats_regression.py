"""Audit 12: version regression against same-configuration churn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchtrust.stats import flips_exceed_churn, mcnemar_exact, pairwise_churn, version_regression


def test_version_regression_by_hand():
    old = np.array([1, 1, 1, 1, 0, 0, 1, 0, 1, 1])
    new = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 1])
    r = version_regression(old, new)
    assert (r.negative_flips, r.positive_flips) == (3, 1)
    assert r.negative_flip_rate == 0.3 and r.positive_flip_rate == 0.1
    assert r.net_delta == pytest.approx(new.mean() - old.mean())
    assert r.mcnemar_p == pytest.approx(float(mcnemar_exact(1, 3)))
    assert r.churn is None and r.exceeds_churn is None and r.churn_p_value is None


def test_churn_rule():
    n = 1000
    # churn 0.04 -> an unchanged system shows ~2% negative flips
    assert flips_exceed_churn(20, n, 0.04) > 0.3
    assert flips_exceed_churn(60, n, 0.04) < 1e-6
    assert flips_exceed_churn(60, n, 0.04) == pytest.approx(stats.binomtest(60, n, 0.02, alternative="greater").pvalue)
    assert flips_exceed_churn(1, n, 0.0) == 0.0
    with pytest.raises(ValueError):
        flips_exceed_churn(1, n, 1.5)

    rng = np.random.default_rng(101)
    old = rng.random(n) < 0.8
    new = old.copy()
    new[rng.choice(np.flatnonzero(old), 60, replace=False)] = False
    r = version_regression(old, new, churn=0.04)
    assert r.churn_negative_rate == 0.02
    assert r.exceeds_churn is True
    r = version_regression(old, new, churn=0.2)
    assert r.exceeds_churn is False


def test_churn_rule_type_one_error_on_reruns():
    """Two reruns of one unchanged configuration rarely 'exceed churn' (heterogeneous items)."""
    rng = np.random.default_rng(102)
    n, sims, alpha = 800, 400, 0.05
    p_item = rng.beta(0.3, 0.15, n)  # most items stable, a few flaky
    true_churn = float(np.mean(2 * p_item * (1 - p_item)))
    rejections = 0
    for _ in range(sims):
        runs = rng.random((n, 2)) < p_item[:, None]
        res = version_regression(runs[:, 0], runs[:, 1], churn=true_churn, alpha=alpha)
        rejections += bool(res.exceeds_churn)
    assert rejections / sims <= alpha + 0.02
    # and the churn estimator from many reruns recovers the true churn
    runs = rng.random((n, 30)) < p_item[:, None]
    assert pairwise_churn(runs) == pytest.approx(true_churn, abs=0.02)
