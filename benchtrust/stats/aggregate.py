"""Audit 6: one honest number for many tasks (subjects), in the style of rliable (Agarwal et al.,
2021).

Shape convention (as rliable's ``metrics.py``): a score matrix has shape (n_runs, n_tasks);
``scores[r, t]`` is the score of run r (seed, prompt, …) on task t.  Each aggregate maps one such
matrix to a float; :func:`stratified_bootstrap_ci` takes any of them (or any other callable with the
same signature) and resamples runs within each task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "BootstrapCI",
    "aggregate_iqm",
    "aggregate_mean",
    "aggregate_median",
    "optimality_gap",
    "probability_of_improvement",
    "stratified_bootstrap_ci",
]


def _scores(scores: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected (n_runs, n_tasks), got shape {arr.shape}")
    return arr


def aggregate_mean(scores: ArrayLike) -> float:
    """Mean over tasks of the per-task mean over runs.  scores: (n_runs, n_tasks)."""
    return float(np.mean(_scores(scores).mean(axis=0)))


def aggregate_median(scores: ArrayLike) -> float:
    """Median over tasks of the per-task mean over runs.  scores: (n_runs, n_tasks)."""
    return float(np.median(_scores(scores).mean(axis=0)))


def aggregate_iqm(scores: ArrayLike) -> float:
    """Interquartile mean: 25% trimmed mean of all runs × tasks pooled.  scores: (n_runs, n_tasks).

    ``scipy.stats.trim_mean(scores, 0.25, axis=None)``, as rliable.
    """
    return float(stats.trim_mean(_scores(scores), proportiontocut=0.25, axis=None))


def optimality_gap(scores: ArrayLike, gamma: float = 1.0) -> float:
    """γ − mean(min(scores, γ)) over all runs × tasks: how far below the target γ on average.

    scores: (n_runs, n_tasks); γ = 1 for accuracies.
    """
    return float(gamma - np.mean(np.minimum(_scores(scores), gamma)))


def probability_of_improvement(scores_x: ArrayLike, scores_y: ArrayLike) -> float:
    """P(X > Y): mean over tasks of P(a random run of X beats a random run of Y on that task).

    Per task it is the Mann–Whitney U statistic of X over Y divided by n_x·n_y (ties count ½), from
    ``scipy.stats.mannwhitneyu`` on all task columns at once.  Identical columns give ½.

    Args:
        scores_x: (n_runs_x, n_tasks).
        scores_y: (n_runs_y, n_tasks), same tasks in the same order.
    """
    x = _scores(scores_x)
    y = _scores(scores_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError("X and Y must cover the same tasks")
    # method="asymptotic": only the statistic is used; skip the exact p-value computation.
    u = stats.mannwhitneyu(x, y, axis=0, alternative="greater", method="asymptotic").statistic
    return float(np.mean(np.asarray(u) / (x.shape[0] * y.shape[0])))


class BootstrapCI(NamedTuple):
    """Point estimate on the data and the percentile interval.

    Floats for a scalar metric; arrays of the metric's output shape for a vector metric.
    """

    point: float | NDArray[np.float64]
    lo: float | NDArray[np.float64]
    hi: float | NDArray[np.float64]


def stratified_bootstrap_ci(
    metric: Callable[..., float | ArrayLike],
    *score_matrices: ArrayLike,
    reps: int = 2000,
    conf: float = 0.95,
    seed: int | None = 0,
) -> BootstrapCI:
    """Stratified bootstrap percentile CI of ``metric(*score_matrices)`` (rliable's
    ``StratifiedBootstrap``).

    Each replicate resamples, independently for every matrix and every task, n_runs runs with
    replacement from that task's runs (the task is the stratum), then evaluates the metric.  The
    resampling indices for a block of replicates are drawn at once (shape (block, n_runs, n_tasks))
    and applied with ``np.take_along_axis``; the metric is called once per replicate because it is
    an arbitrary callable.

    Args:
        metric: f(*matrices) → float (or 1-D array of several metrics), e.g. :func:`aggregate_iqm`
            or :func:`probability_of_improvement`.
        *score_matrices: one or more arrays of shape (n_runs_i, n_tasks_i).
        reps: bootstrap replicates.
        conf: coverage of the two-sided percentile interval.
        seed: seed of ``numpy.random.default_rng``; same seed ⇒ identical result.

    Returns:
        BootstrapCI(point, lo, hi).
    """
    mats = [_scores(s) for s in score_matrices]
    if not mats:
        raise ValueError("need at least one score matrix")
    rng = np.random.default_rng(seed)
    point = np.asarray(metric(*mats), dtype=np.float64)
    out = np.empty((reps,) + point.shape, dtype=np.float64)
    block = 256
    for start in range(0, reps, block):
        stop = min(start + block, reps)
        resampled = []
        for mat in mats:
            runs, tasks = mat.shape
            idx = rng.integers(0, runs, size=(stop - start, runs, tasks))
            resampled.append(np.take_along_axis(mat[None, :, :], idx, axis=1))
        for i in range(stop - start):
            out[start + i] = metric(*(r[i] for r in resampled))
    tail = 100.0 * (1.0 - conf) / 2.0
    lo, hi = np.percentile(out, [tail, 100.0 - tail], axis=0)
    if point.ndim == 0:
        return BootstrapCI(float(point), float(lo), float(hi))
    return BootstrapCI(point, np.asarray(lo), np.asarray(hi))
