"""Benchmark index pages: one page per benchmark across models — every model's latest score (forest plot), its
rank and verdicts, ranking stability, the matrix of paired comparisons between models and the label-error
candidates; ranking stability and label errors per dataset version (they are defined on one version's items)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from benchtrust.lake import path_part
from benchtrust.report import warehouse as wh
from benchtrust.report.format import EXACT_MDE_MAX_N, EXACT_MDE_MAX_PAIRS, clean, oriented
from benchtrust.report.matrix import LEGEND, comparison_matrix
from benchtrust.report.paths import report_folder


@dataclass
class BenchmarkIndex:
    """One page per benchmark across models: every model's latest score (forest plot), verdicts and the paired
    comparisons between them."""

    benchmark: str
    rows: list[dict[str, Any]]  # latest report per model, with its overall verdict and link
    comparisons: list[dict[str, Any]]
    label_errors: dict[str, Any] | None = None  # of the only dataset version; None with several (see below)
    ranking_stability: dict[str, Any] | None = None
    # one entry per dataset version of the latest reports: its models, ranking stability and label errors
    dataset_versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def matrix(self) -> list[dict[str, Any]]:
        """The paired-difference matrix, rows and columns in ranking order (computed when rendered, not stored)."""
        return comparison_matrix([r["model"] for r in self.rows], self.comparisons)

    @property
    def versions(self) -> list[dict[str, Any]]:
        """What the page shows per dataset version: :attr:`dataset_versions`, or for an index built with only the
        single-version fields (``label_errors`` / ``ranking_stability``) one entry holding those."""
        if self.dataset_versions or not (self.label_errors or self.ranking_stability):
            return self.dataset_versions
        dvs = {r.get("dataset_version") for r in self.rows}
        return [
            {
                "dataset_version": dvs.pop() if len(dvs) == 1 else None,
                "models": [r["model"] for r in self.rows],
                "ranking_stability": self.ranking_stability,
                "label_errors": self.label_errors,
            }
        ]

    @property
    def mde_methods(self) -> list[str]:
        """The methods that gave the MDEs shown (exact at small n, else the mart's normal approximation)."""
        return sorted({c["mde_method"] for c in self.comparisons if c.get("mde_method")})

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
                "dataset_versions": self.dataset_versions,
                "matrix": {"models": [r["model"] for r in self.rows], "legend": LEGEND},
                "mde_methods": self.mde_methods,
                "mde_exact_max_n": EXACT_MDE_MAX_N,
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
    """The marts.model_comparisons rows of ``benchmark``, each seen from its model a. MDE and power are exact for
    pairs with at most EXACT_MDE_MAX_N shared items while the page has at most EXACT_MDE_MAX_PAIRS of them, else
    the mart's normal approximation (each row's ``mde_method`` says which)."""
    if not wh.has_table(con, "marts", "model_comparisons"):
        return []
    rows = wh.records(
        con,
        """select * from marts.model_comparisons where comparison = 'models'
                                and benchmark = ? order by model_a, model_b""",
        [benchmark],
    )
    n_small = sum(1 for c in rows if 0 < (c["n_shared"] or 0) <= EXACT_MDE_MAX_N)
    exact = n_small <= EXACT_MDE_MAX_PAIRS
    comps: list[dict[str, Any]] = []
    for c in rows:
        o = oriented(c, c["model_a"], exact=exact)
        comps.append(
            {
                "model_a": c["model_a"],
                "model_b": c["model_b"],
                **{k: v for k, v in o.items() if k not in ("other_model", "this_model")},
            }
        )
    return comps


def _per_version(con: duckdb.DuckDBPyConnection, benchmark: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ranking stability and label errors of each dataset version the latest reports use (most models first)."""
    models: dict[str, list[str]] = {}
    for r in rows:
        models.setdefault(r["dataset_version"], []).append(r["model"])
    return [
        {
            "dataset_version": dv,
            "models": ms,
            "ranking_stability": wh.ranking_stability_audit(con, benchmark, dv),
            "label_errors": wh.label_errors_audit(con, benchmark, dv),
        }
        for dv, ms in sorted(models.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


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
            per_version = _per_version(con, b, rows)
            only = per_version[0] if len(per_version) == 1 else {}
            out.append(
                BenchmarkIndex(
                    b,
                    rows,
                    _pair_comparisons(con, b),
                    only.get("label_errors"),
                    only.get("ranking_stability"),
                    per_version,
                )
            )
        return out
    finally:
        con.close()


def _read_report_json(root: Path, model: str, benchmark: str, version: str) -> dict[str, Any]:
    try:
        return json.loads((report_folder(root, model, benchmark, version) / "report.json").read_text())
    except (OSError, ValueError):
        return {}
