"""The Parquet lake: raw and model outputs land here, one immutable file per content version.

This module owns the lake's layout (issue 13): every path of every table is built by a function here, and
nothing else spells a lake folder. Hive-style folders; dbt reads them as external sources:
  items/benchmark=<b>/<dataset_version>.parquet                     (+ LATEST.json: the benchmark's latest version)
  quarantine/items/benchmark=<b>/<dataset_version>.parquet
  quarantine/predictions/benchmark=<b>/<model>__<model_version>__<dataset_version>.parquet
  predictions/benchmark=<b>/model=<m>/<model_version>__<dataset_version>.parquet
  corpus_docs/corpus=<c>/<corpus_version>.parquet                   (+ LATEST.json)
  corpus_ngram_matches|corpus_ngram_scans|aligned_matches|embedding_neighbours/corpus=<c>/<file>.parquet
  embeddings/model=<embedding model slug>/<chunk>.parquet            item_neighbours/<fingerprint>.parquet
  membership|rewrite_predictions/benchmark=<b>/model=<m>/<model_version>__<dataset_version>__<...>.parquet
  rejected/<the path the file would have had>                        (failed a blocking contract; never read)
Writes go to a temporary name and are renamed into place, so readers never see half a file.

"The lake is still empty" has one list, :data:`LAKE_TABLES` (table → glob, exactly as the dbt sources read it), split
in two by :data:`SEEDED_TABLES`: those tables always have a file because :func:`ensure_layout` writes a zero-row
schema file for them before every build (the base sources read them directly); every other table (the
contamination tables, which exist only once a corpus is registered) is read through the dbt macro
``bt_lake_source``, which renders an empty typed relation while the table's glob matches no file.
``tests/test_lake_layout.py`` holds the dbt project to this list: each source's glob and each ``bt_lake_source``
call must be the glob here, and the macro must be used for exactly the tables not seeded.

The lake accepts only files the pipeline wrote (issue 15, item 6): every writer lists its file with
:func:`register`, a sidecar ``<file>.manifest.json`` holding its size and SHA-256, written atomically *before* the
file is renamed into place (one small file per lake file: no shared manifest for parallel writers to fight over;
a crash in between leaves a listing without a file, which nothing reads). The staging models read a Parquet file
only if a sidecar lists it with its current size (``stg_lake__files``); a file that appeared by another route
(a ``COPY … TO``, a copy by hand, an overwrite) is ignored and reported there, with a dbt warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
KEPT = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def safe_name(s: str) -> str:
    if not SAFE.match(s) or s in (".", ".."):
        raise ValueError(f"{s!r} is not a safe partition name (letters, digits, '.', '_', '~' and '-' only)")
    return s


def path_part(name: str) -> str:
    """The lake/report folder (or file-name part) of any model, benchmark or corpus name: injective, readable,
    never leaving its parent folder (issue 15, item 5).

    A *plain* name is kept as it is: lower-case letters, digits, '.', '_', '-', starting with a letter or digit,
    no '__', not ending in '_', at most 100 characters ('smollm2-135m-instruct', 'mmlu'). Any other name
    becomes a readable slug (runs of other characters → one '_', at most 48 characters) plus '~' and the first
    12 hex digits of the SHA-256 of the name's UTF-8 bytes: 'openai/gpt-4o' → 'openai_gpt-4o~<hash>'.

    Injective: a kept name has no '~' and every other name has one, followed by its own hash, so two names share
    a folder only if SHA-256 collides in 48 bits; names differing only in case (upper case is never kept) differ
    even on a case-insensitive file system. No result contains '__' nor starts or ends with '_', so
    '<a>__<b>' file names (model version, dataset version) split back uniquely. The dbt macro ``path_part`` is
    the same rule (tests/unit/test_report_paths.py checks them against each other)."""
    name = str(name)
    if KEPT.fullmatch(name) and "__" not in name and not name.endswith("_"):
        return name
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("._-")[:48].strip("._-") or "x"
    return f"{slug}~{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


MANIFEST_SUFFIX = ".manifest.json"
ADOPTED_MARKER = "_manifest_adopted.json"


def _tmp_name(path: Path) -> Path:
    """A temporary name no other process uses (several partitions may write at once)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


TEMP_NAME = re.compile(r"\.tmp\d*$")  # every writer's temporary name ends so: lake/cache ".tmp", reports ".tmp<pid>"


