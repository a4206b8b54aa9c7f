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
        rows += [("s1", f"c{i}", g, g), ("s2", f"c{i}", g, g),
                 ("w1", f"c{i}", g if i % 2 else "B", g), ("w2", f"c{i}", g if i % 2 else "B", g)]
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


def test_figures_are_reproducible_and_recorded(figures, helm_import):
    mod, res = figures
    a = label_error_candidates(helm_import.predictions)
    b = label_error_candidates(helm_import.predictions.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(a, b)  # row order of the input does not matter
    recorded = json.loads(mod.RESULT.read_text())
    assert json.loads(json.dumps(res)) == recorded, "re-run `python benchmarks/label_errors.py`"


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


def test_recorded_held_out_figures(figures):
    _, res = figures
    t = res["held_out"]["targets"]
    assert t["wrong_groundtruth"]["n_positive"] == 24 and t["any_non_ok"]["n_positive"] == 94
    hits = {(name, k): v["at"][k]["hits"] for name, v in t.items() for k in ("100", "300")}
    assert hits == {("wrong_groundtruth", "100"): 16, ("wrong_groundtruth", "300"): 19,
                    ("any_non_ok", "100"): 25, ("any_non_ok", "300"): 37}
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
