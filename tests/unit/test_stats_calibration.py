"""Audit 11: calibration and answer-position bias."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from benchtrust.stats import (
    answer_position_bias,
    auroc,
    brier_score,
    expected_calibration_error,
    reliability_table,
)


def _bin_exact(conf: float, n_bins: int) -> int:
    """Bin b with b/B ≤ conf < (b+1)/B, the edges being the written decimals 0.1, 0.2, … (i.e. the
    floats nearest b/B: conf = 0.3 belongs to [0.3, 0.4) even though the float 0.3 is a hair below
    3/10); 1.0 goes in the last bin."""
    for b in range(n_bins):
        if b / n_bins <= conf < (b + 1) / n_bins:
            return b
    return n_bins - 1


def test_edges_are_written_decimals_not_exact_rationals():
    # the float 0.3 is below 3/10, but a confidence of "0.3" must land in [0.3, 0.4)
    assert Fraction(0.3) < Fraction(3, 10)
    t = reliability_table([0.3, 0.7, 0.6], [1, 1, 1])
    assert t.count[3] == 1 and t.count[7] == 1 and t.count[6] == 1


def _ece_loop(conf, correct, n_bins=10):
    bins = np.array([_bin_exact(float(c), n_bins) for c in conf])
    total = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            total += sel.sum() / len(conf) * abs(correct[sel].mean() - conf[sel].mean())
    return total


def test_reliability_table_edges():
    conf = np.array([0.0, 0.1, 0.3, 0.7, 0.99999, 1.0, 0.6, 0.29999999])
    correct = np.array([0, 1, 1, 0, 1, 1, 1, 0])
    t = reliability_table(conf, correct)
    expected_bins = [_bin_exact(c, 10) for c in conf]
    assert expected_bins == [0, 1, 3, 7, 9, 9, 6, 2]
    np.testing.assert_array_equal(t.count, np.bincount(expected_bins, minlength=10))
    assert t.accuracy[9] == 1.0 and t.confidence[9] == pytest.approx((0.99999 + 1.0) / 2)
    assert np.isnan(t.accuracy[4])


def test_ece_by_hand():
    conf = np.array([0.95, 0.95, 0.55, 0.55, 1.0])
    correct = np.array([1, 0, 1, 1, 1])
    # bin 9: conf mean (0.95+0.95+1)/3, acc 2/3 ; bin 5: conf 0.55, acc 1
    expected = 3 / 5 * abs(2 / 3 - (2.9 / 3)) + 2 / 5 * abs(1 - 0.55)
    assert expected_calibration_error(conf, correct) == pytest.approx(expected)


def test_ece_matches_exact_binning_loop():
    rng = np.random.default_rng(91)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        # include values that sit exactly on the edges
        conf = np.where(rng.random(n) < 0.3, rng.integers(0, 11, n) / 10, rng.random(n))
        correct = (rng.random(n) < conf).astype(float)
        assert expected_calibration_error(conf, correct) == pytest.approx(_ece_loop(conf, correct), abs=1e-12)


def test_ece_small_when_calibrated_large_when_overconfident():
    rng = np.random.default_rng(92)
    conf = rng.random(50_000)
    correct = rng.random(50_000) < conf
    assert expected_calibration_error(conf, correct) < 0.01
    assert expected_calibration_error(np.full(1000, 0.9), np.r_[np.ones(500), np.zeros(500)]) == (pytest.approx(0.4))
    with pytest.raises(ValueError):
        expected_calibration_error([1.2], [1])


def test_brier():
    assert brier_score([1.0, 0.0, 0.5], [1, 0, 1]) == pytest.approx(0.25 / 3)
    assert brier_score([0.0], [1]) == 1.0


def test_auroc_matches_mannwhitneyu_with_ties():
    rng = np.random.default_rng(93)
    for _ in range(100):
        n = int(rng.integers(2, 150))
        labels = rng.random(n) < 0.4
        if labels.all() or not labels.any():
            continue
        scores = np.round(rng.random(n) + 0.3 * labels, 1)  # ties
        u = stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
        n1, n0 = labels.sum(), (~labels).sum()
        assert auroc(scores, labels) == pytest.approx(u / (n1 * n0), abs=1e-12)


def test_auroc_extremes():
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5] * 4, [0, 1, 0, 1]) == 0.5
    assert math.isnan(auroc([0.1, 0.2], [1, 1]))


def test_position_bias_biased_model():
    rng = np.random.default_rng(94)
    gold = rng.integers(0, 4, 2000)  # balanced key
    pred = np.where(rng.random(2000) < 0.6, gold, 0)  # falls back to "A"
    res = answer_position_bias(pred, gold, n_options=4)
    ref = stats.chisquare(res.pred_counts, f_exp=res.gold_counts)
    assert res.chi2 == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.dof == 3 and res.p_value < 1e-10
    # accuracy by position: "A" is always right when gold is A
    assert res.accuracy_by_position[0] == 1.0
    assert np.all(res.accuracy_by_position[1:] < 0.7)
    np.testing.assert_array_equal(res.n_by_position, np.bincount(gold, minlength=4))


def test_position_bias_perfect_model_and_unparsed():
    gold = np.array([0, 0, 0, 1, 2, 2])  # unbalanced key
    res = answer_position_bias(gold, gold)
    assert res.chi2 == 0.0 and res.p_value == 1.0
    pred = np.array([0, -1, 0, 1, 2, 1])
    res = answer_position_bias(pred, gold, n_options=4)
    assert res.n_unparsed == 1
    np.testing.assert_array_equal(res.pred_counts, [2, 2, 1, 0])
    np.testing.assert_array_equal(res.gold_counts, [2, 1, 2, 0])  # the unparsed item is left out
    np.testing.assert_allclose(res.accuracy_by_position[:3], [2 / 3, 1.0, 0.5])
    assert np.isnan(res.accuracy_by_position[3])
    assert res.dof == 2
    # a never-gold position that is predicted
    res = answer_position_bias(np.array([3, 0, 1]), np.array([0, 0, 1]), n_options=4)
    assert res.chi2 == math.inf and res.p_value == 0.0
