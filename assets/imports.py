"""``benchtrust import`` as an asset: another tool's predictions through the same row quarantine and contract
into the lake, with a materialization record and a blocking contract check like every other border.

The import is run configuration (format, path, options); the asset is unpartitioned and each materialization
records which file it imported. ``benchtrust import`` submits it together with the warehouse (dbt build +
reports) as one backfill, so the rows, the build and the reports all show in the UI."""

from pathlib import Path

import dagster as dg

from assets.checks import contract_check_result, quality_check_result
from benchtrust import lake
from pipelines.resources import BenchtrustResource


class ImportConfig(dg.Config):
    format: str
    path: str
    benchmark: str | None = None
    model: str | None = None
    model_version: str | None = None


@dg.asset(
    group_name="ingestion",
    kinds={"python", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "imported_predictions_contract",
            asset="imported_predictions",
            blocking=True,
            description="great-expectations suite `predictions` (error level) on the imported rows: "
            "one row per grid cell, known items, probabilities and log-probabilities in range",
        ),
        dg.AssetCheckSpec(
            "imported_predictions_quality",
            asset="imported_predictions",
            blocking=False,
            description="great-expectations suite `predictions` (warn level) on the imported rows",
        ),
    ],
)
def imported_predictions(context: dg.AssetExecutionContext, config: ImportConfig, benchtrust: BenchtrustResource):
    """Predictions another tool made (lm-evaluation-harness, HELM, CSV/Parquet tables, llm-stability runs),
    normalised, quarantined row by row, validated, and written to the lake beside benchtrust's own."""
    from benchtrust.importers import import_predictions
    from benchtrust.importers._common import ImportFormatError
    from benchtrust.importers.load import folder_name, write_import
    from data_contracts import split_predictions, validate

    settings = benchtrust.settings()
    path = Path(config.path)
    opts = {
        k: v
        for k, v in {
            "benchmark": config.benchmark,
            "model": config.model,
            "model_version": config.model_version,
        }.items()
        if v
    }
    try:
        res = import_predictions(config.format, path, **opts)
    except (ImportFormatError, ValueError, OSError) as e:
        raise dg.Failure(
            description=f"import failed: {e}", metadata={"path": str(path), "format": config.format}
        ) from e
    for w in res.warnings:
        context.log.warning(w)
    good, quarantined = split_predictions(res.canonical_predictions(), res.items, source=str(path))
    qpath = None
    if len(quarantined):
        bench = str(good["benchmark"].iloc[0]) if len(good) else "import"  # quarantine_path encodes the name
        qpath = lake.write_parquet(
            quarantined, lake.quarantine_path(settings.lake, "predictions", bench, f"import__{folder_name(path.name)}")
        )
        context.log.warning(
            f"{len(quarantined)} row(s) quarantined ({quarantined['rule'].value_counts().to_dict()}): {qpath}"
        )
    result = validate(good, "predictions")
    files: list[Path] = []
    if result.success:
        files = write_import(res, good.assign(contract_version=result.version), settings.lake)
    else:
        context.log.error(f"contract failed, nothing imported: {result.summary()}")
    n_models = int(good["model"].nunique()) if len(good) else 0
    n_items = int(good["item_id"].nunique()) if len(good) else 0
    return dg.MaterializeResult(
        metadata={
            "source": dg.MetadataValue.path(str(path)),
            "format": config.format,
            "dagster/row_count": len(good),
            "models": n_models,
            "items": n_items,
            "benchmarks": dg.MetadataValue.json(sorted(map(str, good["benchmark"].unique())) if len(good) else []),
            "files": dg.MetadataValue.json([str(f) for f in files]),
            "quarantined": len(quarantined),
            "quarantine_path": str(qpath) if qpath else "",
            "warnings": dg.MetadataValue.json(list(res.warnings)),
            "contract_version": result.version,
            "contract_passed": result.success,
            "summary": f"imported {len(good)} prediction rows of {n_models} model(s) on {n_items} items "
            f"into {len(files)} lake file(s)",
        },
        check_results=[
            contract_check_result(
                "imported_predictions_contract",
                "imported_predictions",
                result,
                quarantined=len(quarantined),
                quarantine_path=str(qpath) if qpath else None,
            ),
            quality_check_result("imported_predictions_quality", "imported_predictions", result),
        ],
    )
