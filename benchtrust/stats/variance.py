"""Audits 2 and 3: would a re-run give the same number?  Seed/run variance, churn, decoding spread.

Input convention: a correctness matrix ``c`` of shape (n_items, n_runs) with 0/1 (or bool) entries,
one column per run (seed, sample or re-execution of the same configuration).  kᵢ = Σ_r c_ir is the
number of runs that get item i right, pᵢ = kᵢ / R.

ddof choice: standard deviations default to ddof=0 (population form over the R runs).  This is what
AUDITS.md prescribes for decoding samples (audit 3), and for seeds (audit 2) it is the only choice
under which the seed SD and the independent-errors SD are on the same footing:

    seed_sd(c)² = independent_errors_sd(c)² + (1/n²)·Σ_{i≠j} Cov_r(c_i, c_j)

holds exactly with the same ddof on both sides (both functions take ``ddof``; ddof=1 multiplies both
variances by R/(R−1)).  The gap between them is therefore exactly the cross-item covariance of
errors across runs.  With few runs ddof=0 understates the run-to-run SD by √((R−1)/R); pass
``ddof=1`` for the unbiased variance when reporting the SD on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DecodingSummary",
    "RunVariance",
    "decoding_summary",
    "flip_share",
    "independent_errors_sd",
    "pairwise_churn",
    "pass_at_k",
    "run_variance",
    "seed_sd",
]


def _matrix(c: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(c, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected a (n_items, n_runs) matrix, got shape {arr.shape}")
    return arr


def flip_share(c: ArrayLike) -> float:
    """Share of items that are right in some runs and wrong in others (0 < kᵢ < R).

    Args:
        c: 0/1 matrix, shape (n_items, n_runs).
    """
    arr = _matrix(c)
    k = arr.sum(axis=1)
    return float(np.mean((k > 0) & (k < arr.shape[1])))


def pairwise_churn(c: ArrayLike) -> float:
    """Probability that two different runs disagree on a random item: meanᵢ 2kᵢ(R−kᵢ)/(R(R−1)).

    Args:
        c: 0/1 matrix, shape (n_items, n_runs), R = n_runs ≥ 2 (nan otherwise).
    """
    arr = _matrix(c)
    r = arr.shape[1]
    if r < 2:
        return float("nan")
    k = arr.sum(axis=1)
    return float(np.mean(2.0 * k * (r - k) / (r * (r - 1))))


def seed_sd(c: ArrayLike, ddof: int = 0) -> float:
    """Standard deviation over runs of the run accuracy (mean over items of each column).

    Args:
        c: 0/1 matrix, shape (n_items, n_runs).
        ddof: delta degrees of freedom (see the module docstring for why 0 is the default).
    """
    arr = _matrix(c)
    if arr.shape[1] - ddof <= 0:
        return float("nan")
    return float(np.std(arr.mean(axis=0), ddof=ddof))


def independent_errors_sd(c: ArrayLike, ddof: int = 0) -> float:
    """SD the run accuracy would have if items erred independently: √(Σᵢ pᵢ(1−pᵢ))/n, pᵢ = kᵢ/R.

    With ``ddof=1`` each pᵢ(1−pᵢ) is scaled by R/(R−1) (the unbiased per-item variance), matching
    ``seed_sd(c, ddof=1)``.

    Args:
        c: 0/1 matrix, shape (n_items, n_runs).
        ddof: 0 or 1, as for :func:`seed_sd`.
    """
    arr = _matrix(c)
    n, r = arr.shape
    if r - ddof <= 0 or n == 0:
        return float("nan")
    p = arr.mean(axis=1)
    return float(np.sqrt(np.sum(p * (1.0 - p)) * r / (r - ddof)) / n)


@dataclass(frozen=True)
class RunVariance:
    """Summary of audit 2 for one configuration run R times on n items."""

    n_items: int
    n_runs: int
    mean_accuracy: float
    flip_share: float
    pairwise_churn: float
    seed_sd: float
    independent_sd: float


def run_variance(c: ArrayLike, ddof: int = 0) -> RunVariance:
    """All audit-2 numbers for a (n_items, n_runs) 0/1 matrix."""
    arr = _matrix(c)
    return RunVariance(
        n_items=arr.shape[0],
        n_runs=arr.shape[1],
        mean_accuracy=float(arr.mean()) if arr.size else float("nan"),
        flip_share=flip_share(arr),
        pairwise_churn=pairwise_churn(arr),
        seed_sd=seed_sd(arr, ddof),
        independent_sd=independent_errors_sd(arr, ddof),
    )


@dataclass(frozen=True)
class DecodingSummary:
    """Audit 3: greedy decoding against K sampled decodings of the same items."""

    greedy_accuracy: float
    sample_mean: float
    gap: float  # greedy − mean of sample accuracies
    sample_sd: float  # ddof = 0 over the K samples
    sample_min: float
    sample_max: float
    best_of_n: float  # meanᵢ maxₖ cᵢₖ
    worst_of_n: float  # meanᵢ minₖ cᵢₖ


def decoding_summary(greedy: ArrayLike, samples: ArrayLike) -> DecodingSummary:
    """Compare greedy accuracy with the spread of sampled-decoding accuracies.

    Args:
        greedy: 0/1 correctness of the greedy decode, shape (n_items,).
        samples: 0/1 correctness of K samples, shape (n_items, K).
    """
    g = np.asarray(greedy, dtype=np.float64).ravel()
    s = _matrix(samples)
    if s.shape[0] != g.size:
        raise ValueError("greedy and samples must cover the same items")
    acc_k = s.mean(axis=0)
    return DecodingSummary(
        greedy_accuracy=float(g.mean()),
        sample_mean=float(acc_k.mean()),
        gap=float(g.mean() - acc_k.mean()),
        sample_sd=float(acc_k.std(ddof=0)),
        sample_min=float(acc_k.min()),
        sample_max=float(acc_k.max()),
        best_of_n=float(s.max(axis=1).mean()),
        worst_of_n=float(s.min(axis=1).mean()),
    )


def pass_at_k(n: ArrayLike, c: ArrayLike, k: int) -> NDArray[np.float64]:
    """Unbiased pass@k = 1 − C(n−c, k)/C(n, k) (Chen et al. 2021, HumanEval), vectorised.

    The paper's stable form is 1 − ∏_{j=n−c+1}^{n} (1 − k/j), which avoids huge binomial
    coefficients; with per-problem n and c a plain ``np.prod`` cannot be vectorised, so the product
    is taken in log space as a difference of one cumulative sum S[m] = Σ_{j≤m} log1p(−k/j)
    (terms with j ≤ k set to 0, never used): log ∏ = S[n] − S[n−c].  When n − c < k every size-k
    subset contains a correct sample and pass@k = 1.

    Args:
        n: samples drawn per problem, shape broadcastable with ``c``; every n ≥ k.
        c: correct samples per problem, 0 ≤ c ≤ n.
        k: the k of pass@k, ≥ 1.

    Returns:
        pass@k per problem, float array of the broadcast shape.  Reference n=10, c=3:
        pass@1 = 0.30, pass@5 = 0.9167.
    """
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    if k < 1:
        raise ValueError("k must be >= 1")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= c <= n")
    if np.any(n_arr < k):
        raise ValueError("need n >= k samples per problem")
    n_max = int(n_arr.max()) if n_arr.size else 0
    j = np.arange(1, n_max + 1, dtype=np.float64)
    terms = np.zeros_like(j)
    safe = j > k
    terms[safe] = np.log1p(-k / j[safe])
    s = np.concatenate([[0.0], np.cumsum(terms)])  # s[m] = Σ_{j ≤ m}
    log_ratio = s[n_arr] - s[n_arr - c_arr]
    out = 1.0 - np.exp(log_ratio)
    return np.where(n_arr - c_arr < k, 1.0, out)