def sweep_temp_files(*roots: Path) -> list[Path]:
    """Remove the temporary files and folders that writers killed between writing and renaming left behind (a
    SIGKILL skips their cleanup) under ``roots``. Nothing reads them — every reader skips temporary names — so they
    only take space; call it only while no writer can be running for these folders (benchtrust calls it from a
    command that holds the data folder's lock and hosts the daemons). Returns what was removed."""
    removed: list[Path] = []
    for root in roots:
        if not Path(root).is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*filenames, *dirnames]:
                if TEMP_NAME.search(name):
                    p = Path(dirpath) / name
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p, ignore_errors=True)
                        dirnames.remove(name)
                    else:
                        p.unlink(missing_ok=True)
                    removed.append(p)
    return removed


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def register(path: Path, data: Path | None = None) -> Path:
    """List lake file ``path`` as written by the pipeline: its sidecar gets the size and SHA-256 of ``data`` (the
    temporary file about to be renamed to ``path``; ``path`` itself by default). Atomic; returns the sidecar."""
    src = Path(data) if data is not None else Path(path)
    h = hashlib.sha256()
    with open(src, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    entry = {
        "file": Path(path).name,
        "bytes": src.stat().st_size,
        "sha256": h.hexdigest(),
        "written_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "writer_pid": os.getpid(),
    }
    side = manifest_path(Path(path))
    tmp = _tmp_name(side)
    tmp.write_text(json.dumps(entry, sort_keys=True))
    os.replace(tmp, side)
    return side


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        df.to_parquet(tmp, index=False)
        register(path, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def items_path(lake: Path, benchmark: str, dataset_version: str) -> Path:
    return lake / "items" / f"benchmark={path_part(benchmark)}" / f"{safe_name(dataset_version)}.parquet"


def quarantine_path(lake: Path, kind: str, benchmark: str, version: str) -> Path:
    return lake / "quarantine" / kind / f"benchmark={path_part(benchmark)}" / f"{safe_name(version)}.parquet"


def predictions_path(lake: Path, benchmark: str, model: str, model_version: str, dataset_version: str) -> Path:
    """Benchmark and model names go through :func:`path_part` (any name; plain names unchanged); the versions
    must be safe names (hashes, or :func:`path_part` of an imported version)."""
    return predictions_dir(lake, benchmark, model) / f"{safe_name(model_version)}__{safe_name(dataset_version)}.parquet"


def predictions_dir(lake: Path, benchmark: str, model: str) -> Path:
    """The folder of every predictions file of one benchmark × model (all versions)."""
    return lake / "predictions" / f"benchmark={path_part(benchmark)}" / f"model={path_part(model)}"


def predictions_quarantine_path(
    lake: Path, benchmark: str, model: str, model_version: str, dataset_version: str
) -> Path:
    """Rows of one predictions file that failed their contract (the model's name leads the file name)."""
    return quarantine_path(lake, "predictions", benchmark, f"{safe_name(model)}__{model_version}__{dataset_version}")


def rejected_path(lake: Path, path: Path) -> Path:
    """Where a file that failed a blocking contract goes instead of ``path``: the same place under ``rejected/``
    (kept for inspection; neither dbt nor the manifest check reads it)."""
    return lake / "rejected" / Path(path).relative_to(lake)


def benchmarks_with_items(lake: Path) -> list[str]:
    """The lake folder names (:func:`path_part`) of every benchmark that has a latest items version."""
    return sorted(p.parent.name.split("=", 1)[1] for p in (lake / "items").glob("benchmark=*/LATEST.json"))


def corpus_docs_path(lake: Path, corpus: str, corpus_version: str) -> Path:
    return lake / "corpus_docs" / f"corpus={safe_name(corpus)}" / f"{safe_name(corpus_version)}.parquet"


def corpus_latest_pointer(lake: Path, corpus: str) -> Path:
    return lake / "corpus_docs" / f"corpus={safe_name(corpus)}" / "LATEST.json"


def corpus_signal_dir(lake: Path, table: str, corpus: str) -> Path:
    """Per-corpus folder of a contamination table: ``corpus_ngram_matches``, ``corpus_ngram_scans``,
    ``aligned_matches`` or ``embedding_neighbours``."""
    if table not in ("corpus_ngram_matches", "corpus_ngram_scans", "aligned_matches", "embedding_neighbours"):
        raise ValueError(f"{table!r} is not a per-corpus lake table")
    return lake / table / f"corpus={safe_name(corpus)}"


def embeddings_dir(lake: Path, model_slug: str) -> Path:
    """The embedding cache of one embedding model (``text_embeddings`` in dbt)."""
    return lake / "embeddings" / f"model={safe_name(model_slug)}"


def item_neighbours_path(lake: Path, fingerprint: str) -> Path:
    return lake / "item_neighbours" / f"{safe_name(fingerprint)}.parquet"


def model_signal_path(lake: Path, table: str, benchmark: str, model: str, name: str) -> Path:
    """A per benchmark × model contamination file: ``membership`` (membership signals) or ``rewrite_predictions``;
    ``name`` is the file name without ``.parquet`` (versions joined by ``__``)."""
    if table not in ("membership", "rewrite_predictions"):
        raise ValueError(f"{table!r} is not a per benchmark x model lake table")
    return lake / table / f"benchmark={safe_name(benchmark)}" / f"model={safe_name(model)}" / f"{name}.parquet"


def latest_pointer(lake: Path, benchmark: str) -> Path:
    return lake / "items" / f"benchmark={path_part(benchmark)}" / "LATEST.json"


def set_latest(lake: Path, benchmark: str, info: dict[str, Any]) -> None:
    p = latest_pointer(lake, benchmark)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True))
    os.replace(tmp, p)


