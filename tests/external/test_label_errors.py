"""Label-error candidates from model agreement against MMLU-Redux expert labels.

Candidates: the 10 HELM models of ``helm_mmlu/`` (aryopg/mmlu-redux @ 4563cfa7, CC-BY-4.0).  Labels:
MMLU-Redux v2 (``mmlu_redux/redux_v2_5700_from_HEAD_with_mmlu_index.csv``, same repository and licence).
The score was developed on the 30 v1 subjects; the assertions are on the other 27 (held out).  The
protocol (universe, recall denominator, random baseline) is in ``benchmarks/label_errors.py``, which
also writes the recorded figures (``benchmarks/results/label_errors.json``).

Baseline asserted: a reviewer who picked k of the held-out labelled items at random.  Its expected
precision is the prevalence (0.9 % ``wrong_groundtruth``, 3.5 % any non-ok label) and its expected recall
k / 2,698.  The candidates must beat it by a factor of at least 3 in precision and in recall at k = 100
and 300, and the hypergeometric probability that random picking does as well must be below 1e-6.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pandas as pd
import pytest

from benchtrust.audits import label_error_candidates, precision_recall_at_k
from benchtrust.items import LETTERS


def _benchmark_module(repo_root):
    path = repo_root / "benchmarks" / "label_errors.py"
    spec = importlib.util.spec_from_file_location("benchtrust_benchmark_label_errors", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def figures(external, repo_root):
    external("mmlu_redux/redux_v2_5700_from_HEAD_with_mmlu_index.csv")
    external("mmlu_redux/v1_subject_list.json")
    helm = external("helm_mmlu/helm_10models_mmlu_item_matrix.csv")
    mod = _benchmark_module(repo_root)
    return mod, mod.evaluate(helm.parent.parent)


# ---------------------------------------------------------------------------------------- small cases


def _frame(rows):
    return pd.DataFrame(rows, columns=["model", "item_id", "prediction", "gold"])


def test_score_on_a_hand_computed_example():
    rows = []
    # item x: 3 of 4 models agree on C, gold A -> score 0.75 * (1 - 0.25) = 0.5625
    rows += [("m1", "x", "C", "A"), ("m2", "x", "C", "A"), ("m3", "x", "C", "A"), ("m4", "x", "A", "A")]
    # item y: wrong answers scattered (hard item) -> 0.25 * 1.0 = 0.25 (B, C, D tie at 1 each)
    rows += [("m1", "y", "B", "A"), ("m2", "y", "C", "A"), ("m3", "y", "D", "A"), ("m4", "y", "The", "A")]
    # item z: everyone right -> 0
    rows += [(m, "z", "A", "A") for m in ("m1", "m2", "m3", "m4")]
    # item w: all four agree on D -> 1.0
    rows += [(m, "w", "D", "B") for m in ("m1", "m2", "m3", "m4")]
    c = label_error_candidates(_frame(rows), keep=()).set_index("item_id")
    assert c.loc["x", "score"] == pytest.approx(0.5625)
    assert c.loc["y", "score"] == pytest.approx(0.25) and c.loc["y", "n_invalid"] == 1
    assert c.loc["z", "score"] == 0.0 and pd.isna(c.loc["z", "top_alternative"])
    assert c.loc["w", "score"] == 1.0 and c.loc["w", "top_alternative"] == "D"
    assert c.sort_values("rank").index.tolist() == ["w", "x", "y", "z"]
    assert c["is_candidate"].to_dict() == {"w": True, "x": True, "y": False, "z": False}


def test_each_model_has_one_vote_per_item():
    # m1 has two seeds on item x (one C, one A): half a vote each
    rows = [("m1", "x", "C", "A"), ("m1", "x", "A", "A"), ("m2", "x", "C", "A")]
    c = label_error_candidates(_frame(rows), keep=()).iloc[0]
    assert (c["n_models"], c["n_correct"], c["n_top_alternative"]) == (2, 0.5, 1.5)


def test_llr_breaks_ties_towards_stronger_models():
    rows = []
    for i in range(20):  # calibration items: s1 always right, w1 right half the time, s2/w2 likewise
        g = "A"
        rows += [
            ("s1", f"c{i}", g, g),
            ("s2", f"c{i}", g, g),
            ("w1", f"c{i}", g if i % 2 else "B", g),
            ("w2", f"c{i}", g if i % 2 else "B", g),
        ]
    rows += [("s1", "p", "C", "A"), ("s2", "p", "C", "A"), ("w1", "p", "A", "A"), ("w2", "p", "A", "A")]
    rows += [("s1", "q", "A", "A"), ("s2", "q", "A", "A"), ("w1", "q", "C", "A"), ("w2", "q", "C", "A")]
    c = label_error_candidates(_frame(rows), keep=()).set_index("item_id")
    assert c.loc["p", "score"] == c.loc["q", "score"]
    assert c.loc["p", "llr"] > c.loc["q", "llr"] and c.loc["p", "rank"] < c.loc["q", "rank"]


def test_precision_recall_at_k_and_ties():
    ranked = ["a", "b", "c", "d", "e", "f"]
    r = precision_recall_at_k(ranked, {"a", "d", "z"}, ks=(2, 4), n_positive=3)
    assert (r[0].hits, r[0].precision, r[0].recall) == (1, 0.5, pytest.approx(1 / 3))
    assert (r[1].hits, r[1].precision) == (2, 0.5)
    assert r[0].random_precision == pytest.approx(2 / 6)
    assert r[0].random_recall == pytest.approx(2 / 6 * 2 / 3)
    # b, c, d tied: cut at 2 takes one of three, one of which is positive -> expected 1 + 1/3 hits
    t = precision_recall_at_k(ranked, {"a", "d"}, ks=(2,), tie_key=[3, 2, 2, 2, 1, 0])[0]
    assert t.hits == 1 and t.expected_precision == pytest.approx((1 + 1 / 3) / 2)
    assert precision_recall_at_k(ranked, {"a"}, ks=(1,))[0].p_value == pytest.approx(1 / 6)


# --------------------------------------------------------------------------------- MMLU-Redux figures


@pytest.mark.slow  # the benchmark's evaluate(): three latent-truth fits, ~5-10 minutes
def test_figures_are_reproducible_and_recorded(figures, helm_import):
    mod, res = figures
    a = label_error_candidates(helm_import.predictions)
    b = label_error_candidates(helm_import.predictions.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(a, b)  # row order of the input does not matter
    recorded = json.loads(mod.RESULT.read_text())
    assert json.loads(json.dumps(res)) == recorded, "re-run `python benchmarks/label_errors.py`"


@pytest.mark.slow  # the benchmark's evaluate(): three latent-truth fits, ~5-10 minutes
@pytest.mark.parametrize("target", ["wrong_groundtruth", "any_non_ok"])
@pytest.mark.parametrize("k", ["100", "300"])
def test_held_out_beats_random_selection(figures, target, k):
    _, res = figures
    held = res["held_out"]
    assert held["subjects"] == 27 and held["universe"] == 2_698
    r = held["targets"][target]["at"][k]
    assert r["precision"] >= 3 * r["random_precision"]
    assert r["recall"] >= 3 * r["random_recall"]
    assert r["p_value"] < 1e-6


@pytest.mark.slow  # the benchmark's evaluate(): three latent-truth fits, ~5-10 minutes
def test_recorded_held_out_figures(figures):
    _, res = figures
    t = res["held_out"]["targets"]
    assert t["wrong_groundtruth"]["n_positive"] == 24 and t["any_non_ok"]["n_positive"] == 94
    hits = {(name, k): v["at"][k]["hits"] for name, v in t.items() for k in ("100", "300")}
    assert hits == {
        ("wrong_groundtruth", "100"): 16,
        ("wrong_groundtruth", "300"): 19,
        ("any_non_ok", "100"): 25,
        ("any_non_ok", "300"): 37,
    }
    for (name, k), h in hits.items():
        r = t[name]["at"][k]
        assert r["precision"] == pytest.approx(h / int(k), abs=1e-6)
        assert r["recall"] == pytest.approx(h / t[name]["n_positive"], abs=1e-6)
    dev = res["dev"]
    assert dev["subjects"] == 30 and dev["targets"]["wrong_groundtruth"]["n_positive"] == 83


def test_candidates_are_mostly_consensus_items(helm_import):
    c = label_error_candidates(helm_import.predictions)
    assert len(c) == 14_014 and c["rank"].tolist() == list(range(1, 14_015))
    top = c.head(100)
    assert (top["share_top_alternative"] >= 0.8).all()
    assert np.all(np.diff(c["score"].to_numpy()) <= 1e-12)


# ------------------------------------------------------------- issue 12: the latent-truth posterior


def test_posterior_on_a_hand_built_example():
    from benchtrust.audits import label_error_posteriors

    rows = []
    # 30 calibration items every model gets right, so the models (and the key) look reliable
    for i in range(30):
        rows += [(m, f"c{i:02d}", "A", "A") for m in ("m1", "m2", "m3", "m4")]
    rows += [(m, "w", "D", "B") for m in ("m1", "m2", "m3", "m4")]  # all agree on D: gold wrong
    rows += [("m1", "x", "C", "A"), ("m2", "x", "C", "A"), ("m3", "x", "C", "A"), ("m4", "x", "A", "A")]
    rows += [("m1", "y", "B", "A"), ("m2", "y", "C", "A"), ("m3", "y", "D", "A"), ("m4", "y", "The", "A")]
    post = label_error_posteriors(_frame(rows)).set_index("item_id")
    assert post.loc["w", "rank"] == 1 and post.loc["x", "rank"] == 2
    assert post.loc["w", "suggested_answer"] == "D" and post.loc["x", "suggested_answer"] == "C"
    assert post.loc["w", "label_error_posterior"] > 0.9 > 0.1 > post.loc["c00", "label_error_posterior"]
    assert post.loc["w", "label_error_posterior"] >= post.loc["x", "label_error_posterior"]
    assert pd.isna(post.loc["c00", "suggested_answer"])  # nobody chose another option
    assert json.loads(post.loc["y", "votes"]) == {"m1": "B", "m2": "C", "m3": "D", "m4": None}  # "The" is no vote
    assert post["cleanlab_issue_score"].isna().all()  # letters only: no option probabilities
    for c in ("posterior_one_coin_dawid_skene", "posterior_glad", "posterior_mace"):
        assert post.loc["w", c] > 0.5 > post.loc["c00", c]
    # input row order does not matter; fewer than three models give no posterior
    again = label_error_posteriors(_frame(rows).sample(frac=1.0, random_state=1)).set_index("item_id")
    pd.testing.assert_frame_equal(post.sort_index(), again.sort_index())
    assert label_error_posteriors(_frame([r for r in rows if r[0] in ("m1", "m2")])).empty


def test_posterior_uses_confident_learning_where_option_probabilities_exist():
    from cleanlab.rank import get_label_quality_scores

    from benchtrust.audits import label_error_posteriors

    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        gold = i % 4
        for m in range(3):
            lp = rng.normal(0, 0.3, 4)
            lp[(gold + 1) % 4 if i == 7 else gold] += 3.0
            lp = lp - np.log(np.exp(lp).sum())
            rows.append(
                {
                    "model": f"m{m}",
                    "item_id": f"i{i:02d}",
                    "gold": LETTERS[gold],
                    "prediction": LETTERS[int(np.argmax(lp))],
                    "predicted_index": int(np.argmax(lp)),
                    "option_logprobs": list(lp),
                }
            )
    df = pd.DataFrame(rows)
    post = label_error_posteriors(df).set_index("item_id")
    assert post.index[0] == "i07" and post.loc["i07", "suggested_answer"] == "A"  # gold D, everyone on A
    # the score is cleanlab's self-confidence of the gold under the models' mean option probabilities
    p = np.stack(
        [
            np.mean(
                [np.exp(r["option_logprobs"]) / np.exp(r["option_logprobs"]).sum() for r in rows if r["item_id"] == it],
                axis=0,
            )
            for it in sorted(post.index)
        ]
    )
    labels = np.array([LETTERS.index(post.loc[it, "gold"]) for it in sorted(post.index)])
    expected = 1.0 - get_label_quality_scores(labels, p / p.sum(axis=1, keepdims=True))
    assert np.allclose(post.loc[sorted(post.index), "cleanlab_issue_score"], expected, atol=1e-12)


def test_bootstrap_hits_equal_the_tie_aware_reference(repo_root):
    """benchmarks/label_errors.py's vectorised top-k counter against precision_recall_at_k (expected precision
    with ties broken in expectation) on random scores with many ties."""
    mod = _benchmark_module(repo_root)
    rng = np.random.default_rng(5)
    score = rng.integers(0, 6, 300).astype(float)
    y = rng.random(300) < 0.1
    ids = [f"i{i}" for i in range(300)]
    order = np.lexsort((np.arange(300), -score))
    ref = precision_recall_at_k(
        [ids[i] for i in order], {ids[i] for i in np.flatnonzero(y)}, ks=(10, 50, 120), tie_key=list(score[order])
    )
    for r in ref:
        hits, pos = mod._ranked_hits(score, y, np.ones((1, 300)), r.k)
        assert hits[0] / r.k == pytest.approx(r.expected_precision, abs=1e-12)
        assert hits[0] / pos[0] == pytest.approx(r.expected_recall, abs=1e-12)
    # a resample that counts each item twice gives the same shares
    hits2, pos2 = mod._ranked_hits(score, y, np.full((1, 300), 2.0), 100)
    hits1, pos1 = mod._ranked_hits(score, y, np.ones((1, 300)), 50)
    assert hits2[0] / 100 == pytest.approx(hits1[0] / 50) and pos2[0] == 2 * pos1[0]


@pytest.mark.slow  # the benchmark's evaluate(): three latent-truth fits, ~5-10 minutes
def test_held_out_comparison_against_naive_and_random(figures):
    """The issue-12 table (recorded in label_errors.json, comparison.held_out): the posterior is far above the
    random ranking, and it does NOT beat the naive agreement count by the 0.1 in R@100 the issue asks for. The
    recorded ceiling says why: even an oracle that knew, on the held-out items themselves, the error rate of every
    vote-count signature would reach only R@100 0.75 against naive 0.71."""
    _, res = figures
    held = res["comparison"]["held_out"]
    assert held["subjects"] == 27 and held["wrong_groundtruth"]["n_positive"] == 24
    assert held["any_non_ok"]["n_positive"] == 94
    for t in ("wrong_groundtruth", "any_non_ok"):
        for k in ("50", "100", "300"):
            m, r = held[t]["method"][k], held[t]["random"][k]
            assert m["P_ci"][0] <= m["P"] <= m["P_ci"][1] and m["R_ci"][0] <= m["R"] <= m["R_ci"][1]
            assert m["P_ci"][0] > r["P_ci"][1]  # the whole interval above random's
    wg = held["wrong_groundtruth"]
    assert wg["method"]["100"]["R"] == pytest.approx(16 / 24, abs=1e-4)
    assert wg["naive"]["100"]["R"] == pytest.approx(0.7066, abs=1e-3)
    assert wg["method"]["100"]["R_minus_naive"] < 0.1  # the acceptance target is not met (see the ceiling)
    ceiling = held["ceiling"]
    assert ceiling["no_model_gives_another_valid_answer"] == 2 and ceiling["at_most_2_models_disagree"] == 5
    assert ceiling["oracle_R@100_vote_count_signature_in_sample"] < wg["naive"]["100"]["R"] + 0.1
    assert ceiling["items_all_models_reject_gold"] == 67 and ceiling["of_which_wrong_groundtruth"] == 13
    # the posterior assumes independent annotators and overstates: items above 0.99 are mostly expert-"ok"
    top_bin = held["posterior_calibration"][-1]
    assert top_bin["bin"].endswith("1.0]") and top_bin["mean_posterior"] > 0.99
    assert top_bin["wrong_groundtruth_rate"] == pytest.approx(0.1208, abs=1e-4) and top_bin["any_non_ok_rate"] < 0.25
    assert sum(b["items"] for b in held["posterior_calibration"]) == held["items"] - 2  # 2 labelled items HELM lacks
    assert (
        res["comparison"]["dev_variants"]["mean rank (chosen)"]["wrong_groundtruth_R@100"]
        >= res["comparison"]["dev_variants"]["naive"]["wrong_groundtruth_R@100"]
    )


def test_posterior_ignores_missing_option_probabilities():
    """Imported letters carry no option log-probs (None / NA from the warehouse): no cleanlab score, no error."""
    from benchtrust.audits import label_error_posteriors

    rows = [(m, f"i{i}", "A" if (i + k) % 5 else "B", "A") for i in range(10) for k, m in enumerate(("m1", "m2", "m3"))]
    df = _frame(rows).assign(option_logprobs=[None, pd.NA, np.nan] * 10)
    post = label_error_posteriors(df)
    assert len(post) == 10 and post["cleanlab_issue_score"].isna().all()
