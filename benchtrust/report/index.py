"""Benchmark index pages: one page per benchmark across models — every model's latest score (forest plot), its
rank and verdicts, the paired comparisons between models, label errors and ranking stability."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from benchtrust.lake import path_part
from benchtrust.report import warehouse as wh
from benchtrust.report.format import clean, oriented
from benchtrust.report.paths import report_folder


@dataclass
class BenchmarkIndex:
    """One page per benchmark across models: every model's latest score (forest plot), verdicts and the paired
    comparisons between them."""

    benchmark: str
    rows: list[dict[str, Any]]  # latest report per model, with its overall verdict and link
    comparisons: list[dict[str, Any]]
    label_errors: dict[str, Any] | None = None
    ranking_stability: dict[str, Any] | None = None

    @property
    def version(self) -> str:
        from benchtrust.hashing import hash_obj
        from benchtrust.report.versions import code_versions

        return hash_obj(
            [
                self.benchmark,
                sorted((r["model"], r["report_version"]) for r in self.rows),
                code_versions().get("report_format"),
            ]
        )

    def to_json(self) -> dict[str, Any]:
        return clean(
            {
                "benchmark": self.benchmark,
                "index_version": self.version,
                "models": self.rows,
                "comparisons": self.comparisons,
                "label_errors": self.label_errors,
                "ranking_stability": self.ranking_stability,
            }
        )


def _ranked_rows(con: duckdb.DuckDBPyConnection, reports_root: Path, benchmark: str) -> list[dict[str, Any]]:
    """Every model's latest report, best accuracy first (ties share the better rank), with its verdicts and link."""
    rows = sorted(
        wh.forest(con, benchmark), key=lambda r: (-(r["accuracy"] if r["accuracy"] is not None else -1), r["model"])
    )
    for r in rows:
        r["rank"] = 1 + sum(
            1 for o in rows if o["accuracy"] is not None and r["accuracy"] is not None and o["accuracy"] > r["accuracy"]
        )
        data = _read_report_json(reports_root, r["model"], benchmark, r["report_version"])
        r["overall_verdict"] = data.get("overall_verdict")
        r["verdicts"] = {v["audit"]: v["status"] for v in data.get("verdicts", [])}
        r["href"] = f"{path_part(r['model'])}/{path_part(benchmark)}/{r['report_version']}/report.html"
    return rows


def _pair_comparisons(con: duckdb.DuckDBPyConnection, benchmark: str) -> list[dict[str, Any]]:
    """The marts.model_comparisons rows of ``benchmark``, each seen from its model a."""
    comps: list[dict[str, Any]] = []
    if wh.has_table(con, "marts", "model_comparisons"):
        for c in wh.records(
            con,
            """select * from marts.model_comparisons where comparison = 'models'
                                    and benchmark = ? order by model_a, model_b""",
            [benchmark],
        ):
            o = oriented(c, c["model_a"])
            comps.append(
                {
                    "model_a": c["model_a"],
                    "model_b": c["model_b"],
                    **{k: v for k, v in o.items() if k not in ("other_model", "this_model")},
                }
            )
    return comps


def build_indexes(warehouse: Path, reports_root: Path) -> list[BenchmarkIndex]:
    """One :class:`BenchmarkIndex` per benchmark of marts.reliability_report (verdicts read from the written
    reports under ``reports_root``)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        benches = [
            r["benchmark"]
            for r in wh.records(con, "select distinct benchmark from marts.reliability_report order by 1")
        ]
        out = []
        for b in benches:
            rows = _ranked_rows(con, reports_root, b)
            comps = _pair_comparisons(con, b)
            versions = {r["dataset_version"] for r in rows}
            dv = versions.pop() if len(versions) == 1 else None
            le = wh.label_errors_audit(con, b, dv) if dv else None
            rs = wh.ranking_stability_audit(con, b, dv) if dv else None
            out.append(BenchmarkIndex(b, rows, comps, le, rs))
        return out
    finally:
        con.close()


def _read_report_json(root: Path, model: str, benchmark: str, version: str) -> dict[str, Any]:
    try:
        return json.loads((report_folder(root, model, benchmark, version) / "report.json").read_text())
    except (OSError, ValueError):
        return {}
