"""Aligned-window evidence (issue 12): order-insensitive stem containment inside a window as long as the item,
its embedding cosine, and the dbt flag in marts.contamination_evidence / marts.item_audit."""

from __future__ import annotations

import json
import random

import duckdb
import numpy as np
import pandas as pd
import pytest

from benchtrust.contamination.aligned import AlignedParams, _best_window, aligned_evidence
from tests.contamination.conftest import dbt_build, put_items

FILLER = (
    "The parser reads one record at a time and keeps no state between calls. Buffers are flushed when the "
    "stream closes, and every error names the offending line. Options are read from the environment first, "
    "then from the configuration file, and the command line overrides both. "
) * 4


def _items(texts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"benchmark": "b", "dataset_version": "v", "item_id": list(texts), "text": list(texts.values())}
    )


def test_best_window_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = int(rng.integers(1, 30))
        pos = np.sort(rng.choice(200, m, replace=False))
        sid = rng.integers(0, 8, m)
        w = rng.random(8) + 0.1
        width = int(rng.integers(1, 60))
        got, first, last = _best_window(pos, w[sid], sid, width)
        ref = max(w[np.unique(sid[(pos >= p) & (pos < p + width)])].sum() for p in pos)
        assert got == pytest.approx(ref)
        inside = (pos >= first) & (pos <= last)
        assert last - first < width and w[np.unique(sid[inside])].sum() == pytest.approx(ref)


def test_reworded_item_inside_filler_is_contained_and_scattered_words_are_not():
    item = (
        "A photosynthesis experiment measured chlorophyll absorption in spinach leaves under blue and red "
        "wavelengths. Which pigment absorbs green light least?\nchlorophyll a\ncarotene\nxanthophyll\nanthocyanin"
    )
    other = (
        "Which treaty ended the Thirty Years War in seventeenth century Europe and recognised Dutch "
        "independence?\nWestphalia\nUtrecht\nVersailles\nTordesillas"
    )
    words = item.replace("\n", " ").split()
    random.Random(1).shuffle(words)  # word order destroyed
    reworded = " ".join(words).replace("measured", "recorded").replace("least", "minimally")
    scattered = " ".join(f"{FILLER} {w}" for w in item.split())  # every word, far apart
    res = aligned_evidence(
        _items({"x": item, "y": other}),
        ["plant", "scatter", "filler"],
        [f"{FILLER} {reworded} {FILLER}", scattered, FILLER * 3],
        AlignedParams(min_bound=0.0),
    )
    f = res.frame
    x = f[f["item_id"] == "x"].set_index("doc_id")
    assert x.loc["plant", "containment"] > 0.85 and x.loc["plant", "rank"] == 1
    assert x.loc["scatter", "doc_containment"] == pytest.approx(1.0)  # the bag of words is all there …
    assert x.loc["scatter", "containment"] < 0.3  # … but never inside one item-length window
    assert f[f["item_id"] == "y"]["containment"].max() < 0.2
    assert f["cosine"].isna().all()  # no embedder given


def test_shared_passage_is_measured_on_each_items_own_stems():
    passage = (
        "The following excerpt comes from a speech delivered by the governor of Massachusetts in 1838 about "
        "railway charters, canal tolls, banking monopolies and the proper limits of legislative favour. "
    )
    a = passage + "The governor most strongly opposed which policy?\nexclusive bank charters\nfree trade"
    b = (
        passage
        + "Historians compare this argument with Jacksonian hostility toward federal infrastructure subsidies?\nyes\nno"
    )
    res = aligned_evidence(_items({"a": a, "b": b}), ["d"], [f"{FILLER} {a} {FILLER}"], AlignedParams(min_bound=0.0))
    f = res.frame.set_index("item_id")
    assert f.loc["a", "containment"] == pytest.approx(1.0) and f.loc["a", "own_share"] < 1
    assert f.loc["b", "containment"] < 0.3  # the passage alone does not say b leaked


