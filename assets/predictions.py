import dagster as dg
import pandas as pd

from assets.checks import contract_check_result, quality_check_result
from benchtrust import lake
from pipelines.instance import INFERENCE_OP_TAGS, INFERENCE_POOL
from pipelines.partitions import items_to_predictions, predictions_partitions
from pipelines.resources import BenchtrustResource


@dg.asset(
    partitions_def=predictions_partitions,
    deps=[dg.AssetDep("benchmark_items", partition_mapping=items_to_predictions)],
    group_name="inference",
    kinds={"pytorch", "parquet"},
    pool=INFERENCE_POOL,  # sized from the hardware (pipelines.instance)
    op_tags=INFERENCE_OP_TAGS,  # the Celery executor routes these steps to the `gpu` queue
    check_specs=[
        dg.AssetCheckSpec("predictions_contract", asset="predictions", blocking=True,
                          description="great-expectations suite `predictions` (error level): one row per grid cell, "
                                      "probabilities in [0, 1], finite log-probabilities <= 0, known model and dataset "
                                      "versions, no orphan item ids, quarantine share"),
        dg.AssetCheckSpec("predictions_quality", asset="predictions", blocking=False,
                          description="great-expectations suite `predictions` (warn level): share of empty generations"),
    ],
)
def predictions(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Model × benchmark predictions over the profile's grid (templates, seeds, decoding), with provenance.

    Cells come from the content-addressed cache when their (model version, item hash, grid coordinates)
    were computed before; the model is only loaded when something is missing. GPU when present.
    """
    keys = context.partition_key.keys_by_dimension
    benchmark, model = keys["benchmark"], keys["model"]
    settings, registry = benchtrust.settings(), benchtrust.registry()
    if model not in registry.models:
        raise dg.Failure(description=f"model {model!r} is not in {registry.config_dir / 'models.yaml'}")

    from benchtrust.inference.models import resolve_model
    from benchtrust.inference.runner import run_grid, select_subset

    items, info = lake.latest_items(settings.lake, benchmark)
    grid = registry.grid(benchmark, benchtrust.active_profile)
    subset = select_subset(items, grid.subset)
    resolved = resolve_model(model, registry.model_entry(model))  # typed: errors name models.yaml and the key

    def engine(numeric: dict):
        return _load_engine(context, model, resolved, numeric)

    def progress(done: int, total: int) -> None:  # once per chunk of cells: the CLI's progress bar reads these
        context.log.info(f"{model} × {benchmark}: {done}/{total} cells computed")

    df, stats = run_grid(subset, grid, resolved, benchmark, info["dataset_version"], engine,
                         settings.cache / "predictions", on_progress=progress, pool=items)
    df["written_at"] = pd.Timestamp.now(tz="UTC")

    from data_contracts import split_predictions, validate

    # row rules first: NaN/inf log-probs, probabilities outside [0, 1], orphan items → quarantine with a reason
    df, quarantine = split_predictions(df, items, source=str(settings.cache / "predictions" / resolved.model_version))
    qpath = lake.write_parquet(quarantine, lake.predictions_quarantine_path(
        settings.lake, benchmark, model, resolved.model_version, info["dataset_version"]))
    result = validate(df, "predictions", items=items, params={
        "models": [model], "model_versions": [resolved.model_version], "dataset_versions": [info["dataset_version"]],
        "n_quarantined": len(quarantine)})
    target = lake.predictions_path(settings.lake, benchmark, model, resolved.model_version, info["dataset_version"])
    if not result.success:
        target = lake.rejected_path(settings.lake, target)
        context.log.error(f"predictions contract failed for {model} × {benchmark}: {result.summary()}")
    lake.write_parquet(df.assign(contract_version=result.version), target)
    qrules = quarantine["rule"].value_counts().to_dict() if len(quarantine) else {}
    scored = df[df["is_headline"] & df["is_correct"].notna()]
    yield dg.MaterializeResult(
        metadata={
            "model_version": resolved.model_version,
            "dataset_version": info["dataset_version"],
            "grid_version": grid.version,
            "dagster/row_count": len(df),
            "items": int(subset.shape[0]),
            "cells_computed": stats.computed,
            "cells_from_cache": stats.cached,
            "seconds": round(stats.seconds, 1),
            "cells_per_second": round(stats.computed / stats.seconds, 2) if stats.computed else None,
            "headline_accuracy": float(scored["is_correct"].mean()) if len(scored) else None,
            "device": str(df["device"].iloc[0]) if len(df) else None,
            "path": dg.MetadataValue.path(str(target)),
            "quarantined": len(quarantine),
            "quarantine_rules": dg.MetadataValue.json(qrules),
            "quarantine_path": dg.MetadataValue.path(str(qpath)),
            "contract_version": result.version,
            "contract_passed": result.success,
        },
        data_version=dg.DataVersion(f"{resolved.model_version}-{info['dataset_version']}-{grid.version}"),
        check_results=[
            contract_check_result("predictions_contract", "predictions", result, quarantined=len(quarantine),
                                  quarantine_path=str(qpath)),
            quality_check_result("predictions_quality", "predictions", result),
        ],
    )


def _load_engine(context: dg.AssetExecutionContext, model: str, resolved, numeric: dict):
    """The engine, with a line before and after loading: the CLI's live view shows "loading model …" until the first
    cells come (~20 s for the GGUF default on a CPU, each partition being its own run and process)."""
    import time

    from benchtrust.inference.models import build_engine

    context.log.info(f"loading model {model} …")
    t0 = time.time()
    built = build_engine(resolved, numeric)
    context.log.info(f"model {model} loaded in {time.time() - t0:.1f}s")
    return built
