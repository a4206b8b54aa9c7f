"""Audit 1: how sure is one accuracy?  Small-n-safe intervals for a proportion k/n.

All interval functions take ``k`` (successes) and ``n`` (trials) as scalars or numpy arrays of any
broadcastable shape and return an :class:`Interval` of two float arrays of the broadcast shape
(0-d arrays for scalar input).  ``n == 0`` gives ``nan`` bounds (there is nothing to be sure about);
``k < 0`` or ``k > n`` raises ``ValueError``.

Never use the CLT ("Wald") interval p̂ ± z·√(p̂(1−p̂)/n) for benchmark accuracies below a few
hundred items: it collapses to [1, 1] at 10/10.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, stats

__all__ = [
    "Interval",
    "beta_posterior",
    "clopper_pearson",
    "clustered_se",
    "prob_a_beats_b",
    "wilson",
]


class Interval(NamedTuple):
    """Lower and upper bound of an interval; arrays of the broadcast input shape."""

    lo: NDArray[np.float64]
    hi: NDArray[np.float64]


def _check_counts(k: ArrayLike, n: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    k_arr = np.asarray(k, dtype=np.float64)
    n_arr = np.asarray(n, dtype=np.float64)
    k_arr, n_arr = np.broadcast_arrays(k_arr, n_arr)
    if np.any(n_arr < 0) or np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("need 0 <= k <= n")
    return k_arr, n_arr


def _z_from(conf: float, z: float | None) -> float:
    if z is not None:
        return float(z)
    if not 0.0 < conf < 1.0:
        raise ValueError("conf must be in (0, 1)")
    return float(stats.norm.ppf(0.5 + conf / 2.0))


def wilson(k: ArrayLike, n: ArrayLike, conf: float = 0.95, *, z: float | None = None) -> Interval:
    """Wilson score interval for k successes out of n.

    (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), with z = Φ⁻¹(1 − (1−conf)/2) unless ``z``
    is given (``z=1.96`` reproduces the usual hand calculation).

    Written out rather than calling ``statsmodels.stats.proportion.proportion_confint`` because it
    is the same closed form the SQL layer uses, so this is the reference that SQL is checked
    against; statsmodels is the oracle in the tests.  The bounds are set to exactly 0 at k = 0 and
    exactly 1 at k = n (mathematically they are; floating point can leave 1 − 1e-16).

    Args:
        k: successes, shape broadcastable with ``n``.
        n: trials.
        conf: two-sided confidence level (ignored when ``z`` is given).
        z: normal quantile to use directly.

    Returns:
        Interval(lo, hi) of the broadcast shape; nan where n == 0.
    """
    k_arr, n_arr = _check_counts(k, n)
    zz = _z_from(conf, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k_arr / n_arr
        z2n = zz * zz / n_arr
        centre = (p + z2n / 2.0) / (1.0 + z2n)
        half = zz * np.sqrt(p * (1.0 - p) / n_arr + z2n / (4.0 * n_arr)) / (1.0 + z2n)
        lo = np.where(k_arr == 0, 0.0, centre - half)
        hi = np.where(k_arr == n_arr, 1.0, centre + half)
    empty = n_arr == 0
    return Interval(np.where(empty, np.nan, lo), np.where(empty, np.nan, hi))


def clopper_pearson(k: ArrayLike, n: ArrayLike, conf: float = 0.95) -> Interval:
    """Clopper–Pearson ("exact") interval from beta quantiles (``scipy.stats.beta.ppf``).

    lo = Beta⁻¹(α/2; k, n−k+1), hi = Beta⁻¹(1−α/2; k+1, n−k), α = 1 − conf; lo is exactly 0 at k = 0
    and hi exactly 1 at k = n (the beta parameters are degenerate there).  Same as statsmodels'
    ``proportion_confint(method="beta")``.

    Args:
        k: successes, shape broadcastable with ``n``.
        n: trials.
        conf: two-sided confidence level.

    Returns:
        Interval(lo, hi) of the broadcast shape; nan where n == 0.
    """
    k_arr, n_arr = _check_counts(k, n)
    alpha = 1.0 - conf
    # Substitute harmless parameters where the beta is degenerate, then overwrite.
    a_lo = np.where(k_arr > 0, k_arr, 1.0)
    b_lo = n_arr - k_arr + 1.0
    a_hi = k_arr + 1.0
    b_hi = np.where(k_arr < n_arr, n_arr - k_arr, 1.0)
    lo = np.where(k_arr > 0, stats.beta.ppf(alpha / 2.0, a_lo, b_lo), 0.0)
    hi = np.where(k_arr < n_arr, stats.beta.ppf(1.0 - alpha / 2.0, a_hi, b_hi), 1.0)
    empty = n_arr == 0
    return Interval(np.where(empty, np.nan, lo), np.where(empty, np.nan, hi))


def beta_posterior(k: ArrayLike, n: ArrayLike, conf: float = 0.95, prior: tuple[float, float] = (1.0, 1.0)) -> Interval:
    """Equal-tailed credible interval of the Beta(k + a, n − k + b) posterior.

    With the default uniform prior (a, b) = (1, 1) this is Beta(k+1, n−k+1).  Unlike Clopper–Pearson
    the bounds never reach 0 or 1 (10/10 → [0.7151, 0.9977]).  ``n == 0`` gives nan, like the other
    intervals, although the posterior would then be the prior: a report should not print a prior as
    if it were a measurement.

    Args:
        k: successes, shape broadcastable with ``n``.
        n: trials.
        conf: credible mass.
        prior: Beta prior parameters (a, b), both > 0.

    Returns:
        Interval(lo, hi) of the broadcast shape; nan where n == 0.
    """
    k_arr, n_arr = _check_counts(k, n)
    a0, b0 = prior
    if a0 <= 0 or b0 <= 0:
        raise ValueError("prior parameters must be > 0")
    a = k_arr + a0
    b = n_arr - k_arr + b0
    tail = (1.0 - conf) / 2.0
    lo = stats.beta.ppf(tail, a, b)
    hi = stats.beta.ppf(1.0 - tail, a, b)
    empty = n_arr == 0
    return Interval(np.where(empty, np.nan, lo), np.where(empty, np.nan, hi))


def clustered_se(x: ArrayLike, clusters: ArrayLike) -> float:
    """Cluster-robust standard error of a mean accuracy when items group by subject (audit 1).

    Var = p̂(1−p̂)/N + (1/N²)·Σ_c Σ_{i≠j∈c} rᵢrⱼ,  r = x − p̂,

    with the within-cluster cross sum computed as (Σ_{i∈c} rᵢ)² − Σ_{i∈c} rᵢ² per cluster
    (``np.bincount``).  For scores that are not 0/1 the first term is taken as Σrᵢ²/N², which equals
    p̂(1−p̂)/N exactly for 0/1 data; the whole expression is then (1/N²)·Σ_c (Σ_{i∈c} rᵢ)², the CR0
    sandwich variance of an intercept-only regression.

    Relation to statsmodels: ``sm.OLS(x, ones).fit(cov_type="cluster", cov_kwds={"groups": g,
    "use_correction": False})`` gives exactly this variance; with the default
    ``use_correction=True`` statsmodels multiplies by G/(G−1)·(N−1)/(N−K) = G/(G−1) (K = 1
    parameter, G clusters).  No small-sample correction is applied here, as in the audit formula.
    Singleton clusters reduce it to the plain p̂(1−p̂)/N.

    Args:
        x: per-item scores, shape (N,), usually 0/1 correctness.
        clusters: per-item cluster labels, shape (N,), any hashable values numpy can ``unique``.

    Returns:
        The standard error √Var (nan for N == 0).
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    labels = np.asarray(clusters).ravel()
    if xs.shape != labels.shape:
        raise ValueError("x and clusters must have the same length")
    n = xs.size
    if n == 0:
        return float("nan")
    _, codes = np.unique(labels, return_inverse=True)
    r = xs - xs.mean()
    sum_r = np.bincount(codes, weights=r)
    sum_r2 = np.bincount(codes, weights=r * r)
    plain = sum_r2.sum() / n**2
    cross = (sum_r**2 - sum_r2).sum() / n**2
    return float(np.sqrt(max(plain + cross, 0.0)))


