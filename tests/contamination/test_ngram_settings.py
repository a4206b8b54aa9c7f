"""config/corpora.yaml is the one source of the n-gram sizes (issue 13, item 4): the corpus pass scans the sizes
it lists and every dbt invocation passes the same list as a var, so editing the YAML changes the sizes in the
marts. Real Dagster materializations of the corpus assets and a real `dbt build` of the evidence mart."""

from __future__ import annotations

import json
import shutil
import subprocess

import dagster as dg
import duckdb
import pytest

from tests.contamination.conftest import dbt_build, put_items


def _write_registry(cfg, corpus_path, sizes: list[int]) -> None:
    (cfg / "corpora.yaml").write_text(
        "corpora:\n"
        f"  web: {{type: file, path: {corpus_path}, id_field: url, text_field: text, embed: false, aligned: false}}\n"
        f"settings: {{ngram_sizes: {json.dumps(sizes)}}}\n"
    )


@pytest.fixture()
def one_corpus(settings, tmp_path, monkeypatch, mmlu):
    from benchtrust.settings import PROJECT_ROOT

    cfg = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", cfg)
    items = mmlu.items.head(40)
    docs = [
        {"url": f"u{i}", "text": f"Quiz night! {r.input} " + " / ".join(r.choices)}
        for i, r in enumerate(items.head(5).itertuples())
    ]
    corpus = tmp_path / "web.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in docs))
    monkeypatch.setenv("BENCHTRUST_CONFIG", str(cfg))
    put_items(settings.lake, "mmlu", items)
    return settings, cfg, corpus


def _scan_and_build(instance: dg.DagsterInstance) -> set[str]:
    from assets.contamination import corpus_docs, corpus_ngram_matches
    from pipelines.resources import BenchtrustResource

    res = dg.materialize(
        [corpus_docs, corpus_ngram_matches],
        partition_key="web",
        instance=instance,
        resources={"benchtrust": BenchtrustResource()},
    )
    assert res.success
    dbt_build("+contamination_evidence")
    from benchtrust.settings import get_settings

    con = duckdb.connect(str(get_settings().warehouse), read_only=True)
    try:
        return {
            m
            for (m,) in con.execute(
                "select distinct method from marts.contamination_evidence where signal = 'ngram_overlap'"
            ).fetchall()
        }
    finally:
        con.close()


def test_dbt_vars_come_from_the_corpus_registry(one_corpus):
    from benchtrust.contamination.embeddings import EMBED_DIM
    from benchtrust.dbt_vars import dbt_vars, dbt_vars_args

    _, cfg, corpus = one_corpus
    _write_registry(cfg, corpus, [11, 7])
    assert dbt_vars() == {"contamination_ngram_sizes": [11, 7], "embedding_dim": EMBED_DIM}
    assert json.loads(dbt_vars_args()[1])["contamination_ngram_sizes"] == [11, 7]


def test_editing_ngram_sizes_changes_the_marts(one_corpus):
    _, cfg, corpus = one_corpus
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("corpora", ["web"])

    _write_registry(cfg, corpus, [13])
    assert _scan_and_build(instance) == {"n=13", "n=max(13)"}

    # one edit of the YAML: the corpus pass scans 9-grams and the SQL measures them (before, the SQL kept its own
    # [13, 8] and dropped every 9-gram the scan had found)
    _write_registry(cfg, corpus, [13, 9])
    assert _scan_and_build(instance) == {"n=13", "n=9", "n=max(13,9)"}


def test_a_dbt_run_without_the_settings_vars_fails_loudly(one_corpus):
    """The SQL has no fallback copy of the sizes: dbt without --vars stops with a message saying what to pass."""
    from benchtrust.lake import ensure_layout
    from benchtrust.settings import DBT_PROJECT_DIR

    settings, _, _ = one_corpus
    ensure_layout(settings.lake)
    proc = subprocess.run(
        ["dbt", "compile", "--profiles-dir", ".", "--select", "int_item_ngrams_hashed"],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "dbt var 'contamination_ngram_sizes' is not set" in proc.stdout
    assert "python -m benchtrust.dbt_vars" in proc.stdout
