"""Membership signals: the formulas on hand-checked inputs, AUROC against scikit-learn, and the scoring pass on
the real SmolLM2 model, checked against the inference engine's own log-likelihoods of the same text."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from benchtrust.contamination.membership import auroc, lowest_k_mean, signals_from_logprobs


def test_formulas_by_hand():
    lp = [-0.1, -2.0, -0.5, -4.0, -1.0, -0.2, -3.0, -0.3, -0.4, -0.6]
    s = signals_from_logprobs(lp, "some text", mu=[-1.0] * 10, sigma=[2.0] * 10, k=0.2)
    assert s["n_tokens"] == 10 and s["mean_logprob"] == pytest.approx(-1.21)
    assert s["perplexity"] == pytest.approx(math.exp(1.21))
    assert s["min_k_prob"] == pytest.approx((-4.0 - 3.0) / 2)  # lowest 20% = 2 of 10 tokens
    assert s["min_k_plus_plus"] == pytest.approx(((-4.0 + 1) / 2 + (-3.0 + 1) / 2) / 2)
    zb = len(zlib.compress(b"some text"))
    assert s["zlib_bytes"] == zb and s["zlib_ratio"] == pytest.approx(1.21 / zb)
    assert math.isnan(signals_from_logprobs(lp, "x")["min_k_plus_plus"])  # no μ, σ: what predictions keep
    assert lowest_k_mean(np.array([5.0]), 0.2) == 5.0  # at least one token


def test_auroc_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300).astype(bool)
    s = np.round(rng.normal(size=300) + 0.5 * y, 1)  # rounded: ties
    assert auroc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auroc([1, 2, 3], [True, True, True]) != auroc([1, 2, 3], [True, True, True])  # NaN without negatives


@pytest.fixture(scope="module")
def engine():
    from benchtrust.inference.models import build_engine, resolve_model
    from benchtrust.registry import Registry

    reg = Registry.load()
    name = "smollm2-135m-instruct"
    return build_engine(resolve_model(name, reg.models[name]))


def test_scorer_agrees_with_the_engine_and_probe_runs(engine):
    from benchtrust.contamination.membership import MembershipScorer, membership_frame

    scorer = MembershipScorer.from_engine(engine)
    text = ("The quick brown fox jumps over the lazy dog. " * 9).strip()
    sc = scorer.score([text])[0]
    # the engine scores a continuation after an empty context the same way (BOS/EOS as the context token)
    ref = engine.score([("", [text])])[0][0]
    assert len(sc.token_logprobs) == len(ref.token_logprobs)
    assert float(sc.token_logprobs.sum()) == pytest.approx(ref.logprob, abs=1e-3)
    assert (sc.sigma >= 0).all() and (sc.mu <= 0).all()
    df = membership_frame(scorer, [text, "Too short."], probe_limit=2)
    assert df.loc[0, "probe_tokens"] == 32 and 0 <= df.loc[0, "prefix_match_share"] <= 1
    # the instruct model completes the sentence in progress (" brown fox jumps over the lazy dog.") and then
    # starts explaining instead of repeating: 8 of 32 tokens
    assert df.loc[0, "prefix_match_tokens"] >= 8 and not df.loc[0, "prefix_exact"]
    assert df.loc[1, "probe_tokens"] == 0 and np.isnan(df.loc[1, "prefix_match_share"])
    assert df.loc[0, "min_k_plus_plus"] > df.loc[1, "min_k_plus_plus"]