@pytest.fixture(scope="module")
def aligned_lake(tmp_path_factory, mmlu):
    import os

    home = tmp_path_factory.mktemp("aligned") / "bt_home"
    saved = os.environ.get("BENCHTRUST_HOME")
    os.environ["BENCHTRUST_HOME"] = str(home)
    try:
        from benchtrust.contamination.aligned import corpus_aligned
        from benchtrust.contamination.corpora import make_corpus_source, write_corpus
        from benchtrust.contamination.overlap import latest_item_sets, scan_corpus
        from benchtrust.settings import get_settings
        from data_contracts import validate_corpus_docs

        settings = get_settings().ensure()
        items = mmlu.items[mmlu.items["subject"] == "high school biology"].reset_index(drop=True)
        put_items(settings.lake, "mmlu", items)
        texts = latest_item_sets(settings.lake)
        long_items = texts[texts["text"].str.split().str.len() >= 40]
        planted = long_items["item_id"].iloc[3]
        words = long_items["text"].iloc[3].split()
        rng = random.Random(0)
        for _ in range(len(words) // 3):  # swap word pairs: order changed, 13-grams broken
            i, j = rng.randrange(len(words)), rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        docs = [{"id": "plant", "text": f"{FILLER} {' '.join(words)} {FILLER}"}, {"id": "filler", "text": FILLER}]
        (settings.home / "c.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
        w = write_corpus(
            make_corpus_source("c", {"type": "file", "path": str(settings.home / "c.jsonl"), "id_field": "id"}),
            settings.lake,
            validator=validate_corpus_docs,
        )
        scan_corpus(settings.lake, "c", w.corpus_version, texts, (13, 8))
        frame, path, run = corpus_aligned(settings.lake, "c", w.corpus_version, texts)
        dbt_build("+contamination_evidence +item_audit", ["--indirect-selection", "cautious"])
        yield settings, planted, frame, len(items)
    finally:
        if saved is None:
            os.environ.pop("BENCHTRUST_HOME", None)
        else:
            os.environ["BENCHTRUST_HOME"] = saved


def test_aligned_evidence_reaches_the_marts(aligned_lake):
    settings, planted, frame, n_items = aligned_lake
    assert frame["item_id"].nunique() == n_items  # every item has a row, with or without a candidate
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    ev = con.execute(
        "select * from marts.contamination_evidence where signal in ('aligned_overlap', "
        "'aligned_embedding', 'ngram_overlap')"
    ).df()
    audit = con.execute("select * from marts.item_audit").df().set_index("item_id")
    con.close()
    al = ev[ev["signal"] == "aligned_overlap"].set_index("item_id")
    assert len(al) == n_items and set(al["strength"]) == {"strong"}
    assert al.loc[planted, "is_flagged"] and al.loc[planted, "value"] >= al.loc[planted, "threshold"]
    detail = json.loads(al.loc[planted, "detail"])
    assert detail["best_doc_id"] == "plant" and detail["flagged_by"] == "containment"
    assert detail["window_cosine"] > 0.5  # the aligned window was embedded and its cosine recomputed in SQL
    others = al.drop(index=planted)
    assert others["is_flagged"].fillna(False).sum() == 0
    # untestable items (too little content) carry NULL, never a flag
    assert others.loc[others["value"].isna(), "is_flagged"].isna().all()
    emb = ev[ev["signal"] == "aligned_embedding"].set_index("item_id")
    assert emb.loc[planted, "value"] == pytest.approx(detail["window_cosine"])
    # the 13/8-gram maximum row is the larger of the two convention rows
    ng = ev[ev["signal"] == "ngram_overlap"].pivot_table(index="item_id", columns="method", values="value")
    both = ng[["n=13", "n=8"]].max(axis=1)
    assert np.allclose(ng["n=max(13,8)"].dropna(), both.loc[ng["n=max(13,8)"].dropna().index])
    assert audit.loc[planted, "is_aligned_flagged"] and audit.loc[planted, "max_aligned_containment"] > 0.9
    assert audit["is_aligned_flagged"].fillna(False).sum() == 1
