"""Audit 12: what changed between two versions (of a model, prompts or data) on the same items?

Convention: ``old_correct`` and ``new_correct`` are 0/1 (or bool) arrays of shape (n_items,),
aligned item by item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from benchtrust.stats.paired import mcnemar_exact, paired_counts

__all__ = ["VersionRegression", "flips_exceed_churn", "version_regression"]


def flips_exceed_churn(negative_flips: int, n_items: int, churn: float) -> float:
    """One-sided p-value that the negative flips exceed what same-configuration churn explains.

    Rule: ``churn`` is the pairwise churn of audit 2 (probability that two runs of one unchanged
    configuration disagree on an item).  Runs of one configuration are exchangeable, so half of
    those disagreements go each way and an unchanged system shows a negative flip rate of churn/2.
    The test is ``scipy.stats.binomtest(negative_flips, n_items, churn/2, alternative="greater")``.

    Caveats: the churn estimate is taken as known (its own sampling error is ignored); items are
    treated as independent.  Churn concentrated on a few unstable items makes the true null
    distribution (Poisson-binomial) narrower than the binomial, so on that account the test is
    conservative; correlated items (clusters) work the other way.

    Args:
        negative_flips: items right in the old version and wrong in the new.
        n_items: items compared.
        churn: pairwise churn rate in [0, 1].

    Returns:
        The p-value (1.0 when n_items is 0).
    """
    if not 0.0 <= churn <= 1.0:
        raise ValueError("churn must lie in [0, 1]")
    if n_items == 0:
        return 1.0
    res = stats.binomtest(int(negative_flips), int(n_items), churn / 2.0, alternative="greater")
    return float(res.pvalue)


@dataclass(frozen=True)
class VersionRegression:
    """Audit 12 summary.

    negative_flip_rate = mean 1[old right ∧ new wrong]; positive_flip_rate = mean 1[old wrong ∧ new
    right]; net_delta = acc_new − acc_old = positive − negative; mcnemar_p: exact McNemar on the two
    flip counts.  When a churn rate is given: churn_negative_rate = churn/2, churn_p_value from
    :func:`flips_exceed_churn`, exceeds_churn = churn_p_value ≤ alpha; otherwise None.
    """

    n_items: int
    acc_old: float
    acc_new: float
    negative_flips: int
    positive_flips: int
    negative_flip_rate: float
    positive_flip_rate: float
    net_delta: float
    mcnemar_p: float
    churn: float | None
    churn_negative_rate: float | None
    churn_p_value: float | None
    exceeds_churn: bool | None


def version_regression(
    old_correct: ArrayLike,
    new_correct: ArrayLike,
    churn: float | None = None,
    alpha: float = 0.05,
) -> VersionRegression:
    """Flip rates between two versions, McNemar on the flips, and the comparison with churn.

    Args:
        old_correct: shape (n_items,), 0/1.
        new_correct: shape (n_items,), 0/1, same items.
        churn: pairwise churn of the old (or new) configuration across reruns
            (:func:`benchtrust.stats.variance.pairwise_churn`); None to skip the comparison.
        alpha: level for ``exceeds_churn``.
    """
    old = np.asarray(old_correct).astype(bool).ravel()
    new = np.asarray(new_correct).astype(bool).ravel()
    if old.shape != new.shape:
        raise ValueError("old and new must cover the same items")
    n = old.size
    if n == 0:
        raise ValueError("no items")
    counts = paired_counts(old, new)
    neg = int(counts.only_a)
    pos = int(counts.only_b)
    p_churn = flips_exceed_churn(neg, n, churn) if churn is not None else None
    return VersionRegression(
        n_items=n,
        acc_old=float(old.mean()),
        acc_new=float(new.mean()),
        negative_flips=neg,
        positive_flips=pos,
        negative_flip_rate=neg / n,
        positive_flip_rate=pos / n,
        net_delta=(pos - neg) / n,
        mcnemar_p=float(mcnemar_exact(pos, neg)),
        churn=churn,
        churn_negative_rate=churn / 2.0 if churn is not None else None,
        churn_p_value=p_churn,
        exceeds_churn=(p_churn <= alpha) if p_churn is not None else None,
    )
