import dagster as dg

from pipelines.resources import BenchtrustResource


@dg.asset(
    deps=[dg.AssetKey(["marts", "reliability_report"]), dg.AssetKey(["marts", "predictions"]),
          dg.AssetKey(["marts", "quarantine"])],
    group_name="reports",
    kinds={"html", "json"},
)
def reliability_reports(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource) -> dg.MaterializeResult:
    """One versioned report (HTML, Markdown, JSON) per model × benchmark, read from the warehouse read-only.
    A report version folder is immutable; unchanged inputs write nothing new."""
    from benchtrust.report import build_bundles, write_report
    from benchtrust.report.render import render_markdown

    settings = benchtrust.settings()
    bundles = build_bundles(settings.warehouse)
    rows, new = [], 0
    for b in bundles:
        folder, written = write_report(settings.reports, b)
        new += written
        h = b.headline
        acc = "—" if h["accuracy"] is None else f"{h['accuracy']:.3f} [{h['ci_low']:.3f}, {h['ci_high']:.3f}]"
        rows.append(f"| {h['model']} | {h['benchmark']} | {h['n_scored']} | {acc} | `{b.version}` | {folder / 'report.html'} |")
    table = "\n".join(["| model | benchmark | n | accuracy (95% Wilson) | version | path |", "|---|---|---|---|---|---|", *rows])
    return dg.MaterializeResult(metadata={
        "reports": len(bundles),
        "new_versions": new,
        "summary": dg.MetadataValue.md(table),
        "preview": dg.MetadataValue.md(render_markdown(bundles[0]) if bundles else "no reports"),
        "root": dg.MetadataValue.path(str(settings.reports)),
    })
