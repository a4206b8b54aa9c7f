import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from pipelines.instance import WAREHOUSE_POOL
from pipelines.resources import BenchtrustResource

if TYPE_CHECKING:
    import pandas as pd


def _same(a: Any, b: Any) -> bool:
    """Equal numbers, or both missing (None / NaN)."""
    na = a is None or (isinstance(a, float) and math.isnan(a))
    nb = b is None or (isinstance(b, float) and math.isnan(b))
    return (na and nb) or (not na and not nb and abs(float(a) - float(b)) < 1e-12)


def _extra_provenance(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Provenance the warehouse does not hold: the model's registry entry, the grid's spec (when the registry's
    grid still has the report's grid version) and the predictions contract version from the instance."""
    from benchtrust.registry import RegistryError

    registry = benchtrust.registry()

    def extra(h: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        cfg = registry.models.get(h["model"])
        if cfg:
            out["model_source"] = dict(cfg.get("source") or {})
        try:
            grid = registry.grid(h["benchmark"], benchtrust.active_profile)
            if grid.version == h.get("grid_version"):
                out["grid"] = {
                    "templates": [t.id for t in grid.templates],
                    "decoding": grid.decoding,
                    "subset": grid.subset,
                    "fewshot": grid.fewshot,
                    "permutation_seeds": grid.permutation_seeds,
                    "numeric": grid.numeric,
                }
        except (RegistryError, KeyError):
            pass
        try:
            pk = dg.MultiPartitionKey({"benchmark": h["benchmark"], "model": h["model"]})
            recs = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("predictions"), asset_partitions=[pk]), limit=1
            ).records
            meta = recs[0].asset_materialization.metadata if recs else {}
            if (
                meta
                and meta.get("model_version")
                and meta["model_version"].value == h["model_version"]
                and meta.get("dataset_version")
                and meta["dataset_version"].value == h["dataset_version"]
                and meta.get("contract_version")
            ):
                out["contracts"] = {"predictions": meta["contract_version"].value}
        except Exception as e:  # provenance is best effort; never fail a report on it
            context.log.debug(f"no predictions contract version for {h['model']} × {h['benchmark']}: {e}")
        return out

    return extra


def _versions_and_latest(warehouse: Path) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """marts.report_versions (every version) and the latest reliability_report rows, read-only."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        versions = con.execute(
            "select model, benchmark, report_version, report_path, is_latest, previous_report_version "
            "from marts.report_versions order by benchmark, model, version_seq"
        ).df()
        latest = con.execute(
            "select model, benchmark, report_version, accuracy, ci_low, ci_high, n_scored "
            "from marts.reliability_report where is_latest order by benchmark, model"
        ).df()
    finally:
        con.close()
    return versions, latest


def _missing_files(versions: "pd.DataFrame", root: Path) -> list[str]:
    """Report paths of versions without all three files at the folder the mart names."""
    from benchtrust.report.render import report_folder

    missing = []
    for v in versions.to_dict("records"):
        d = report_folder(root, v["model"], v["benchmark"], v["report_version"])
        if (
            not all((d / f).exists() for f in ("report.html", "report.md", "report.json"))
            or (d / "report.html").resolve() != Path(v["report_path"]).resolve()
        ):
            missing.append(v["report_path"])
    return missing


def _latest_rows(
    latest: "pd.DataFrame", root: Path
) -> tuple[list[dict[str, Any]], list[str], list[str], list[dict[str, Any]]]:
    """Per latest report, as its report.json says: a metadata row, a Markdown summary line, any number that
    differs from the mart, and the red verdicts."""
    from benchtrust.report.render import report_folder

    rows: list[dict[str, Any]] = []
    summary: list[str] = []
    mismatched: list[str] = []
    red: list[dict[str, Any]] = []
    for r in latest.to_dict("records"):
        d = report_folder(root, r["model"], r["benchmark"], r["report_version"])
        try:
            data = json.loads((d / "report.json").read_text())
        except (OSError, ValueError):
            continue
        h = data["headline"]
        for k in ("accuracy", "ci_low", "ci_high"):
            a, m = h.get(k), r[k]
            if not _same(a, m):
                mismatched.append(f"{r['model']} × {r['benchmark']}: {k} {a} in report.json, {m} in the mart")
        verdict = data.get("overall_verdict")
        if verdict == "red":
            reds = [x["title"] for x in data.get("verdicts", []) if x["status"] == "red"]
            red.append({"model": r["model"], "benchmark": r["benchmark"], "red": reds})
        acc = "—" if h.get("accuracy") is None else f"{100 * h['accuracy']:.1f}%"
        ci = "—" if h.get("ci_low") is None else f"[{100 * h['ci_low']:.1f}%, {100 * h['ci_high']:.1f}%]"
        rows.append(
            {
                "model": r["model"],
                "benchmark": r["benchmark"],
                "score": h.get("accuracy"),
                "ci_low": h.get("ci_low"),
                "ci_high": h.get("ci_high"),
                "n": h.get("n_scored"),
                "verdict": verdict,
                "report_version": r["report_version"],
                "report_path": str(d / "report.html"),
                "what_changed": (data.get("changes") or {}).get("summary"),
            }
        )
        summary.append(
            f"| {r['model']} | {r['benchmark']} | {h.get('n_scored')} | {acc} {ci} | **{verdict}** | "
            f"`{r['report_version']}` | {d / 'report.html'} |"
        )
    return rows, summary, mismatched, red


def _preview(written: list[Any], rows: list[dict[str, Any]], root: Path) -> tuple[str, dict[str, Any]]:
    """The Markdown of the report this materialization is about (the newest version written, by when its
    predictions were written; else the first latest report) and its metadata row."""
    from benchtrust.report.render import report_folder

    preview_bundle = (
        max((b for b, _ in written), key=lambda b: str(b.headline.get("written_at") or "")) if written else None
    )
    first = rows[0] if rows else {}
    preview_path = (
        (
            report_folder(
                root, preview_bundle.headline["model"], preview_bundle.headline["benchmark"], preview_bundle.version
            )
            / "report.md"
        )
        if preview_bundle
        else (
            report_folder(root, first["model"], first["benchmark"], first["report_version"]) / "report.md"
            if first
            else None
        )
    )
    preview = preview_path.read_text() if preview_path and preview_path.exists() else "no reports"
    headline_row = next(
        (
            r
            for r in rows
            if preview_bundle
            and r["report_version"] == preview_bundle.version
            and r["model"] == preview_bundle.headline["model"]
        ),
        first,
    )
    return preview, headline_row


def _headline_metadata(headline_row: dict[str, Any]) -> dict[str, Any]:
    if not headline_row:
        return {}
    return {
        "score": headline_row["score"],
        "interval": dg.MetadataValue.text(
            "—"
            if headline_row["ci_low"] is None
            else f"[{headline_row['ci_low']:.4f}, {headline_row['ci_high']:.4f}] (Wilson 95%)"
        ),
        "verdict": dg.MetadataValue.text(
            f"{headline_row['verdict']} ({headline_row['model']} × {headline_row['benchmark']})"
        ),
        "report_path": dg.MetadataValue.path(headline_row["report_path"]),
    }


def _check_results(
    versions: "pd.DataFrame",
    rows: list[dict[str, Any]],
    missing: list[str],
    mismatched: list[str],
    red: list[dict[str, Any]],
) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name="report_files_complete",
            passed=not missing and not mismatched,
            severity=dg.AssetCheckSeverity.ERROR,
            description="all report versions are on disk and match the mart"
            if not missing and not mismatched
            else f"{len(missing)} versions missing files, {len(mismatched)} numbers differ from the mart",
            metadata={
                "versions": len(versions),
                "missing": dg.MetadataValue.json(missing[:50]),
                "mismatched": dg.MetadataValue.json(mismatched[:50]),
            },
        ),
        dg.AssetCheckResult(
            check_name="no_red_verdicts",
            passed=not red,
            severity=dg.AssetCheckSeverity.WARN,
            description="no latest report is red"
            if not red
            else f"{len(red)} of {len(rows)} latest reports have a red verdict",
            metadata={"red": dg.MetadataValue.json(red)},
        ),
    ]


@dg.asset(
    deps=[
        dg.AssetKey(["marts", "reliability_report"]),
        dg.AssetKey(["marts", "report_versions"]),
        dg.AssetKey(["marts", "model_comparisons"]),
        dg.AssetKey(["marts", "predictions"]),
        dg.AssetKey(["marts", "quarantine"]),
        dg.AssetKey(["marts", "calibration"]),
        dg.AssetKey(["marts", "ranking_stability"]),
    ],
    group_name="reports",
    kinds={"html", "markdown", "json"},
    pool=WAREHOUSE_POOL,  # reads the warehouse; one at a time with the dbt build
    check_specs=[
        dg.AssetCheckSpec(
            "report_files_complete",
            asset="reliability_reports",
            description="every version in marts.report_versions has report.html, report.md and "
            "report.json at its report_path, and each latest report.json carries the "
            "mart's accuracy and interval",
        ),
        dg.AssetCheckSpec(
            "no_red_verdicts",
            asset="reliability_reports",
            description="no latest report has an overall red reliability verdict (warning: the "
            "numbers are still published, with their caveats)",
        ),
    ],
)
def reliability_reports(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Versioned reliability reports (HTML with plots, Markdown, JSON) per model × benchmark, one page per
    benchmark across models, and `reports/index.html` — read from the warehouse read-only.

    A report version folder is immutable: versions already on disk are skipped, unchanged inputs write
    nothing new. Each new version says what changed against the previous version of the same model ×
    benchmark (inputs, item flips, paired McNemar test and the minimum detectable effect).
    """
    from benchtrust.report.render import publish

    settings = benchtrust.settings()
    root = settings.reports
    pub = publish(settings.warehouse, root, lake=settings.lake, extra_provenance=_extra_provenance(context, benchtrust))
    written, index_paths, home = pub.written, pub.index_paths, pub.home
    for b, folder in written:
        context.log.info(
            f"new report version {b.version} for {b.headline['model']} × {b.headline['benchmark']}: {folder}"
        )

    versions, latest = _versions_and_latest(settings.warehouse)
    missing = _missing_files(versions, root)
    rows, summary, mismatched, red = _latest_rows(latest, root)
    table = "\n".join(
        [
            "| model | benchmark | n | accuracy (95% Wilson) | verdict | version | path |",
            "|---|---|---|---|---|---|---|",
            *summary,
        ]
    )
    preview, headline_row = _preview(written, rows, root)
    # the report this materialization is about: the newest version written, else the first
    metadata: dict[str, Any] = _headline_metadata(headline_row)
    metadata.update(
        {
            "preview": dg.MetadataValue.md(preview),
            "summary": dg.MetadataValue.md(table),
            "index": dg.MetadataValue.path(str(home)),
            "reports": len(rows),
            "new_versions": len(written),
            "versions_total": len(versions),
            "new": dg.MetadataValue.json(
                [
                    {
                        "model": b.headline["model"],
                        "benchmark": b.headline["benchmark"],
                        "report_version": b.version,
                        "path": str(f / "report.html"),
                    }
                    for b, f in written
                ]
            ),
            "latest": dg.MetadataValue.json(rows),
            "benchmark_pages": dg.MetadataValue.json([str(p) for p in index_paths]),
            "root": dg.MetadataValue.path(str(root)),
        }
    )
    yield dg.MaterializeResult(
        metadata=metadata, check_results=_check_results(versions, rows, missing, mismatched, red)
    )
