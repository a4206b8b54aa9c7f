"""Everything one report shows, read from the warehouse (read-only) and computed with ``benchtrust.stats``.

A :class:`ReportBundle` holds numbers only; :mod:`benchtrust.report.render` turns it into HTML (with plots),
Markdown and JSON, so the three formats carry the same numbers. The warehouse reads live in
:mod:`.warehouse`, the shaping of values in :mod:`.format`, the benchmark pages across models in :mod:`.index`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from benchtrust.report import verdicts as vd
from benchtrust.report import warehouse as wh
from benchtrust.report.format import MAX_ITEMS, clean, items_table, softmax_confidence
from benchtrust.report.index import BenchmarkIndex, build_indexes
from benchtrust.report.paths import report_folder
from benchtrust.report.warehouse import (
    MAX_LABEL_ERRORS,
    calibration_audit,
    contamination_audit,
    decoding_gap_audit,
    label_errors_audit,
    position_bias_audit,
    ranking_stability_audit,
)

__all__ = [
    "MAX_ITEMS",
    "MAX_LABEL_ERRORS",
    "BenchmarkIndex",
    "ReportBundle",
    "build_bundle",
    "build_bundles",
    "build_indexes",
    "calibration_audit",
    "contamination_audit",
    "decoding_gap_audit",
    "label_errors_audit",
    "position_bias_audit",
    "ranking_stability_audit",
    "report_folder",
    "softmax_confidence",
]


@dataclass
class ReportBundle:
    """One report version of one model × benchmark."""

    headline: dict[str, Any]
    templates: list[dict[str, Any]]
    provenance: dict[str, Any]
    quarantine: list[dict[str, Any]]
    sample_items: list[dict[str, Any]]  # the items table (changed items first, at most MAX_ITEMS)
    audits: dict[str, Any] = field(default_factory=dict)  # position_bias, calibration, seeds
    lineage: dict[str, Any] = field(default_factory=dict)  # the marts.report_versions row
    changes: dict[str, Any] | None = None  # what changed against the previous version (None for the first)
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # against the other models' latest versions
    forest: list[dict[str, Any]] = field(default_factory=list)  # every model's latest score on this benchmark
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.verdicts:
            self.verdicts = [v.to_dict() for v in vd.evaluate(self.headline, self.audits)]

    @property
    def version(self) -> str:
        return self.headline["report_version"]

    @property
    def overall(self) -> str:
        return vd.overall(self.verdicts)

    def to_json(self) -> dict[str, Any]:
        return clean(
            {
                "report_version": self.version,
                "overall_verdict": self.overall,
                "headline": self.headline,
                "verdicts": self.verdicts,
                "verdict_rules": vd.rules_table(),
                "lineage": self.lineage,
                "changes": self.changes,
                "comparisons": self.comparisons,
                "forest": self.forest,
                "templates": self.templates,
                "audits": self.audits,
                "quarantine": self.quarantine,
                "sample_items": self.sample_items,
                "provenance": self.provenance,
            }
        )


def _audits(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any]:
    return {
        "seeds": wh.seeds(con, h),
        "position_bias": position_bias_audit(con, h),
        "calibration": calibration_audit(con, h),
        "label_errors": label_errors_audit(con, h["benchmark"], h["dataset_version"]),
        "contamination": contamination_audit(con, h),
        "decoding_gap": decoding_gap_audit(con, h),
    }


def build_bundle(
    con: duckdb.DuckDBPyConnection,
    h: dict[str, Any],
    lake: Path | None = None,
    extra_provenance: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> ReportBundle:
    """The bundle of one marts.reliability_report row."""
    lineage = wh.lineage(con, h)
    cells = wh.headline_cells(con, wh.key(h), with_text=True)
    audits = _audits(con, h)
    changes = wh.version_changes(con, h, lineage, cells) if lineage else None
    prov = wh.provenance(con, h, lake)
    if extra_provenance:
        extra = dict(extra_provenance(h) or {})
        # contract versions merge: the rows' own versions (from the lake) win over instance metadata
        prov["contracts"] = {**extra.pop("contracts", {}), **prov.get("contracts", {})}
        prov.update(extra)
    return ReportBundle(
        headline=h,
        templates=wh.templates(con, h),
        provenance=prov,
        quarantine=wh.quarantine(con, h),
        sample_items=items_table(cells, changes),
        audits=audits,
        lineage=lineage,
        changes=changes,
        comparisons=wh.comparisons(con, h),
        forest=wh.forest(con, h["benchmark"]),
    )


def build_bundles(
    warehouse: Path,
    latest_only: bool = True,
    lake: Path | None = None,
    skip: Callable[[dict[str, Any]], bool] | None = None,
    extra_provenance: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[ReportBundle]:
    """Bundles for the latest report of every model × benchmark (``latest_only``) or for every version;
    ``skip(row)`` leaves out rows (e.g. versions already written)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        heads = wh.records(
            con,
            "select * from marts.reliability_report"
            + (" where is_latest" if latest_only else "")
            + " order by benchmark, model, written_at",
        )
        return [build_bundle(con, h, lake, extra_provenance) for h in heads if not (skip and skip(h))]
    finally:
        con.close()
