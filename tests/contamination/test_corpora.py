"""Reference corpora as a source type: registry, readers (JSONL, Parquet, CSV, text folders, benchmarks),
content versions, the corpus_docs contract and the lake layout."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchtrust.contamination.corpora import (
    CorpusError,
    CorpusRegistry,
    corpus_docs_path,
    latest_corpus,
    make_corpus_source,
    write_corpus,
)
from data_contracts import validate_corpus_docs
from tests.contamination.conftest import put_items


def _jsonl(path, docs):
    path.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    return path


def test_registry_is_empty_by_default_and_reads_examples(tmp_path):
    from benchtrust.settings import PROJECT_ROOT

    default = CorpusRegistry.load(PROJECT_ROOT / "config")
    assert default.corpora == {} and default.settings.ngram_sizes == (13, 8)
    (tmp_path / "corpora.yaml").write_text(
        "corpora:\n  web: {type: file, path: web.jsonl, embed: false}\n  mm: {type: benchmark, benchmark: mmlu}\n"
        "settings: {ngram_sizes: [13], neighbours_k: 3}\n"
    )
    reg = CorpusRegistry.load(tmp_path)
    assert set(reg.corpora) == {"web", "mm"} and reg.settings.ngram_sizes == (13,) and reg.settings.neighbours_k == 3
    assert not reg.embed("web") and reg.embed("mm")
    assert reg.source("web").spec["path"] == "web.jsonl"
    with pytest.raises(CorpusError, match="unknown corpus"):
        reg.source("nope")
    (tmp_path / "corpora.yaml").write_text("corpora:\n  'bad name!': {type: file, path: x}\n")
    with pytest.raises(ValueError, match="safe partition name"):
        CorpusRegistry.load(tmp_path)


def test_version_is_content_hash_independent_of_order_and_format(settings, tmp_path):
    docs = [{"id": f"d{i}", "text": f"document number {i} with some words"} for i in range(50)]
    a = write_corpus(
        make_corpus_source("c", {"type": "file", "path": str(_jsonl(tmp_path / "a.jsonl", docs)), "id_field": "id"}),
        settings.lake,
        validator=validate_corpus_docs,
    )
    assert a.ok and a.written and a.n_docs == 50
    b = write_corpus(
        make_corpus_source(
            "c", {"type": "file", "path": str(_jsonl(tmp_path / "b.jsonl", docs[::-1])), "id_field": "id"}
        ),
        settings.lake,
        validator=validate_corpus_docs,
    )
    assert b.corpus_version == a.corpus_version and not b.written  # same content: not rewritten
    pq_path = tmp_path / "c.parquet"
    pd.DataFrame(docs).to_parquet(pq_path)
    c = write_corpus(
        make_corpus_source("c", {"type": "file", "path": str(pq_path), "id_field": "id"}),
        settings.lake,
        validator=validate_corpus_docs,
    )
    assert c.corpus_version == a.corpus_version
    docs[3]["text"] += "!"
    d = write_corpus(
        make_corpus_source("c", {"type": "file", "path": str(_jsonl(tmp_path / "d.jsonl", docs)), "id_field": "id"}),
        settings.lake,
        validator=validate_corpus_docs,
    )
    assert d.corpus_version != a.corpus_version and d.written
    assert latest_corpus(settings.lake, "c")["corpus_version"] == d.corpus_version
    out = pd.read_parquet(corpus_docs_path(settings.lake, "c", d.corpus_version))
    assert list(out.columns) == ["corpus", "corpus_version", "doc_id", "text"] and len(out) == 50
    assert (out["corpus_version"] == d.corpus_version).all()


def test_readers_text_folder_csv_glob_and_empty_docs(settings, tmp_path):
    folder = tmp_path / "books"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("first book text")
    (folder / "sub" / "b.txt").write_text("second book text")
    (folder / "empty.txt").write_text("   \n")
    r = write_corpus(
        make_corpus_source("books", {"type": "text_folder", "path": str(folder)}),
        settings.lake,
        validator=validate_corpus_docs,
    )
    got = pd.read_parquet(r.path)
    assert sorted(got["doc_id"]) == ["a.txt", "sub/b.txt"] and r.skipped_empty == 1
    (tmp_path / "x.csv").write_text('body,ref\nhello there,r1\n"multi\nline",r2\n')
    (tmp_path / "y.csv").write_text("body,ref\nthird,r3\n")
    r = write_corpus(
        make_corpus_source("csv", {"type": "file", "path": str(tmp_path / "*.csv"), "text_field": "body"}),
        settings.lake,
        validator=validate_corpus_docs,
    )
    got = pd.read_parquet(r.path)
    assert got["doc_id"].tolist() == ["x.csv:1", "x.csv:2", "y.csv:1"] and got["text"][1] == "multi\nline"


def test_benchmark_as_corpus(settings, mmlu):
    put_items(settings.lake, "mmlu", mmlu.items.head(30))
    r = write_corpus(
        make_corpus_source("mmlu_corpus", {"type": "benchmark", "benchmark": "mmlu"}, lake=settings.lake),
        settings.lake,
        validator=validate_corpus_docs,
    )
    got = pd.read_parquet(r.path)
    first = mmlu.items.iloc[0]
    assert got["doc_id"].tolist() == mmlu.items["item_id"].head(30).tolist()
    assert got["text"][0] == first["input"] + "\n" + "\n".join(first["choices"])


def test_contract_and_readable_errors(settings, tmp_path):
    dup = _jsonl(tmp_path / "dup.jsonl", [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}])
    r = write_corpus(
        make_corpus_source("dup", {"type": "file", "path": str(dup), "id_field": "id"}),
        settings.lake,
        validator=validate_corpus_docs,
    )
    assert not r.ok and r.duplicate_doc_ids == ["x"] and not r.path.exists()
    big = _jsonl(tmp_path / "big.jsonl", [{"text": "x" * 5_000_001}, {"text": "fine"}])
    r = write_corpus(
        make_corpus_source("big", {"type": "file", "path": str(big)}), settings.lake, validator=validate_corpus_docs
    )
    assert not r.ok and "rejected" in str(r.path)  # over MAX_DOC_CHARS: kept out of the lake
    assert not corpus_docs_path(settings.lake, "big", r.corpus_version).exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{broken\n')
    with pytest.raises(CorpusError, match=r"line 2: invalid JSON"):
        write_corpus(
            make_corpus_source("bad", {"type": "file", "path": str(bad)}), settings.lake, validator=validate_corpus_docs
        )
    with pytest.raises(CorpusError, match="no field 'body'"):
        write_corpus(
            make_corpus_source("nf", {"type": "file", "path": str(bad), "text_field": "body"}),
            settings.lake,
            validator=validate_corpus_docs,
        )
    with pytest.raises(CorpusError, match="no files match"):
        write_corpus(
            make_corpus_source("none", {"type": "file", "path": str(tmp_path / "*.nothing")}),
            settings.lake,
            validator=validate_corpus_docs,
        )
    with pytest.raises(CorpusError, match="unknown type"):
        make_corpus_source("t", {"type": "ftp"})


def test_corpus_names_differing_only_in_case_are_refused(tmp_path):
    """A corpus name is its own lake folder (corpus=<name>): two names that differ only in case would share it on a
    case-insensitive file system, so the registry refuses them (issue 15, item 5)."""
    (tmp_path / "corpora.yaml").write_text(
        "corpora:\n  wiki: {type: file, path: a.jsonl}\n  Wiki: {type: file, path: b.jsonl}\n"
    )
    with pytest.raises(CorpusError, match="'wiki' and 'Wiki' differ only in case"):
        CorpusRegistry.load(tmp_path)
    (tmp_path / "corpora.yaml").write_text(
        "corpora:\n  wiki: {type: file, path: a.jsonl}\n  'wiki/x': {type: file, path: b.jsonl}\n"
    )
    with pytest.raises(ValueError, match="not a safe partition name"):
        CorpusRegistry.load(tmp_path)
