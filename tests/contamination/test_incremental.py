"""Incremental by construction: adding a corpus scans and measures that corpus only; a new benchmark version is
scanned against every corpus for its own n-grams only; nothing measured before is recomputed (the dbt model
int_item_ngram_overlaps_measured is incremental, keyed by corpus version × benchmark version × n)."""

from __future__ import annotations

import json
import subprocess

import duckdb
import pandas as pd

from benchtrust.contamination.corpora import item_text, make_corpus_source, write_corpus
from benchtrust.contamination.overlap import latest_item_sets, scan_corpus
from data_contracts import validate_corpus_docs
from tests.contamination.conftest import put_items

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]


def _items(n=30, version="v1", edit=None):
    import random

    rng = random.Random(7)
    rows = []
    for i in range(n):
        q = " ".join(rng.choice(WORDS) for _ in range(18)) + f" question {i}?"
        if edit is not None and i == edit:
            q = "an edited question " + q
        rows.append(
            {
                "benchmark": "quiz",
                "dataset_version": version,
                "item_id": f"q{i:02d}",
                "item_hash": f"h{i}{version}",
                "task_type": "multiple_choice",
                "input": q,
                "choices": [f"yes {i}", f"no {i}"],
                "gold": "A",
                "gold_index": 0,
                "subject": "s",
                "metadata": "{}",
                "source_file": "x",
                "source_row": i + 1,
                "is_duplicate": False,
                "duplicate_of": None,
            }
        )
    return pd.DataFrame(rows)


def _corpus(settings, tmp_path, name, items):
    p = tmp_path / f"{name}.jsonl"
    p.write_text(
        "\n".join(json.dumps({"text": "preface " + item_text(r.input, r.choices)}) for r in items.itertuples())
    )
    w = write_corpus(
        make_corpus_source(name, {"type": "file", "path": str(p)}), settings.lake, validator=validate_corpus_docs
    )
    assert w.ok
    return w.corpus_version


def _run():
    from benchtrust.dbt_vars import dbt_vars_args
    from benchtrust.lake import ensure_layout
    from benchtrust.settings import DBT_PROJECT_DIR, get_settings

    ensure_layout(get_settings().ensure().lake)
    proc = subprocess.run(
        ["dbt", "run", "--profiles-dir", ".", *dbt_vars_args(), "--select", "+int_item_ngram_overlaps_measured"],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]


def _rows(settings):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    df = con.execute(
        "select corpus, dataset_version, n, item_id, overlap_share, measured_at "
        "from intermediate.int_item_ngram_overlaps_measured"
    ).df()
    con.close()
    return df


def test_adding_a_corpus_or_a_version_measures_only_what_is_new(settings, tmp_path):
    v1 = _items()
    put_items(settings.lake, "quiz", v1, "v1")
    cv_a = _corpus(settings, tmp_path, "a", v1.iloc[:10])
    scan = scan_corpus(settings.lake, "a", cv_a, latest_item_sets(settings.lake), (13, 8))
    assert len(scan.pairs) == 2
    _run()
    first = _rows(settings)
    assert len(first) == 60
    assert set(first.loc[(first["overlap_share"] == 1.0) & (first["n"] == 13), "item_id"]) == {
        f"q{i:02d}" for i in range(10)
    }

    cv_b = _corpus(settings, tmp_path, "b", v1.iloc[10:20])
    assert scan_corpus(settings.lake, "a", cv_a, latest_item_sets(settings.lake), (13, 8)).skipped  # nothing new for a
    assert len(scan_corpus(settings.lake, "b", cv_b, latest_item_sets(settings.lake), (13, 8)).pairs) == 2
    _run()
    second = _rows(settings)
    assert len(second) == 120
    a_before = first.set_index(["n", "item_id"])["measured_at"]
    a_after = second[second["corpus"] == "a"].set_index(["n", "item_id"])["measured_at"]
    assert a_after.equals(a_before.loc[a_after.index])  # corpus a was not recomputed

    v2 = _items(version="v2", edit=3)
    put_items(settings.lake, "quiz", v2, "v2")
    for name, cv in (("a", cv_a), ("b", cv_b)):
        s = scan_corpus(settings.lake, name, cv, latest_item_sets(settings.lake), (13, 8))
        assert sorted(s.pairs) == [("quiz", "v2", 8), ("quiz", "v2", 13)]  # only the new version's n-grams
    _run()
    third = _rows(settings)
    assert len(third) == 240
    old = third[third["dataset_version"] == "v1"].set_index(["corpus", "n", "item_id"])["measured_at"]
    prev = second.set_index(["corpus", "n", "item_id"])["measured_at"]
    assert old.equals(prev.loc[old.index])
    v2a = third[(third["dataset_version"] == "v2") & (third["corpus"] == "a") & (third["n"] == 13)].set_index("item_id")
    assert v2a.loc["q03", "overlap_share"] < 1.0 and v2a.loc["q04", "overlap_share"] == 1.0