def latest_items(lake: Path, benchmark: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    p = latest_pointer(lake, benchmark)
    if not p.exists():
        raise FileNotFoundError(f"no items for benchmark {benchmark!r} in {lake} (materialize benchmark_items first)")
    info = json.loads(p.read_text())
    return pd.read_parquet(items_path(lake, benchmark, info["dataset_version"])), info


# dbt source table -> the glob of its files under the lake (what its external_location reads)
LAKE_TABLES: dict[str, str] = {
    "items": "items/*/*.parquet",
    "quarantined_items": "quarantine/items/*/*.parquet",
    "predictions": "predictions/*/*/*.parquet",
    "corpus_docs": "corpus_docs/*/*.parquet",
    "corpus_ngram_matches": "corpus_ngram_matches/*/*.parquet",
    "corpus_ngram_scans": "corpus_ngram_scans/*/*.parquet",
    "text_embeddings": "embeddings/*/*.parquet",
    "embedding_neighbours": "embedding_neighbours/*/*.parquet",
    "aligned_matches": "aligned_matches/*/*.parquet",
    "item_neighbours": "item_neighbours/*.parquet",
    "membership_signals": "membership/*/*/*.parquet",
    "rewrite_predictions": "rewrite_predictions/*/*/*.parquet",
}
# the tables ensure_layout gives a zero-row schema file; all others are read through bt_lake_source
SEEDED_TABLES = ("items", "quarantined_items", "predictions")


def _schema_files(lake: Path) -> dict[str, tuple[Path, list[str]]]:
    from benchtrust.inference.types import PREDICTION_COLUMNS
    from benchtrust.items import ITEM_COLUMNS, QUARANTINE_COLUMNS

    # "_schema" on purpose: not a name path_part keeps, so no benchmark or model can ever have this folder
    return {
        "items": (
            lake / "items" / "benchmark=_schema" / "_schema.parquet",
            [*ITEM_COLUMNS, "ingested_at", "contract_version"],
        ),
        "quarantined_items": (
            lake / "quarantine" / "items" / "benchmark=_schema" / "_schema.parquet",
            QUARANTINE_COLUMNS,
        ),
        "predictions": (
            lake / "predictions" / "benchmark=_schema" / "model=_schema" / "_schema.parquet",
            [*PREDICTION_COLUMNS, "written_at", "contract_version"],
        ),
    }


def ensure_layout(lake: Path) -> None:
    """Give every table of :data:`SEEDED_TABLES` at least one (zero-row) file, so ``dbt build`` works on a
    lake that has, say, never quarantined anything (DuckDB's read_parquet fails on a glob matching nothing)."""
    schema_files = dict(_schema_files(lake).values())
    from benchtrust.hashing import hash_obj

    # (a lake from before issue 15 first goes through benchtrust.names_migration.upgrade_names, which imports this
    # module: the dbt asset calls both)
    adopt_existing(lake)
    for path, cols in schema_files.items():
        # named by its column list, so a lake from an older version gains a file with the new columns
        versioned = path.with_name(f"_schema-{hash_obj(cols, 8)}.parquet")
        if not versioned.exists() or not manifest_path(versioned).exists():
            write_parquet(pd.DataFrame({c: pd.Series(dtype="object") for c in cols}), versioned)


def adopt_existing(lake: Path) -> int:
    """Once per lake: list the Parquet files of a lake written before the manifest existed (no sidecar anywhere:
    its files were the pipeline's then). A lake that has any sidecar is a manifest-era lake and nothing in it is
    adopted. A marker records the decision; afterwards nothing is listed except by :func:`register`."""
    marker = lake / ADOPTED_MARKER
    if marker.exists():
        return 0
    lake.mkdir(parents=True, exist_ok=True)
    n = 0
    if next(lake.rglob("*" + MANIFEST_SUFFIX), None) is None:
        for p in sorted(lake.rglob("*.parquet")):
            if p.is_file() and not p.is_symlink():
                register(p)
                n += 1
    tmp = _tmp_name(marker)
    tmp.write_text(json.dumps({"adopted_files": n, "at": pd.Timestamp.now(tz="UTC").isoformat()}))
    os.replace(tmp, marker)
    return n
