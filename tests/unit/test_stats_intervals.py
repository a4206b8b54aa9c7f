"""Audit 1: intervals, clustered SE and P(θ_A > θ_B)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint

from benchtrust.stats import (
    beta_posterior,
    clopper_pearson,
    clustered_se,
    prob_a_beats_b,
    wilson,
)

# AUDITS.md reference values: k, n -> Wilson | Clopper-Pearson | Beta(1,1)
REFERENCE = [
    (8, 10, (0.4902, 0.9433), (0.4439, 0.9748), (0.4822, 0.9398)),
    (10, 10, (0.7225, 1.0), (0.6915, 1.0), (0.7151, 0.9977)),
    (170, 200, (0.7939, 0.8929), (0.7928, 0.8965), (0.7938, 0.8927)),
]


@pytest.mark.parametrize(("k", "n", "w", "cp", "bp"), REFERENCE)
def test_reference_intervals(k, n, w, cp, bp):
    for fn, ref in ((wilson, w), (clopper_pearson, cp), (beta_posterior, bp)):
        lo, hi = fn(k, n, 0.95)
        assert round(float(lo), 4) == pytest.approx(ref[0], abs=1e-12), fn.__name__
        assert round(float(hi), 4) == pytest.approx(ref[1], abs=1e-12), fn.__name__


def test_wilson_z_argument_matches_conf():
    lo1, hi1 = wilson(8, 10, z=1.96)
    lo2, hi2 = wilson(8, 10, conf=0.95)
    assert abs(lo1 - lo2) < 1e-4 and abs(hi1 - hi2) < 1e-4
    assert round(float(lo1), 4) == 0.4902


def _random_counts(rng, size):
    n = rng.integers(1, 500, size=size)
    k = rng.integers(0, n + 1)
    # force some edges
    k[:10] = 0
    k[10:20] = n[10:20]
    return k, n


def test_wilson_matches_statsmodels():
    rng = np.random.default_rng(11)
    k, n = _random_counts(rng, 200)
    conf = rng.uniform(0.5, 0.999, size=200)
    for kk, nn, cc in zip(k, n, conf):
        lo, hi = wilson(kk, nn, cc)
        slo, shi = proportion_confint(kk, nn, alpha=1 - cc, method="wilson")
        assert lo == pytest.approx(slo, abs=1e-12)
        assert hi == pytest.approx(shi, abs=1e-12)


def test_clopper_pearson_matches_statsmodels_and_edges_exact():
    rng = np.random.default_rng(12)
    k, n = _random_counts(rng, 200)
    lo, hi = clopper_pearson(k, n, 0.9)
    slo, shi = proportion_confint(k, n, alpha=0.1, method="beta")
    np.testing.assert_allclose(lo, np.nan_to_num(slo, nan=0.0), atol=1e-12)
    np.testing.assert_allclose(hi, np.nan_to_num(shi, nan=1.0), atol=1e-12)
    assert np.all(lo[k == 0] == 0.0)
    assert np.all(hi[k == n] == 1.0)
    assert np.all(lo[k > 0] > 0) and np.all(hi[k < n] < 1)


def test_beta_posterior_matches_scipy():
    rng = np.random.default_rng(13)
    k, n = _random_counts(rng, 200)
    for _ in range(5):
        a, b = rng.uniform(0.2, 5.0, size=2)
        conf = float(rng.uniform(0.5, 0.99))
        lo, hi = beta_posterior(k, n, conf, prior=(a, b))
        tail = (1 - conf) / 2
        np.testing.assert_allclose(lo, stats.beta.ppf(tail, k + a, n - k + b), rtol=1e-12)
        np.testing.assert_allclose(hi, stats.beta.ppf(1 - tail, k + a, n - k + b), rtol=1e-12)


@pytest.mark.parametrize("fn", [wilson, clopper_pearson, beta_posterior])
def test_vectorised_shape_and_elementwise(fn):
    rng = np.random.default_rng(14)
    n = rng.integers(1, 50, size=(3, 4))
    k = rng.integers(0, n + 1)
    lo, hi = fn(k, n)
    assert lo.shape == hi.shape == (3, 4)
    for idx in np.ndindex(3, 4):
        slo, shi = fn(int(k[idx]), int(n[idx]))
        assert lo[idx] == pytest.approx(float(slo), abs=1e-14)
        assert hi[idx] == pytest.approx(float(shi), abs=1e-14)
    if fn is not beta_posterior:  # a posterior interval need not contain k/n (e.g. k = 0)
        assert np.all(lo <= k / n) and np.all(k / n <= hi)


@pytest.mark.parametrize("fn", [wilson, clopper_pearson, beta_posterior])
def test_empty_and_invalid(fn):
    lo, hi = fn(np.array([0, 3]), np.array([0, 5]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert np.isfinite(lo[1]) and np.isfinite(hi[1])
    with pytest.raises(ValueError):
        fn(6, 5)
    with pytest.raises(ValueError):
        fn(-1, 5)


def test_wilson_edges_exact():
    lo, hi = wilson(np.array([0, 7]), np.array([7, 7]))
    assert lo[0] == 0.0 and hi[1] == 1.0


# ---------------------------------------------------------------- clustered SE


def test_clustered_se_singletons_equal_plain():
    rng = np.random.default_rng(21)
    for _ in range(100):
        n = int(rng.integers(2, 300))
        x = (rng.random(n) < rng.random()).astype(float)
        p = x.mean()
        se = clustered_se(x, np.arange(n))
        assert se == pytest.approx(np.sqrt(p * (1 - p) / n), rel=1e-12, abs=1e-15)


def test_clustered_se_one_cluster_is_zero():
    x = np.array([1, 0, 1, 1, 0, 1.0])
    assert clustered_se(x, np.zeros(6)) == pytest.approx(0.0, abs=1e-15)


def test_clustered_se_matches_formula_by_pairs():
    """Σ_{i≠j∈c} r_i r_j by explicit double loop on a small case."""
    rng = np.random.default_rng(22)
    x = (rng.random(40) < 0.6).astype(float)
    g = rng.integers(0, 5, 40)
    p = x.mean()
    r = x - p
    cross = sum(r[i] * r[j] for i in range(40) for j in range(40) if i != j and g[i] == g[j])
    var = p * (1 - p) / 40 + cross / 40**2
    assert clustered_se(x, g) == pytest.approx(np.sqrt(var), rel=1e-12)


def test_clustered_se_vs_statsmodels_cluster_robust():
    """Equal to statsmodels' CR0 (use_correction=False); the default differs by exactly G/(G-1).

    statsmodels' correction is G/(G-1)·(N-1)/(N-K); with an intercept-only model K = 1, so the
    second factor is 1.
    """
    rng = np.random.default_rng(23)
    for _ in range(60):
        n = int(rng.integers(10, 400))
        n_clusters = int(rng.integers(2, 30))
        g = rng.integers(0, n_clusters, n)
        # cluster-level random effects make the correction matter
        eff = rng.normal(0, 1, n_clusters)[g]
        x = (rng.random(n) < special.expit(eff)).astype(float)
        if x.min() == x.max():
            continue
        ones = np.ones(n)
        res0 = sm.OLS(x, ones).fit(cov_type="cluster", cov_kwds={"groups": g, "use_correction": False})
        res1 = sm.OLS(x, ones).fit(cov_type="cluster", cov_kwds={"groups": g})
        se = clustered_se(x, g)
        n_groups = len(np.unique(g))
        assert se == pytest.approx(res0.bse[0], rel=1e-10)
        assert res1.bse[0] ** 2 == pytest.approx(se**2 * n_groups / (n_groups - 1), rel=1e-10)


def test_clustered_se_string_labels():
    x = np.array([1, 1, 0, 0, 1, 0.0])
    g = np.array(["a", "a", "b", "b", "c", "c"])
    assert clustered_se(x, g) == pytest.approx(clustered_se(x, np.array([0, 0, 1, 1, 2, 2])))
    assert clustered_se(x, g) > np.sqrt(0.25 / 6)  # positively correlated within cluster


# ---------------------------------------------------------------- P(A > B)


def _prob_a_beats_b_closed_form(aa, ba, ab, bb):
    """Evan Miller's closed form for integer α_A.

    P(θ_A > θ_B) = Σ_{i<α_A} B(α_B+i, β_A+β_B) / ((β_A+i)·B(1+i, β_A)·B(α_B, β_B)).
    """
    i = np.arange(int(aa))
    log_terms = special.betaln(ab + i, ba + bb) - np.log(ba + i) - special.betaln(1 + i, ba) - special.betaln(ab, bb)
    return float(np.exp(special.logsumexp(log_terms)))


def test_prob_a_beats_b_reference():
    assert round(float(prob_a_beats_b(8, 10, 5, 10)), 4) == 0.9087


def test_prob_a_beats_b_closed_form_and_symmetry():
    rng = np.random.default_rng(31)
    for _ in range(50):
        na, nb = (int(v) for v in rng.integers(1, 300, size=2))
        ka, kb = int(rng.integers(0, na + 1)), int(rng.integers(0, nb + 1))
        p = float(prob_a_beats_b(ka, na, kb, nb))
        ref = _prob_a_beats_b_closed_form(ka + 1, na - ka + 1, kb + 1, nb - kb + 1)
        assert p == pytest.approx(ref, abs=1e-7)
        assert p + float(prob_a_beats_b(kb, nb, ka, na)) == pytest.approx(1.0, abs=1e-7)


def test_prob_a_beats_b_vectorised():
    out = prob_a_beats_b(np.array([8, 5]), 10, np.array([5, 5]), 10)
    assert out.shape == (2,)
    assert out[0] == pytest.approx(0.90867, abs=1e-4)
    assert out[1] == pytest.approx(0.5, abs=1e-9)
