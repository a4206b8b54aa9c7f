"""The Parquet lake: raw and model outputs land here, one immutable file per content version.

Layout (hive-style folders; dbt reads them as external sources):
  items/benchmark=<b>/<dataset_version>.parquet
  quarantine/items/benchmark=<b>/<dataset_version>.parquet
  predictions/benchmark=<b>/model=<m>/<model_version>__<dataset_version>.parquet
Writes go to a temporary name and are renamed into place, so readers never see half a file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


def safe_name(s: str) -> str:
    if not SAFE.match(s):
        raise ValueError(f"{s!r} is not a safe partition name (letters, digits, '.', '_' and '-' only)")
    return s


def path_part(name: str) -> str:
    """A folder name for any model or benchmark name: every run of characters outside [A-Za-z0-9._-] becomes
    '__' ('openai/gpt-4o' → 'openai__gpt-4o'); '', '.' and '..' are wrapped in '_' so a name never leaves its
    parent folder. Safe names are kept as they are. The dbt macro ``path_part`` is the same rule
    (marts.report_versions.report_path)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "__", str(name))
    return f"_{s}_" if s in ("", ".", "..") else s


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def items_path(lake: Path, benchmark: str, dataset_version: str) -> Path:
    return lake / "items" / f"benchmark={safe_name(benchmark)}" / f"{dataset_version}.parquet"


def quarantine_path(lake: Path, kind: str, benchmark: str, version: str) -> Path:
    return lake / "quarantine" / kind / f"benchmark={safe_name(benchmark)}" / f"{version}.parquet"


def predictions_path(lake: Path, benchmark: str, model: str, model_version: str, dataset_version: str) -> Path:
    return (lake / "predictions" / f"benchmark={safe_name(benchmark)}" / f"model={safe_name(model)}"
            / f"{model_version}__{dataset_version}.parquet")


def latest_pointer(lake: Path, benchmark: str) -> Path:
    return lake / "items" / f"benchmark={safe_name(benchmark)}" / "LATEST.json"


def set_latest(lake: Path, benchmark: str, info: dict) -> None:
    p = latest_pointer(lake, benchmark)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True))
    os.replace(tmp, p)


def latest_items(lake: Path, benchmark: str) -> tuple[pd.DataFrame, dict]:
    p = latest_pointer(lake, benchmark)
    if not p.exists():
        raise FileNotFoundError(f"no items for benchmark {benchmark!r} in {lake} (materialize benchmark_items first)")
    info = json.loads(p.read_text())
    return pd.read_parquet(items_path(lake, benchmark, info["dataset_version"])), info


def ensure_layout(lake: Path) -> None:
    """Give every external source of the dbt project at least one (zero-row) file, so ``dbt build`` works on a
    lake that has, say, never quarantined anything (DuckDB's read_parquet fails on a glob matching nothing)."""
    from benchtrust.inference.runner import PREDICTION_COLUMNS
    from benchtrust.items import ITEM_COLUMNS, QUARANTINE_COLUMNS

    schema_files = {
        lake / "items" / "benchmark=_schema" / "_schema.parquet": [*ITEM_COLUMNS, "ingested_at", "contract_version"],
        lake / "quarantine" / "items" / "benchmark=_schema" / "_schema.parquet": QUARANTINE_COLUMNS,
        lake / "predictions" / "benchmark=_schema" / "model=_schema" / "_schema.parquet": [*PREDICTION_COLUMNS, "written_at", "contract_version"],
    }
    from benchtrust.hashing import hash_obj

    for path, cols in schema_files.items():
        # named by its column list, so a lake from an older version gains a file with the new columns
        versioned = path.with_name(f"_schema-{hash_obj(cols, 8)}.parquet")
        if not versioned.exists():
            write_parquet(pd.DataFrame({c: pd.Series(dtype="object") for c in cols}), versioned)
