"""Audit 4: does the wording or format of the prompt move the score?

Conventions: per-prompt accuracies ``acc`` have shape (..., n_prompts) (prompts on the last axis, so
a (n_models, n_prompts) table gives one number per model); item-level outcomes ``y`` have shape
(n_items, n_prompts); model scores for Kendall's W have shape (n_prompts, n_models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "PromptSummary",
    "combined_performance_score",
    "kendalls_w",
    "prompt_spread",
    "prompt_summary",
    "prosa_pss",
]


def prompt_spread(acc: ArrayLike) -> NDArray[np.float64]:
    """max_p acc − min_p acc over prompts (last axis); shape (...)."""
    a = np.asarray(acc, dtype=np.float64)
    return np.asarray(a.max(axis=-1) - a.min(axis=-1))


def combined_performance_score(max_p: ArrayLike, avg_p: ArrayLike) -> NDArray[np.float64]:
    """CPS = MaxP·(1 − (MaxP − AvgP)) (Mizrahi et al., "State of What Art?").

    Rewards a high best-prompt score but discounts it by the drop to the average prompt.
    Reference: MaxP 0.80, AvgP 0.6172093023255814 → 0.6537674418604651.
    """
    mx = np.asarray(max_p, dtype=np.float64)
    av = np.asarray(avg_p, dtype=np.float64)
    return mx * (1.0 - (mx - av))


@dataclass(frozen=True)
class PromptSummary:
    """Per-model prompt-sensitivity numbers; each field has the input's leading shape (...)."""

    spread: NDArray[np.float64]
    max_p: NDArray[np.float64]
    avg_p: NDArray[np.float64]
    cps: NDArray[np.float64]


def prompt_summary(acc: ArrayLike) -> PromptSummary:
    """Spread, MaxP, AvgP and CPS from per-prompt accuracies of shape (..., n_prompts)."""
    a = np.asarray(acc, dtype=np.float64)
    mx = a.max(axis=-1)
    av = a.mean(axis=-1)
    return PromptSummary(
        spread=np.asarray(mx - a.min(axis=-1)),
        max_p=np.asarray(mx),
        avg_p=np.asarray(av),
        cps=combined_performance_score(mx, av),
    )


def prosa_pss(y: ArrayLike) -> float:
    """ProSA prompt sensitivity score: meanᵢ of the mean over prompt pairs j<k of |Y_ij − Y_ik|.

    For binary Y with mᵢ correct prompts out of P this is mᵢ(P − mᵢ)/C(P, 2).  Written by hand
    (ProSA ships no library); for general scores the pairwise mean absolute difference is computed
    from the sorted row, Σ_{j<k} |y_(k) − y_(j)| = Σ_k y_(k)·(2k − P + 1) with 0-based k, in
    O(P log P).

    Args:
        y: outcomes, shape (n_items, n_prompts), P ≥ 2.

    Returns:
        PSS in [0, 1] for 0/1 input (0 = no item depends on the prompt).
    """
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError("y must have shape (n_items, n_prompts) with n_prompts >= 2")
    p = arr.shape[1]
    s = np.sort(arr, axis=1)
    weights = 2.0 * np.arange(p) - p + 1.0
    pair_sum = s @ weights
    return float(np.mean(pair_sum / (p * (p - 1) / 2.0)))


def kendalls_w(scores: ArrayLike) -> float:
    """Kendall's coefficient of concordance W of model rankings across prompts, tie-corrected.

    Each prompt (rater) ranks the models (objects) by score with average ranks for ties
    (``scipy.stats.rankdata``); with m prompts, n models, Rⱼ the rank sum of model j and
    S = Σⱼ (Rⱼ − m(n+1)/2)²:

        W = 12·S / (m²(n³ − n) − m·Σ_prompts Σ_ties (t³ − t)).

    W = 1: every prompt orders the models the same way; W ≈ 0: no agreement.  It equals the
    tie-corrected Friedman statistic divided by m(n − 1) (``scipy.stats.friedmanchisquare`` with the
    models as treatments and the prompts as blocks), which the tests check; scipy offers no W
    itself.

    Args:
        scores: shape (n_prompts, n_models), n_models ≥ 2.

    Returns:
        W in [0, 1]; nan when every prompt ties all models.
    """
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError("scores must have shape (n_prompts, n_models) with n_models >= 2")
    m, n = arr.shape
    ranks = stats.rankdata(arr, axis=1)
    rank_sums = ranks.sum(axis=0)
    s = float(np.sum((rank_sums - m * (n + 1) / 2.0) ** 2))
    tie_term = 0.0
    for row in arr:
        _, counts = np.unique(row, return_counts=True)
        tie_term += float(np.sum(counts.astype(np.float64) ** 3 - counts))
    denom = m**2 * (n**3 - n) - m * tie_term
    if denom <= 0:
        return float("nan")
    return float(12.0 * s / denom)
