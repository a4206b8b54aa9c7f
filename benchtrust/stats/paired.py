"""Audit 5: is model A really better than B?  Paired comparison on the same items, and its power.

Conventions: ``correct_a`` / ``correct_b`` are 0/1 (or bool) arrays of shape (..., n_items), items
on the last axis.  "old" / "new" in the power functions are the baseline and the candidate model;
their 2×2 table on n items has cells (both correct, only old correct, only new correct, neither).

The power analysis follows Card et al. (2020), "With Little Power Comes Great Responsibility",
notebook ``notebooks_for_power_calculations/accuracy.ipynb``: from (n, accuracy, agreement) build
the cell probabilities p_only_old = (d − Δ)/2, p_only_new = (d − Δ)/2 + Δ = (d + Δ)/2 with
d = 1 − agreement and Δ = acc_new − acc_old, draw tables, run the exact McNemar test on each, and
report power = share of draws with p ≤ α *and* the observed difference of the true sign,
Type-M = mean |observed Δ| / |true Δ| over significant draws, Type-S = share of significant draws
with the wrong sign.
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "PairedCounts",
    "PowerResult",
    "cell_probabilities",
    "mcnemar_exact",
    "minimum_detectable_effect",
    "paired_counts",
    "power_exact",
    "power_simulation",
]


class PairedCounts(NamedTuple):
    """The 2×2 table of two models on the same items (integers or integer arrays)."""

    both: NDArray[np.int64]
    only_a: NDArray[np.int64]
    only_b: NDArray[np.int64]
    neither: NDArray[np.int64]


class PowerResult(NamedTuple):
    """Outcome of a power analysis.

    power: P(p ≤ α and observed Δ has the true sign); type_m: E[|Δ̂| / |Δ| | significant];
    type_s: P(wrong sign | significant); mean_effect: E[Δ̂]; n_sims: draws used (0 for exact).
    type_m and type_s are nan when no draw is significant.
    """

    power: float
    type_m: float
    type_s: float
    mean_effect: float
    n_sims: int


def paired_counts(correct_a: ArrayLike, correct_b: ArrayLike) -> PairedCounts:
    """Cross-tabulate two models' correctness on the same items.

    Args:
        correct_a: 0/1 or bool, shape (..., n_items).
        correct_b: same shape as ``correct_a``.

    Returns:
        PairedCounts(both, only_a, only_b, neither), each of shape (...) (0-d for 1-D input).
    """
    a = np.asarray(correct_a).astype(bool)
    b = np.asarray(correct_b).astype(bool)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return PairedCounts(
        np.asarray(np.sum(a & b, axis=-1)),
        np.asarray(np.sum(a & ~b, axis=-1)),
        np.asarray(np.sum(~a & b, axis=-1)),
        np.asarray(np.sum(~a & ~b, axis=-1)),
    )


def mcnemar_exact(b: ArrayLike, c: ArrayLike) -> NDArray[np.float64]:
    """Two-sided exact McNemar p-value from the discordant counts.

    p = min(1, 2·F(min(b, c); b + c, ½)), F the binomial cdf: the two-sided exact binomial test of b
    successes in b + c trials at ½ (equal to ``scipy.stats.binomtest(b, b+c).pvalue`` because the
    null is symmetric, and to ``statsmodels.stats.contingency_tables.mcnemar(exact=True)``).  Uses
    ``scipy.stats.binom.cdf`` directly so that whole arrays of tables are tested at once.
    b = c = 0 gives p = 1.  Reference: 10 vs 2 → 0.0386.

    Args:
        b: count of items only the first model gets right, any shape.
        c: count only the second gets right, broadcastable with ``b``.

    Returns:
        p-values of the broadcast shape.
    """
    b_arr = np.asarray(b, dtype=np.float64)
    c_arr = np.asarray(c, dtype=np.float64)
    if np.any(b_arr < 0) or np.any(c_arr < 0):
        raise ValueError("counts must be >= 0")
    p = 2.0 * stats.binom.cdf(np.minimum(b_arr, c_arr), b_arr + c_arr, 0.5)
    return np.asarray(np.minimum(p, 1.0), dtype=np.float64)


def cell_probabilities(acc_old: float, acc_new: float, agreement: float) -> tuple[float, float, float, float]:
    """Cell probabilities (both, only_old, only_new, neither) of Card et al.'s 2×2 model.

    d = 1 − agreement, Δ = acc_new − acc_old, only_old = (d − Δ)/2, only_new = (d + Δ)/2,
    both = acc_old − only_old, neither = 1 − both − only_old − only_new.

    Raises:
        ValueError: if any cell is negative (the accuracies and agreement are incompatible).
    """
    d = 1.0 - agreement
    delta = acc_new - acc_old
    only_old = (d - delta) / 2.0
    only_new = (d + delta) / 2.0
    both = acc_old - only_old
    neither = 1.0 - both - only_old - only_new
    cells = (both, only_old, only_new, neither)
    if min(cells) < -1e-12:
        raise ValueError(f"acc_old={acc_old}, acc_new={acc_new}, agreement={agreement} give a negative cell {cells}")
    return tuple(max(x, 0.0) for x in cells)  # type: ignore[return-value]


def _uniforms(n_sims: int, seed: int | None) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return 1.0 - rng.random((2, n_sims))  # in (0, 1]: binom.ppf(0) would be -1


def _simulate(n: int, d: float, delta: float, alpha: float, u: NDArray[np.float64]) -> PowerResult:
    m = stats.binom.ppf(u[0], n, d)  # discordant pairs, independent of Δ
    q = (d + delta) / (2.0 * d)  # P(only_new | discordant)
    b_new = stats.binom.ppf(u[1], m, q)
    b_old = m - b_new
    diff = (b_new - b_old) / n
    sig = mcnemar_exact(b_new, b_old) <= alpha
    sign = np.sign(delta)
    power = float(np.mean(sig & (np.sign(diff) == sign)))
    if sig.any():
        type_m = float(np.mean(np.abs(diff[sig])) / abs(delta))
        type_s = float(np.mean(np.sign(diff[sig]) != sign))
    else:
        type_m = type_s = float("nan")
    return PowerResult(power, type_m, type_s, float(diff.mean()), int(u.shape[1]))


def power_simulation(
    n: int,
    acc_old: float,
    acc_new: float,
    agreement: float,
    alpha: float = 0.05,
    n_sims: int = 20_000,
    seed: int | None = 0,
) -> PowerResult:
    """Monte Carlo power, Type-M and Type-S of the exact McNemar test (Card et al. 2020).

    Each draw is a multinomial 2×2 table of ``n`` items with the probabilities of
    :func:`cell_probabilities`.  Only the discordant cells enter McNemar, so the table is drawn in
    the equivalent two-stage form m ~ Binomial(n, d), only_new | m ~ Binomial(m, (d + Δ)/(2d)), by
    inverse cdf (``scipy.stats.binom.ppf``) from two seeded uniforms per draw.  That is the same
    distribution as ``rng.multinomial`` but (i) fully vectorised and (ii) monotone in Δ for a fixed
    seed (common random numbers), which makes :func:`minimum_detectable_effect`'s bisection well
    defined.

    Reference (Card et al. notebook): n=500, 0.80 → 0.82, agreement 0.975, α=0.05 → power 0.800,
    Type-M 1.118, Type-S 0.000.  Monte Carlo SE of the power is √(p(1−p)/n_sims) ≈ 0.0028 at the
    default 20 000 draws.

    Args:
        n: number of items.
        acc_old, acc_new: accuracies of baseline and candidate (must differ).
        agreement: share of items on which the two models are both right or both wrong.
        alpha: test level.
        n_sims: number of simulated tables.
        seed: seed of ``numpy.random.default_rng``; same seed ⇒ identical result.
    """
    _, only_old, only_new, _ = cell_probabilities(acc_old, acc_new, agreement)
    delta = only_new - only_old
    if delta == 0:
        raise ValueError("power is undefined when the true effect is zero")
    d = only_old + only_new
    return _simulate(n, d, delta, alpha, _uniforms(n_sims, seed))


_TAIL = 1e-16  # probability mass of Binomial(n, d) left out of each tail by power_exact


@functools.lru_cache(maxsize=32)
def _rejection_bounds(n: int, alpha: float) -> NDArray[np.float64]:
    """j(m) for m = 0..n: the largest j with exact McNemar p(j, m − j) ≤ α (−1 when none is). It depends on
    (n, α) only, so a bisection over Δ (:func:`minimum_detectable_effect`) and every model pair of one benchmark
    share it; computing it was most of the cost of :func:`power_exact`."""
    m = np.arange(n + 1, dtype=np.float64)
    j = stats.binom.ppf(alpha / 2.0, m, 0.5)
    j = np.where(mcnemar_exact(np.maximum(j, 0), m - np.maximum(j, 0)) <= alpha, j, j - 1)
    out: NDArray[np.float64] = np.where(j >= 0, j, -1.0)  # j = -1: nothing is significant at this m
    out.setflags(write=False)
    return out


def power_exact(n: int, acc_old: float, acc_new: float, agreement: float, alpha: float = 0.05) -> PowerResult:
    """The quantities of :func:`power_simulation` computed exactly, by summing over the binomials.

    Written by hand because statsmodels only offers normal-approximation power for McNemar.  For
    each number m of discordant pairs the significant outcomes are only_new ≥ m − j(m) (right sign
    when Δ > 0) and only_new ≤ j(m), j(m) = the largest j with p(j, m − j) ≤ α.  With
    B ~ Binomial(m, q), P(B ≥ t) and E[B·1{B ≥ t}] = m·q·P(Binomial(m−1, q) ≥ t − 1) give power,
    Type-M and Type-S in O(n).  Used by the tests to check the simulation and available to
    :func:`minimum_detectable_effect` (``method="exact"``).
    """
    _, only_old, only_new, _ = cell_probabilities(acc_old, acc_new, agreement)
    delta = only_new - only_old
    if delta == 0:
        raise ValueError("power is undefined when the true effect is zero")
    d = only_old + only_new
    q = only_new / d
    # the number of discordant pairs M ~ Binomial(n, d): only the m inside its central 1 − 2e-16 mass contribute
    # (the rest changes power by < 2e-16), a few hundred values instead of n + 1 at n = 14k
    lo, hi = (int(v) for v in stats.binom.ppf([_TAIL, 1.0 - _TAIL], n, d))
    m = np.arange(max(lo - 1, 0), min(hi + 1, n) + 1, dtype=np.float64)
    w = stats.binom.pmf(m, n, d)
    j = _rejection_bounds(n, alpha)[m.astype(np.int64)]
    binom = stats.binom  # short alias for the formulas below
    # upper region: B >= m - j ; lower region: B <= j   (empty when j == -1)
    t = m - j
    p_hi = np.where(j >= 0, binom.sf(t - 1, m, q), 0.0)
    p_lo = np.where(j >= 0, binom.cdf(j, m, q), 0.0)
    m1 = np.maximum(m - 1, 0)
    eb_hi = np.where(j >= 0, m * q * binom.sf(t - 2, m1, q), 0.0)  # E[B 1{B >= t}]
    eb_lo = np.where(j >= 1, m * q * binom.cdf(j - 1, m1, q), 0.0)  # E[B 1{B <= j}]
    abs_hi = 2.0 * eb_hi - m * p_hi  # E[(2B - m) 1{B >= t}]
    abs_lo = m * p_lo - 2.0 * eb_lo  # E[(m - 2B) 1{B <= j}]
    pr_hi, pr_lo = float(w @ p_hi), float(w @ p_lo)
    e_abs = float(w @ (abs_hi + abs_lo)) / n
    right, wrong = (pr_hi, pr_lo) if delta > 0 else (pr_lo, pr_hi)
    p_sig = right + wrong
    if p_sig > 0:
        type_m = e_abs / p_sig / abs(delta)
        type_s = wrong / p_sig
    else:
        type_m = type_s = float("nan")
    return PowerResult(right, type_m, type_s, delta, 0)


def minimum_detectable_effect(
    n: int,
    acc: float,
    agreement: float,
    alpha: float = 0.05,
    power: float = 0.8,
    n_sims: int = 20_000,
    seed: int | None = 0,
    method: Literal["simulation", "exact"] = "simulation",
    tol: float = 1e-4,
) -> float:
    """Smallest improvement Δ > 0 over baseline accuracy ``acc`` detected with the requested power.

    Bisection on Δ over (max(0, d − 2·acc), min(d, 2(1 − acc) − d)], the range in which all four
    cells are non-negative (d = 1 − agreement, agreement held fixed).  With ``method="simulation"``
    every step reuses the same seeded uniforms, so the simulated power is a deterministic,
    non-decreasing function of Δ and the bisection is well defined; ``method="exact"`` bisects
    :func:`power_exact`.

    Returns:
        Δ (accuracy points as a fraction, e.g. 0.02), to within ``tol``; nan if even the largest
        admissible Δ does not reach the requested power.
    """
    d = 1.0 - agreement
    lo = max(0.0, d - 2.0 * acc)
    hi = min(d, 2.0 * (1.0 - acc) - d)
    if hi <= lo or d <= 0:
        return float("nan")
    u = _uniforms(n_sims, seed) if method == "simulation" else None

    def pw(delta: float) -> float:
        if u is not None:
            return _simulate(n, d, delta, alpha, u).power
        return power_exact(n, acc, acc + delta, agreement, alpha).power

    if pw(hi) < power:
        return float("nan")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if mid <= 0:
            break
        if pw(mid) >= power:
            hi = mid
        else:
            lo = mid
    return float(hi)
