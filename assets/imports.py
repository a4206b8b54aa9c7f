"""``benchtrust import`` as an asset: another tool's predictions through the same row quarantine and contract
into the lake, with a materialization record and a blocking contract check like every other border.

The import is run configuration (format, path, options); the asset is unpartitioned and each materialization
records which file it imported. ``benchtrust import`` submits it together with the warehouse (dbt build +
reports) as one backfill, so the rows, the build and the reports all show in the UI."""

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from assets.checks import contract_check_result, quality_check_result
from benchtrust import lake
from pipelines.resources import BenchtrustResource


def canonical_items(benchtrust: BenchtrustResource, benchmarks: list[str]) -> dict[str, pd.DataFrame]:
    """The canonical items of each imported benchmark that is registered: the lake's latest dataset version
    (the one benchtrust's own runs used), else the registry's source normalised here (the same items and
    version ``benchmark_items`` writes), validated by the ``benchmark_items`` contract."""
    from benchtrust.items import SourceError
    from benchtrust.sources import load_items
    from data_contracts import validate

    settings = benchtrust.settings()
    registry = benchtrust.registry()
    out: dict[str, pd.DataFrame] = {}
    for bench in benchmarks:
        if lake.latest_pointer(settings.lake, bench).exists():
            out[bench] = lake.latest_items(settings.lake, bench)[0]
        elif bench in registry.benchmarks:
            try:
                norm = load_items(registry.source(bench), bench)
            except (SourceError, OSError, RuntimeError) as e:
                raise dg.Failure(description=f"canonical items of {bench!r} cannot be read: {e}") from e
            result = validate(norm.items, "benchmark_items", params={"n_quarantined": len(norm.quarantine)})
            if not result.success:
                raise dg.Failure(description=f"canonical items of {bench!r} fail their contract: {result.summary()}")
            out[bench] = norm.items.assign(contract_version=result.version)
    return out


def resolve_to_canonical(
    context: dg.AssetExecutionContext, res: Any, benchtrust: BenchtrustResource, path: Path
) -> tuple[Any, pd.DataFrame, list[dict[str, Any]]]:
    """``res`` on the registered benchmarks' canonical items (:mod:`benchtrust.importers.canonical`), the
    quarantine rows of the predictions whose item is not in the registered benchmark, and the mapping summary."""
    from benchtrust.importers.canonical import resolve_import
    from data_contracts.predictions import quarantine_rows

    benchmarks = sorted(map(str, res.predictions["benchmark"].dropna().unique()))
    res, unmatched, resolutions = resolve_import(res, canonical_items(benchtrust, benchmarks))
    for r in resolutions:
        context.log.info(r.line())
    details = [
        f"imported item {i!r} is not an item of the registered benchmark ({why})"
        for i, why in zip(unmatched["source_item_id"], unmatched["resolution"])
    ]
    q = quarantine_rows(unmatched, "item_not_in_benchmark", details, str(path))
    return res, q, [r.summary() for r in resolutions]


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
    res, unmatched, resolution = resolve_to_canonical(context, res, benchtrust, path)
    for w in res.warnings:
        context.log.warning(w)
    good, quarantined = split_predictions(res.canonical_predictions(), res.items, source=str(path))
    quarantined = pd.concat([unmatched, quarantined], ignore_index=True) if len(unmatched) else quarantined
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
            "item_resolution": dg.MetadataValue.json(resolution),
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
