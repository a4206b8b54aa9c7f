"""The contamination assets through Dagster (`dg.materialize` on a temporary home and registry): a corpus as a
dynamic partition, its contract checks, the n-gram corpus pass, the embedding cache and item neighbours."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import pandas as pd
import pytest

from tests.contamination.conftest import put_items


@pytest.fixture()
def registry_home(settings, tmp_path, monkeypatch, mmlu):
    from benchtrust.settings import PROJECT_ROOT

    cfg = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", cfg)
    items = mmlu.items.head(120)
    docs = [
        {"url": f"u{i}", "text": f"Quiz night! {r.input} " + " / ".join(r.choices)}
        for i, r in enumerate(items.head(5).itertuples())
    ]
    docs += [{"url": "empty", "text": "  "}, {"url": "u-x", "text": "nothing to see here"}]
    (tmp_path / "web.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    (cfg / "corpora.yaml").write_text(
        "corpora:\n"
        f"  web: {{type: file, path: {tmp_path / 'web.jsonl'}, id_field: url, text_field: text}}\n"
        "settings: {ngram_sizes: [13], neighbours_k: 2}\n"
    )
    monkeypatch.setenv("BENCHTRUST_CONFIG", str(cfg))
    put_items(settings.lake, "mmlu", items)
    return settings, items


def test_corpus_assets_materialize_with_checks(registry_home):
    from assets.contamination import corpus_docs, corpus_ngram_matches, item_neighbours, text_embeddings
    from pipelines.resources import BenchtrustResource

    settings, items = registry_home
    from assets.contamination import sync_corpus_partitions

    instance = dg.DagsterInstance.ephemeral()
    assert sync_corpus_partitions(instance) == ["web"] and sync_corpus_partitions(instance) == []
    res = dg.materialize(
        [corpus_docs, corpus_ngram_matches],
        partition_key="web",
        instance=instance,
        resources={"benchtrust": BenchtrustResource()},
    )
    assert res.success
    checks = {c.check_name: c.passed for c in res.get_asset_check_evaluations()}
    assert checks == {"corpus_contract": True, "corpus_quality": True}
    mats = {
        m.asset_key.to_user_string(): m.metadata
        for m in (e.event_specific_data.materialization for e in res.get_asset_materialization_events())
    }
    assert mats["corpus_docs"]["dagster/row_count"].value == 6 and mats["corpus_docs"]["skipped_empty_docs"].value == 1
    assert mats["corpus_ngram_matches"]["scanned_pairs"].value == 1
    matches = pd.concat(pd.read_parquet(p) for p in (settings.lake / "corpus_ngram_matches").rglob("*.parquet"))
    assert set(matches["doc_id"]) == {f"u{i}" for i in range(5)} and (matches["n"] == 13).all()
    # a rerun scans nothing new
    again = dg.materialize(
        [corpus_ngram_matches], partition_key="web", instance=instance, resources={"benchtrust": BenchtrustResource()}
    )
    meta = {
        e.event_specific_data.materialization.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in again.get_asset_materialization_events()
    }
    assert meta["corpus_ngram_matches"]["scanned_pairs"].value == 0
    res = dg.materialize(
        [text_embeddings, item_neighbours], instance=instance, resources={"benchtrust": BenchtrustResource()}
    )
    assert res.success
    emb = pd.concat(pd.read_parquet(p) for p in (settings.lake / "embeddings").rglob("*.parquet"))
    assert len(emb) == 120 + 6 and emb["embedding"].map(len).eq(384).all()
    # the aligned pass (issue 12): one row per item at least, the quiz documents found by containment
    from assets.contamination import corpus_aligned_matches

    res = dg.materialize(
        [corpus_aligned_matches], partition_key="web", instance=instance, resources={"benchtrust": BenchtrustResource()}
    )
    assert res.success
    al = pd.concat(pd.read_parquet(p) for p in (settings.lake / "aligned_matches").rglob("*.parquet"))
    assert set(al["item_id"]) == set(items["item_id"])
    best = al[al["rank"] == 1].set_index("item_id")
    quiz = best.loc[list(items["item_id"].head(5))]
    assert (quiz["containment"] > 0.99).all() and set(quiz["doc_id"]) == {f"u{i}" for i in range(5)}


def test_definitions_carry_the_contamination_assets():
    from pipelines.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "corpus_docs",
        "corpus_ngram_matches",
        "corpus_ngram_scans",
        "text_embeddings",
        "corpus_neighbours",
        "corpus_aligned_matches",
        "item_neighbours",
        "membership_signals",
        "rewrite_predictions",
        "marts/contamination_evidence",
        "marts/contamination_summary",
        "marts/near_duplicates",
        "marts/control_gap",
    } <= keys
    assert {"corpora_job", "embeddings_job", "membership_job"} <= {j.name for j in defs.resolve_all_job_defs()}
