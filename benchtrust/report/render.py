"""Render reports from the warehouse (read-only).

A report lives in ``reports/<model>/<benchmark>/<report_version>/`` and never changes once written: a new
input makes a new report version. Benchmark text is untrusted: Jinja2 autoescaping is on for HTML.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from benchtrust.lake import safe_name


def _clean(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [{c: _clean(v) for c, v in zip(cols, row)} for row in cur.fetchall()]


@dataclass
class ReportBundle:
    headline: dict[str, Any]
    templates: list[dict[str, Any]]
    provenance: dict[str, Any]
    quarantine: list[dict[str, Any]]
    sample_items: list[dict[str, Any]]

    @property
    def version(self) -> str:
        return self.headline["report_version"]

    def to_json(self) -> dict[str, Any]:
        return {"report_version": self.version, "headline": self.headline, "templates": self.templates,
                "provenance": self.provenance, "quarantine": self.quarantine, "sample_items": self.sample_items}


def build_bundles(warehouse: Path, latest_only: bool = True) -> list[ReportBundle]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        heads = _records(con, "select * from marts.reliability_report"
                         + (" where is_latest" if latest_only else "") + " order by benchmark, model", [])
        out = []
        for h in heads:
            key = [h["model"], h["model_version"], h["benchmark"], h["dataset_version"]]
            templates = _records(con, """
                select template_id, count(is_correct) as n_scored, count(*) filter (where is_correct) as n_correct,
                       avg(case when is_correct then 1.0 when not is_correct then 0.0 end) as accuracy,
                       bool_or(is_headline) as is_headline
                from marts.predictions
                where model = ? and model_version = ? and benchmark = ? and dataset_version = ?
                  and is_primary
                group by template_id order by template_id""", key)
            prov = _records(con, """
                select any_value(device) as device, any_value(dtype) as dtype,
                       any_value(attn_implementation) as attn_implementation,
                       any_value(library_versions) as library_versions, min(computed_at) as first_computed,
                       max(computed_at) as last_computed
                from marts.predictions
                where model = ? and model_version = ? and benchmark = ? and dataset_version = ?""", key)[0]
            if prov.get("library_versions"):
                prov["library_versions"] = json.loads(prov["library_versions"])
            prov.update({k: h[k] for k in ("model_version", "dataset_version", "grid_version")})
            quarantine = _records(con, """
                select rule, count(*) as n, min(source_row) as first_row, any_value(source_file) as source_file
                from marts.quarantine where benchmark = ? and dataset_version = ? group by rule order by n desc""",
                                  [h["benchmark"], h["dataset_version"]])
            sample = _records(con, """
                select p.item_id, p.template_id, i.input, p.prediction, p.gold, p.is_correct, p.p_correct
                from marts.predictions p join staging.stg_lake__items i
                  on i.benchmark = p.benchmark and i.dataset_version = p.dataset_version and i.item_id = p.item_id
                where p.model = ? and p.model_version = ? and p.benchmark = ? and p.dataset_version = ? and p.is_headline
                order by p.item_id limit 10""", key)
            out.append(ReportBundle(h, templates, prov, quarantine, sample))
        return out
    finally:
        con.close()


def _env() -> Environment:
    env = Environment(loader=PackageLoader("benchtrust.report", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True))
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v, d=3: "—" if v is None else f"{v:.{d}f}"
    return env


def render_html(b: ReportBundle) -> str:
    return _env().get_template("report.html.j2").render(b=b, h=b.headline, generated=datetime.now(timezone.utc))


def render_markdown(b: ReportBundle) -> str:
    h = b.headline
    acc = "—" if h["accuracy"] is None else f"{h['accuracy']:.3f}"
    ci = "—" if h["ci_low"] is None else f"[{h['ci_low']:.3f}, {h['ci_high']:.3f}] ({h['ci_method']}, 95%)"
    lines = [f"# {h['model']} on {h['benchmark']}", "", f"**Accuracy {acc}** {ci}, n = {h['n_scored']} items "
             f"(template `{h['headline_template']}`)", "", "| template | n | accuracy |", "|---|---|---|"]
    for t in b.templates:
        a = "—" if t["accuracy"] is None else f"{t['accuracy']:.3f}"
        lines.append(f"| {t['template_id']} | {t['n_scored']} | {a} |")
    lines += ["", f"report version `{b.version}` · dataset `{h['dataset_version']}` · model `{h['model_version']}`"]
    return "\n".join(lines) + "\n"


def report_dir(root: Path, b: ReportBundle) -> Path:
    h = b.headline
    return root / safe_name(h["model"]) / safe_name(h["benchmark"]) / safe_name(b.version)


def write_report(root: Path, b: ReportBundle) -> tuple[Path, bool]:
    """Write html/md/json into the version folder; an existing version is never rewritten. Returns
    (folder, written_now)."""
    d = report_dir(root, b)
    if (d / "report.json").exists():
        return d, False
    tmp = d.with_name(d.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "report.html").write_text(render_html(b), encoding="utf-8")
    (tmp / "report.md").write_text(render_markdown(b), encoding="utf-8")
    (tmp / "report.json").write_text(json.dumps(b.to_json(), indent=2, default=str), encoding="utf-8")
    if d.exists():  # a half-written folder from a killed run
        import shutil

        shutil.rmtree(d)
    os.replace(tmp, d)
    return d, True


def latest_report(root: Path, warehouse: Path, model: str | None = None, benchmark: str | None = None) -> list[Path]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        sql = "select model, benchmark, report_version from marts.reliability_report where is_latest"
        params: list[Any] = []
        if model:
            sql += " and model = ?"
            params.append(model)
        if benchmark:
            sql += " and benchmark = ?"
            params.append(benchmark)
        rows = con.execute(sql + " order by model, benchmark", params).fetchall()
    finally:
        con.close()
    return [root / m / b / v / "report.html" for m, b, v in rows]
