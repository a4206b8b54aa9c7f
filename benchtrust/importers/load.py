"""Land imported predictions (and their items, when the source has them) in the Parquet lake, where the dbt
audits pick them up like predictions benchtrust computed itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchtrust import lake
from benchtrust.importers._common import ImportResult


def folder_name(name: str) -> str:
    """A partition folder or file-name part for any name: the lake's injective :func:`~benchtrust.lake.path_part`
    ('openai/gpt-4o' → 'openai_gpt-4o~<hash>'; 'org/model' and 'org:model' get different folders)."""
    return lake.path_part(name)


def write_import(res: ImportResult, predictions: pd.DataFrame, lake_root: Path) -> list[Path]:
    """Write ``predictions`` (already checked) per benchmark × model, and the import's items per dataset
    version unless that version is already in the lake (canonical items are never overwritten)."""
    written: list[Path] = []
    now = pd.Timestamp.now(tz="UTC")
    if res.items is not None and len(res.items):
        items = res.items.copy()
        if "ingested_at" not in items.columns:
            items["ingested_at"] = now
        for (bench, dv), grp in items.groupby(["benchmark", "dataset_version"], sort=True):
            path = lake.items_path(lake_root, str(bench), folder_name(str(dv)))
            if not path.exists():
                written.append(lake.write_parquet(grp.reset_index(drop=True), path))
    for (bench, model, mv, dv), grp in predictions.groupby(
        ["benchmark", "model", "model_version", "dataset_version"], sort=True, dropna=False
    ):
        path = lake.predictions_path(lake_root, str(bench), str(model), folder_name(str(mv)), folder_name(str(dv)))
        written.append(lake.write_parquet(grp.assign(written_at=now).reset_index(drop=True), path))
    return written
