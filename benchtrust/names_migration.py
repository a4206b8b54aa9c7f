"""One-time move of lake and report folders named by the old, non-injective folder rule (issue 15, item 5).

Before, a name outside ``[A-Za-z0-9._-]`` became its slug ('openai/gpt-4o' → 'openai__gpt-4o'), so two names could
share a folder. :func:`benchtrust.lake.path_part` is now injective; a folder written under the old rule is moved
to its new name, read from the data itself (the ``benchmark`` / ``model`` columns of the Parquet file, the
headline of ``report.json``, the ``benchmark`` of ``index.json``), so old reports and lake files stay where the
marts point. Plain lower-case names are the same under both rules and never move. Where the new place is already
taken (the data was written again since), the old copy goes to ``superseded/`` (never read, never deleted).
A marker file makes each migration run once.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from benchtrust.lake import MANIFEST_SUFFIX, adopt_existing, path_part, predictions_dir

LAKE_MARKER = "_names_v2.json"
REPORTS_MARKER = "_names_v2.json"


def _first_value(path: Path, column: str) -> str | None:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        if column not in pf.schema_arrow.names or pf.metadata.num_rows == 0:
            return None
        values = pf.read_row_group(0, columns=[column]).column(column).to_pylist()
    except Exception:  # an unreadable file stays where it is; staging reports it
        return None
    return None if not values or values[0] is None else str(values[0])


def _move(src: Path, dst: Path, root: Path) -> tuple[Path, Path]:
    if dst.exists():
        dst = root / "superseded" / src.relative_to(root)
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    side = src.with_name(src.name + MANIFEST_SUFFIX)
    if side.exists():
        os.replace(side, dst.with_name(dst.name + MANIFEST_SUFFIX))
    return src, dst


def upgrade_names(lake: Path) -> None:
    """Once per lake (markers): adopt a pre-manifest lake, then move old-rule folders of the lake and of the reports
    beside it (the settings layout: ``<home>/lake`` beside ``<home>/reports``). Run before
    :func:`benchtrust.lake.ensure_layout`; kept out of it because this module builds on :mod:`benchtrust.lake`."""
    adopt_existing(lake)  # first, so the moves below carry the sidecars of adopted files along
    migrate_lake(lake)
    if (lake.parent / "reports").is_dir():
        migrate_reports(lake.parent / "reports")


def migrate_lake(lake: Path) -> list[tuple[Path, Path]]:
    """Move predictions / items / quarantine files from old-rule folders to their :func:`path_part` folders."""
    marker = lake / LAKE_MARKER
    if marker.exists() or not lake.is_dir():
        return []
    moves: list[tuple[Path, Path]] = []
    for f in sorted(lake.glob("predictions/benchmark=*/model=*/*.parquet")):
        b, m = _first_value(f, "benchmark"), _first_value(f, "model")
        if b is None or m is None:
            continue
        dst = predictions_dir(lake, b, m) / f.name
        if dst != f:
            moves.append(_move(f, dst, lake))
    for f in sorted([*lake.glob("items/benchmark=*/*.parquet"), *lake.glob("quarantine/*/benchmark=*/*.parquet")]):
        b = _first_value(f, "benchmark")
        if b is None or f.parent.name == "benchmark=_schema":
            continue
        dst = f.parent.with_name(f"benchmark={path_part(b)}") / f.name
        if dst != f:
            latest = f.parent / "LATEST.json"
            moves.append(_move(f, dst, lake))
            if latest.exists() and not (dst.parent / "LATEST.json").exists():
                os.replace(latest, dst.parent / "LATEST.json")
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"moved": [[str(a), str(b)] for a, b in moves]}, indent=1))
    os.replace(tmp, marker)
    return moves


def migrate_reports(reports: Path) -> list[tuple[Path, Path]]:
    """Move report version folders and benchmark pages from old-rule folders to their new names."""
    marker = reports / REPORTS_MARKER
    if marker.exists() or not reports.is_dir():
        return []
    moves: list[tuple[Path, Path]] = []
    for rj in sorted(reports.glob("*/*/*/report.json")):
        if rj.parts[-4] == "_benchmarks":
            continue
        try:
            h = json.loads(rj.read_text()).get("headline") or {}
        except (OSError, ValueError):
            continue
        if not h.get("model") or not h.get("benchmark"):
            continue
        src = rj.parent
        dst = reports / path_part(str(h["model"])) / path_part(str(h["benchmark"])) / src.name
        if dst != src and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src), str(dst))
            moves.append((src, dst))
    for ij in sorted(reports.glob("_benchmarks/*/*/index.json")):
        try:
            b = json.loads(ij.read_text()).get("benchmark")
        except (OSError, ValueError):
            continue
        src = ij.parent
        dst = reports / "_benchmarks" / path_part(str(b)) / src.name
        if b and dst != src and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src), str(dst))
            moves.append((src, dst))
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"moved": [[str(a), str(b)] for a, b in moves]}, indent=1))
    os.replace(tmp, marker)
    return moves