def _prob_a_beats_b_scalar(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    pdf_a = stats.beta(a_a, b_a).pdf
    cdf_b = stats.beta(a_b, b_b).cdf
    # Tell quad where the mass is; sharp posteriors are otherwise easy to step over.
    points = sorted({float(stats.beta.mean(a_a, b_a)), float(stats.beta.mean(a_b, b_b))})
    value, _ = integrate.quad(lambda t: pdf_a(t) * cdf_b(t), 0.0, 1.0, points=points, limit=200)
    return float(min(max(value, 0.0), 1.0))


def prob_a_beats_b(
    k_a: ArrayLike,
    n_a: ArrayLike,
    k_b: ArrayLike,
    n_b: ArrayLike,
    prior: tuple[float, float] = (1.0, 1.0),
) -> NDArray[np.float64]:
    """P(θ_A > θ_B) under independent Beta posteriors Beta(k + a, n − k + b).

    Computed as ∫₀¹ f_A(t)·F_B(t) dt with ``scipy.integrate.quad`` (pdf × cdf from
    ``scipy.stats.beta``); no library offers this probability directly.  Vectorised over
    broadcastable inputs with ``np.vectorize`` (one quadrature per element).  Reference: 8/10 vs
    5/10 → 0.9087.

    Args:
        k_a, n_a: successes and trials of A.
        k_b, n_b: successes and trials of B.
        prior: Beta prior (a, b) shared by both.

    Returns:
        Array of probabilities of the broadcast shape (0-d for scalars).
    """
    ka, na = _check_counts(k_a, n_a)
    kb, nb = _check_counts(k_b, n_b)
    a0, b0 = prior
    if a0 <= 0 or b0 <= 0:
        raise ValueError("prior parameters must be > 0")
    fn = np.vectorize(_prob_a_beats_b_scalar, otypes=[np.float64])
    return np.asarray(fn(ka + a0, na - ka + b0, kb + a0, nb - kb + b0))
