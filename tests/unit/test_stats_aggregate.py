"""Audit 6: rliable-style aggregates and the stratified bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchtrust.stats import (
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    optimality_gap,
    probability_of_improvement,
    stratified_bootstrap_ci,
)

# rliable's own unit tests: (n_runs, n_tasks)
X = np.array([[1, 2], [2, 2], [1, 1], [2, 1]], dtype=float)
Y = np.array([[1, 1], [2, 2], [3, 3]], dtype=float)


def test_rliable_reference():
    assert aggregate_mean(X) == 1.5
    assert aggregate_median(X) == 1.5
    assert aggregate_iqm(X) == 1.5
    assert aggregate_mean(Y) == aggregate_median(Y) == aggregate_iqm(Y) == 2.0
    assert probability_of_improvement(X, Y) == pytest.approx(1 / 3, abs=1e-12)


def test_iqm_is_pooled_trimmed_mean():
    rng = np.random.default_rng(71)
    s = rng.random((8, 5))
    flat = np.sort(s.ravel())
    assert aggregate_iqm(s) == pytest.approx(flat[10:30].mean())
    assert aggregate_iqm(s) == pytest.approx(stats.trim_mean(s.ravel(), 0.25))


def test_optimality_gap():
    s = np.array([[0.5, 1.2], [1.0, 0.8]])
    assert optimality_gap(s) == pytest.approx(1 - np.mean([0.5, 1.0, 1.0, 0.8]))
    assert optimality_gap(s, gamma=2.0) == pytest.approx(2 - s.mean())


def test_probability_of_improvement_brute_force():
    rng = np.random.default_rng(72)
    for _ in range(100):
        rx, ry, t = (int(v) for v in rng.integers(1, 8, size=3))
        x = rng.integers(0, 4, size=(rx, t)).astype(float)  # ties
        y = rng.integers(0, 4, size=(ry, t)).astype(float)
        per_task = [np.mean((x[:, j, None] > y[None, :, j]) + 0.5 * (x[:, j, None] == y[None, :, j])) for j in range(t)]
        assert probability_of_improvement(x, y) == pytest.approx(np.mean(per_task), abs=1e-12)
        both_ways = probability_of_improvement(x, y) + probability_of_improvement(y, x)
        assert both_ways == pytest.approx(1.0)
    assert probability_of_improvement(X, X) == 0.5


def test_stratified_bootstrap_deterministic_and_brackets_point():
    rng = np.random.default_rng(73)
    s = rng.random((10, 6))
    a = stratified_bootstrap_ci(aggregate_iqm, s, reps=400, seed=5)
    b = stratified_bootstrap_ci(aggregate_iqm, s, reps=400, seed=5)
    c = stratified_bootstrap_ci(aggregate_iqm, s, reps=400, seed=6)
    assert a == b and a != c
    assert a.lo < a.point < a.hi
    assert isinstance(a.point, float)


def test_stratified_bootstrap_resamples_within_task():
    """Per-task means stay inside the task's own range; constant tasks do not move at all."""
    rng = np.random.default_rng(74)
    s = np.column_stack([rng.uniform(0, 1, 7), rng.uniform(10, 11, 7), np.full(7, 5.0)])
    ci = stratified_bootstrap_ci(lambda m: m.mean(axis=0), s, reps=300, seed=1)
    assert ci.lo.shape == (3,)
    assert np.all(ci.lo >= s.min(axis=0)) and np.all(ci.hi <= s.max(axis=0))
    assert ci.lo[2] == ci.hi[2] == 5.0


def test_stratified_bootstrap_two_matrices_and_coverage_width():
    ci = stratified_bootstrap_ci(probability_of_improvement, X, Y, reps=300, seed=2)
    assert ci.point == pytest.approx(1 / 3)
    assert 0.0 <= ci.lo <= ci.point <= ci.hi <= 1.0
    # mean of a task-stratified bootstrap: SD ≈ sqrt(Σ_t var_t/R)/T for large R
    rng = np.random.default_rng(75)
    s = rng.normal(0, 1, size=(200, 4))
    ci = stratified_bootstrap_ci(aggregate_mean, s, reps=1000, conf=0.95, seed=3)
    expected_sd = np.sqrt(np.sum(s.var(axis=0) / 200)) / 4
    assert (ci.hi - ci.lo) / (2 * 1.96) == pytest.approx(expected_sd, rel=0.15)


def test_stratified_bootstrap_resamples_tasks_independently():
    """Runs are redrawn separately per task: for a run effect shared by all tasks, the mean over T
    tasks has bootstrap SD ≈ sd/√(R·T), not the sd/√R that a shared run index would give."""
    runs, tasks = 20, 16
    s = np.tile(np.arange(runs, dtype=float)[:, None], (1, tasks))
    ci = stratified_bootstrap_ci(aggregate_mean, s, reps=2000, conf=0.95, seed=4)
    expected_sd = s[:, 0].std() / np.sqrt(runs * tasks)
    assert (ci.hi - ci.lo) / (2 * 1.96) == pytest.approx(expected_sd, rel=0.15)
