"""The lake layout has one owner, :mod:`benchtrust.lake` (issue 13): the dbt project reads exactly the tables and
globs it lists, and "the lake is still empty" follows its one list — the tables :func:`ensure_layout` seeds with a
schema file are read directly, every other one through the ``bt_lake_source`` macro (empty typed relation while
its glob matches nothing). No dbt, no Dagster: the YAML and SQL are read as text."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from benchtrust import lake

STAGING = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "staging"
GLOB_IN_LOCATION = re.compile(r"read_parquet\('\{\{ env_var\('BENCHTRUST_LAKE', 'data/lake'\) \}\}/([^']+)'")
MACRO_CALL = re.compile(r"bt_lake_source\(\s*'([^']+)'\s*,\s*'([^']+)'\s*,\s*'([^']+)'")
SOURCE_CALL = re.compile(r"source\(\s*'([^']+)'\s*,\s*'([^']+)'\s*\)")


def _dbt_sources() -> dict[str, str]:
    """dbt source table → the lake glob its external_location reads."""
    out: dict[str, str] = {}
    for f in sorted(STAGING.glob("_*sources.yml")):
        for src in yaml.safe_load(f.read_text())["sources"]:
            for table in src["tables"]:
                loc = table["config"]["meta"]["external_location"]
                m = GLOB_IN_LOCATION.search(loc)
                assert m, f"{f.name}: {table['name']}: no lake glob in {loc!r}"
                out[table["name"]] = m.group(1)
    return out


def _reads() -> tuple[dict[str, str], set[str]]:
    """Tables read through bt_lake_source (→ the glob passed to it) and tables read by a plain source() call."""
    macro: dict[str, str] = {}
    plain: set[str] = set()
    for f in sorted(STAGING.glob("*.sql")):
        sql = f.read_text()
        for _, table, glob in MACRO_CALL.findall(sql):
            macro[table] = glob
        for _, table in SOURCE_CALL.findall(sql):
            plain.add(table)
    return macro, plain


def test_dbt_sources_read_the_globs_lake_py_lists() -> None:
    assert _dbt_sources() == lake.LAKE_TABLES


def test_empty_lake_rule_follows_lake_py() -> None:
    macro, plain = _reads()
    assert macro, "no bt_lake_source call found: wrong folder?"
    # every bt_lake_source call names its table's glob as lake.py spells it
    assert {t: lake.LAKE_TABLES[t] for t in macro} == macro
    # the macro guards exactly the tables ensure_layout does not seed; the seeded ones are read directly
    assert set(macro) == set(lake.LAKE_TABLES) - set(lake.SEEDED_TABLES)
    assert set(lake.SEEDED_TABLES) <= plain


def test_ensure_layout_seeds_every_seeded_table(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake.ensure_layout(root)
    for table in lake.SEEDED_TABLES:
        files = sorted(root.glob(lake.LAKE_TABLES[table]))
        assert len(files) == 1 and len(pd.read_parquet(files[0])) == 0, (table, files)
    for table in set(lake.LAKE_TABLES) - set(lake.SEEDED_TABLES):
        assert not list(root.glob(lake.LAKE_TABLES[table])), table


def test_every_path_function_lands_in_its_table() -> None:
    """Each file a path function builds matches its table's glob (so dbt reads what the pipeline writes)."""
    root = Path("/lake")
    built = {
        "items": lake.items_path(root, "mmlu", "dv1"),
        "quarantined_items": lake.quarantine_path(root, "items", "mmlu", "dv1"),
        "predictions": lake.predictions_path(root, "openai/gpt-4o", "m/x", "mv1", "dv1"),
        "corpus_docs": lake.corpus_docs_path(root, "books", "cv1"),
        "corpus_ngram_matches": lake.corpus_signal_dir(root, "corpus_ngram_matches", "books") / "cv1__s.parquet",
        "corpus_ngram_scans": lake.corpus_signal_dir(root, "corpus_ngram_scans", "books") / "cv1__s.parquet",
        "text_embeddings": lake.embeddings_dir(root, "all-MiniLM-L6-v2") / "c1.parquet",
        "embedding_neighbours": lake.corpus_signal_dir(root, "embedding_neighbours", "books") / "cv1__f.parquet",
        "aligned_matches": lake.corpus_signal_dir(root, "aligned_matches", "books") / "cv1__f.parquet",
        "item_neighbours": lake.item_neighbours_path(root, "f1"),
        "membership_signals": lake.model_signal_path(root, "membership", "mmlu", "smol", "mv1__dv1__30"),
        "rewrite_predictions": lake.model_signal_path(root, "rewrite_predictions", "mmlu", "smol", "mv1__dv1__r"),
    }
    assert set(built) == set(lake.LAKE_TABLES)
    for table, path in built.items():
        assert path.match(f"/lake/{lake.LAKE_TABLES[table]}"), (table, path)
    assert lake.predictions_path(root, "b", "m", "mv", "dv").parent == lake.predictions_dir(root, "b", "m")
    assert lake.rejected_path(root, built["items"]) == root / "rejected" / "items" / "benchmark=mmlu" / "dv1.parquet"
    assert lake.benchmarks_with_items(root / "nothing") == []
