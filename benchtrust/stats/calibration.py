"""Audit 11: are the model's confidences meaningful, and does it favour an answer position?

Conventions: ``confidence`` is the model's probability that its answer is right, shape (n_items,),
values in [0, 1]; ``correct`` is 0/1 of the same shape.  Answer positions are integer option
indices 0..K−1 (A=0, B=1, …), shape (n_items,); a negative prediction means "no parsable answer".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "PositionBias",
    "ReliabilityTable",
    "answer_position_bias",
    "auroc",
    "brier_score",
    "expected_calibration_error",
    "reliability_table",
]


def _conf_correct(confidence: ArrayLike, correct: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    corr = np.asarray(correct, dtype=np.float64).ravel()
    if conf.shape != corr.shape:
        raise ValueError("confidence and correct must have the same length")
    if np.any(~np.isfinite(conf)) or np.any((conf < 0) | (conf > 1)):
        raise ValueError("confidence must lie in [0, 1]")
    return conf, corr


class ReliabilityTable(NamedTuple):
    """Per-bin counts, accuracy and mean confidence, each shape (n_bins,); nan for empty bins."""

    edges: NDArray[np.float64]
    count: NDArray[np.int64]  # type: ignore[assignment]  # a public field name; it shadows tuple.count on purpose
    accuracy: NDArray[np.float64]
    confidence: NDArray[np.float64]


def reliability_table(confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10) -> ReliabilityTable:
    """Equal-width reliability diagram data: bins [0, 1/B), [1/B, 2/B), …, [(B−1)/B, 1].

    Bin b holds b/B ≤ conf < (b+1)/B; confidence 1.0 goes in the last bin.  Edges are
    ``arange(B+1)/B`` so that e.g. 0.3 is exactly the float nearest 3/10 and conf = 0.3 falls in
    [0.3, 0.4) (``linspace`` would give 0.30000000000000004 and put it one bin lower).

    Args:
        confidence: shape (n_items,), in [0, 1].
        correct: shape (n_items,), 0/1.
        n_bins: number of bins B.
    """
    conf, corr = _conf_correct(confidence, correct)
    edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins
    bins = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(bins, weights=corr, minlength=n_bins) / count
        mean_conf = np.bincount(bins, weights=conf, minlength=n_bins) / count
    return ReliabilityTable(edges, count, acc, mean_conf)


def expected_calibration_error(confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10) -> float:
    """ECE = Σ_b |B_b|/n · |acc_b − conf_b| over :func:`reliability_table`'s equal-width bins.

    Written out (as AUDITS.md asks) rather than taken from a library, whose binning conventions
    (edge inclusion, where 1.0 goes, top-label vs per-class) differ.
    """
    table = reliability_table(confidence, correct, n_bins)
    n = int(table.count.sum())
    if n == 0:
        return float("nan")
    filled = table.count > 0
    gaps = np.abs(table.accuracy[filled] - table.confidence[filled])
    return float(np.sum(table.count[filled] / n * gaps))


def brier_score(confidence: ArrayLike, correct: ArrayLike) -> float:
    """Brier score of the confidence-of-correctness: mean (confidence − correct)²; 0 is perfect."""
    conf, corr = _conf_correct(confidence, correct)
    return float(np.mean((conf - corr) ** 2)) if conf.size else float("nan")


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve by the rank-sum (Mann–Whitney) identity.

    AUROC = (Σ_{positives} rank − n₁(n₁+1)/2) / (n₁·n₀), ranks from ``scipy.stats.rankdata`` with
    average ranks for ties (a tied positive/negative pair counts ½).  Equals
    ``mannwhitneyu(pos, neg).statistic / (n₁·n₀)``.  Typical use: how well the confidence separates
    right from wrong answers.

    Args:
        scores: shape (n,), higher = more likely positive.
        labels: shape (n,), 0/1 (1 = positive).

    Returns:
        AUROC in [0, 1]; nan if either class is empty.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if s.shape != y.shape:
        raise ValueError("scores and labels must have the same length")
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


@dataclass(frozen=True)
class PositionBias:
    """Answer-position audit.

    pred_counts / gold_counts: shape (K,), over the items with a parsable prediction.
    chi2, dof, p_value: goodness-of-fit of the predicted-position counts to the gold-position
    distribution.  accuracy_by_position / n_by_position: shape (K,), accuracy among items whose gold
    answer is at that position (all items; an unparsable prediction counts as wrong); nan if none.
    n_unparsed: items with a negative prediction.
    """

    pred_counts: NDArray[np.int64]
    gold_counts: NDArray[np.int64]
    chi2: float
    dof: int
    p_value: float
    accuracy_by_position: NDArray[np.float64]
    n_by_position: NDArray[np.int64]
    n_unparsed: int


def answer_position_bias(predicted: ArrayLike, gold: ArrayLike, n_options: int | None = None) -> PositionBias:
    """Does the model pick some answer positions more often than the key has them?

    Test: ``scipy.stats.chisquare(f_obs=pred_counts, f_exp=gold_counts)``, a goodness-of-fit test
    with the gold-position distribution of the same items taken as the expected distribution
    (df = K' − 1, K' = positions with a gold answer).  Not ``chi2_contingency``: that would treat
    predictions and gold as two independent samples, but they are paired on the same items, and the
    gold key is fixed by the benchmark, not sampled.  The question is "does the model over-pick a
    position beyond what the key contains": a perfect model gives χ² = 0 however unbalanced the key
    is.  Read it together with ``accuracy_by_position``.  A position that is never gold
    but is predicted gives χ² = inf, p = 0 (the model invents a preference the key cannot explain).
    Items with unparsable predictions are left out of the χ² (both counts), but count as wrong in
    the per-position accuracy.

    Args:
        predicted: predicted option index per item, shape (n_items,); negative = unparsable.
        gold: gold option index per item, shape (n_items,), 0..K−1.
        n_options: K; inferred as max(index) + 1 if omitted.
    """
    pred = np.asarray(predicted, dtype=np.int64).ravel()
    gold_arr = np.asarray(gold, dtype=np.int64).ravel()
    if pred.shape != gold_arr.shape:
        raise ValueError("predicted and gold must have the same length")
    if np.any(gold_arr < 0):
        raise ValueError("gold indices must be >= 0")
    if n_options is None:
        k = int(max(pred.max(initial=-1), gold_arr.max(initial=-1)) + 1)
    else:
        k = int(n_options)
    if pred.max(initial=-1) >= k or gold_arr.max(initial=-1) >= k:
        raise ValueError("an index is >= n_options")
    parsed = pred >= 0
    pred_counts = np.bincount(pred[parsed], minlength=k)
    gold_counts = np.bincount(gold_arr[parsed], minlength=k)
    n_by_pos = np.bincount(gold_arr, minlength=k)
    hits = np.bincount(gold_arr, weights=(pred == gold_arr).astype(np.float64), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_by_pos = hits / n_by_pos

    support = gold_counts > 0
    dof = int(support.sum()) - 1
    if np.any(pred_counts[~support] > 0):
        chi2, p = float("inf"), 0.0
    elif dof < 1:
        chi2, p = float("nan"), float("nan")
    else:
        res = stats.chisquare(pred_counts[support], f_exp=gold_counts[support])
        chi2, p = float(res.statistic), float(res.pvalue)
    return PositionBias(
        pred_counts=pred_counts,
        gold_counts=gold_counts,
        chi2=chi2,
        dof=dof,
        p_value=p,
        accuracy_by_position=acc_by_pos,
        n_by_position=n_by_pos,
        n_unparsed=int((~parsed).sum()),
    )
