"""Planted ground truth, end to end on real MMLU items and a real `dbt build`: a corpus holding verbatim copies
of 100 items, lightly edited copies (case, punctuation, a few words) of 100 others, rule-based paraphrases of
100 more and unrelated documents. The n-gram audit must find >= 99% of the verbatim and >= 90% of the edited
plants with <= 1% false positives over every other MMLU item; the embedding audit must find paraphrases the
n-grams miss. "Found" = the documented flag: overlap_share >= var('contamination_ngram_flag_share') (0.1) for
n-grams, max cosine >= var('contamination_embedding_flag_cosine') for embeddings."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.contamination.conftest import dbt_build, put_items

FLAG_SHARE = 0.1
FLAG_COSINE = 0.8


@pytest.fixture(scope="module")
def planted_lake(tmp_path_factory, mmlu):
    """One planted lake and warehouse for the module (building it is the slow part)."""
    import os

    home = tmp_path_factory.mktemp("planted") / "bt_home"
    saved = os.environ.get("BENCHTRUST_HOME")
    os.environ["BENCHTRUST_HOME"] = str(home)
    try:
        yield _build(mmlu)
    finally:
        if saved is None:
            os.environ.pop("BENCHTRUST_HOME", None)
        else:
            os.environ["BENCHTRUST_HOME"] = saved


def _build(mmlu):
    from benchmarks.synthetic_corpora import planted_corpus, stdlib_prose
    from benchtrust.contamination.corpora import make_corpus_source, write_corpus
    from benchtrust.contamination.embeddings import corpus_neighbours
    from benchtrust.contamination.overlap import latest_item_sets, scan_corpus
    from benchtrust.settings import get_settings
    from data_contracts import validate_corpus_docs

    settings = get_settings().ensure()
    items = mmlu.items
    put_items(settings.lake, "mmlu", items)
    prose = stdlib_prose(100)
    pc = planted_corpus(
        items,
        n_verbatim=100,
        n_edited=100,
        n_paraphrase=100,
        n_unrelated=150,
        extra_unrelated=prose,
        seed=0,
        unrelated_words=(40, 120),
    )
    path = settings.home / "planted.jsonl"
    path.write_text("\n".join(json.dumps({"id": d["id"], "text": d["text"]}) for d in pc.docs))
    w = write_corpus(
        make_corpus_source("planted", {"type": "file", "path": str(path), "id_field": "id"}),
        settings.lake,
        validator=validate_corpus_docs,
    )
    assert w.ok and w.written and w.n_docs == 450
    all_items = latest_item_sets(settings.lake)
    scan = scan_corpus(settings.lake, "planted", w.corpus_version, all_items, (13, 8))
    assert sorted(scan.pairs) == [("mmlu", mmlu.dataset_version, 8), ("mmlu", mmlu.dataset_version, 13)]
    # embeddings: the 100 paraphrased items and 100 clean ones (embedding all 14k on a CPU takes minutes)
    rng = np.random.default_rng(0)
    clean_pool = sorted(set(items["item_id"]) - set(pc.plants))
    clean = set(rng.choice(clean_pool, 100, replace=False).tolist())
    para = {i for i, k in pc.plants.items() if k == "paraphrase"}
    sub = all_items[all_items["item_id"].isin(para | clean)].reset_index(drop=True)
    corpus_neighbours(settings.lake, "planted", w.corpus_version, sub, k=5)
    # a model's headline predictions on every planted item and the clean sample: right on every planted item,
    # on 1 in 4 clean ones
    from benchtrust import lake
    from benchtrust.inference.runner import PREDICTION_COLUMNS, rows_to_frame

    rows = []
    for j, iid in enumerate(sorted(set(pc.plants) | clean)):
        ok = iid in pc.plants or j % 4 == 0
        rows.append(
            dict.fromkeys(PREDICTION_COLUMNS)
            | {
                "cell_key": f"c{j}",
                "model": "memoriser",
                "model_version": "mv",
                "benchmark": "mmlu",
                "dataset_version": mmlu.dataset_version,
                "grid_version": "g",
                "item_id": iid,
                "item_hash": "h",
                "task_type": "multiple_choice",
                "template_id": "t",
                "is_primary": True,
                "is_headline": True,
                "n_fewshot": 0,
                "fewshot_seed": 0,
                "permutation_seed": 0,
                "decoding": "loglikelihood",
                "sample_idx": 0,
                "prediction": "A",
                "gold": "A",
                "is_correct": ok,
                "p_correct": 0.5,
                "logprob_gold": -0.7,
                "computed_at": pd.Timestamp.now(tz="UTC"),
            }
        )
    lake.write_parquet(
        rows_to_frame(rows).assign(written_at=pd.Timestamp.now(tz="UTC")),
        lake.predictions_path(settings.lake, "mmlu", "memoriser", "mv", mmlu.dataset_version),
    )
    out = dbt_build()
    return settings, pc, clean, out


def test_planted_contamination_is_found(planted_lake, record_property):
    settings, pc, clean, _ = planted_lake
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    ev = con.execute("select * from marts.contamination_evidence").df()
    ng = ev[ev["signal"] == "ngram_overlap"].copy()
    ng["kind"] = ng["item_id"].map(pc.plants).fillna("clean")
    report = {}
    for method in ("n=13", "n=8"):
        d = ng[ng["method"] == method]
        assert (d["threshold"] == FLAG_SHARE).all()
        tested = d[d["value"].notna()]
        by = {k: tested[tested["kind"] == k] for k in ("verbatim", "edited", "paraphrase", "clean")}
        rec = {k: float(v["is_flagged"].mean()) for k, v in by.items() if k != "clean"}
        fp = float(by["clean"]["is_flagged"].mean())
        report[method] = {
            "recall": rec,
            "false_positive_rate": fp,
            "clean_tested": len(by["clean"]),
            "untestable_items": int(d["value"].isna().sum()),
        }
        assert len(by["verbatim"]) == 100 and len(by["edited"]) == 100  # plants have >= 20 tokens
        assert rec["verbatim"] >= 0.99, report
        assert rec["edited"] >= 0.90, report
        assert fp <= 0.01, report
        assert len(by["clean"]) > 13000
    # the n-gram detail names the planted document
    v = ng[(ng["kind"] == "verbatim") & (ng["method"] == "n=13")].iloc[0]
    detail = json.loads(v["detail"])
    doc = next(d for d in pc.docs if d["item_id"] == v["item_id"])
    assert detail["matching_doc_ids"][0] == doc["id"] and detail["longest_span_tokens"] >= 20

    emb = ev[ev["signal"] == "embedding_nn"].copy()
    emb["kind"] = emb["item_id"].map(pc.plants).fillna("clean")
    assert (emb["threshold"] == FLAG_COSINE).all() and len(emb) == 200
    ng13 = ng[ng["method"] == "n=13"].set_index("item_id")["is_flagged"]
    para = emb[emb["kind"] == "paraphrase"]
    missed_by_ngrams = para[~para["item_id"].map(ng13).fillna(False).astype(bool)]
    found = missed_by_ngrams["is_flagged"].mean()
    flagged = emb[emb["is_flagged"]]
    precision = float((flagged["kind"] != "clean").mean())
    report["embedding"] = {
        "paraphrase_recall": float(para["is_flagged"].mean()),
        "paraphrases_missed_by_13grams": len(missed_by_ngrams),
        "recall_on_paraphrases_missed_by_13grams": float(found),
        "precision_plants_vs_clean": precision,
        "clean_false_positive_rate": float(emb.loc[emb["kind"] == "clean", "is_flagged"].mean()),
    }
    record_property("planted", json.dumps(report))
    print(json.dumps(report, indent=1))
    assert len(missed_by_ngrams) >= 50  # the paraphrases really do defeat 13-grams
    assert found >= 0.8, report
    assert precision >= 0.95, report
    con.close()


def test_summary_splits_accuracy_by_flag_with_intervals(planted_lake):
    settings, pc, clean, _ = planted_lake
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    s = (
        con.execute(
            "select * from marts.contamination_summary where model = 'memoriser' and signal = 'ngram_overlap' "
            "and method = 'n=13'"
        )
        .df()
        .iloc[0]
    )
    # the model is right on every planted item and on 1 in 4 clean ones: flagged accuracy 1; the items not
    # flagged are the clean ones and the planted ones the n-grams missed (mostly paraphrases)
    assert s["n_items"] == 400 and s["acc_flagged"] == 1.0 and s["n_flagged"] >= 190
    ev = (
        con.execute(
            "select item_id, is_flagged from marts.contamination_evidence where signal = 'ngram_overlap' "
            "and method = 'n=13'"
        )
        .df()
        .set_index("item_id")["is_flagged"]
    )
    scored = sorted(set(pc.plants) | clean)
    correct = {iid: iid in pc.plants or j % 4 == 0 for j, iid in enumerate(scored)}
    unflagged = [i for i in scored if not ev[i]]
    assert s["n_flagged"] == len(scored) - len(unflagged)
    assert s["acc_clean"] == pytest.approx(sum(correct[i] for i in unflagged) / len(unflagged))
    assert s["acc_clean_ci_low"] < s["acc_clean"] < s["acc_clean_ci_high"]
    assert s["acc_diff_ci_low"] > 0 and s["acc_diff_ci_low"] < s["acc_diff_flagged_minus_clean"] < s["acc_diff_ci_high"]
    from benchtrust.stats import wilson

    w = wilson(int(round(s["acc_clean"] * (s["n_tested"] - s["n_flagged"]))), int(s["n_tested"] - s["n_flagged"]))
    assert s["acc_clean_ci_low"] == pytest.approx(float(w.lo), abs=1e-9)
    assert s["spearman_value_correct"] > 0.3  # flagged items are the right ones here, by construction
    con.close()
