import dagster as dg
import pandas as pd

from assets.checks import contract_check_result
from benchtrust import lake
from pipelines.partitions import items_to_predictions, predictions_partitions
from pipelines.resources import BenchtrustResource


@dg.asset(
    partitions_def=predictions_partitions,
    deps=[dg.AssetDep("benchmark_items", partition_mapping=items_to_predictions)],
    group_name="inference",
    kinds={"pytorch", "parquet"},
    check_specs=[dg.AssetCheckSpec("predictions_contract", asset="predictions", blocking=True,
                                   description="great-expectations suite `predictions`: keys, probabilities, log-probs")],
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
    grid = registry.grid(benchmark, benchtrust.profile)
    subset = select_subset(items, grid.subset)
    resolved = resolve_model(model, registry.models[model])

    def engine():
        from benchtrust.inference.transformers_engine import TransformersEngine

        return TransformersEngine(resolved)

    def progress(done: int, total: int) -> None:
        if done == total or done % 96 == 0:
            context.log.info(f"{model} × {benchmark}: {done}/{total} cells computed")

    df, stats = run_grid(subset, grid, resolved, benchmark, info["dataset_version"], engine,
                         settings.cache / "predictions", on_progress=progress)
    df["written_at"] = pd.Timestamp.now(tz="UTC")

    from data_contracts import validate

    result = validate(df, "predictions")
    target = lake.predictions_path(settings.lake, benchmark, model, resolved.model_version, info["dataset_version"])
    if not result.success:
        target = settings.lake / "rejected" / target.relative_to(settings.lake)
        context.log.error(f"predictions contract failed for {model} × {benchmark}: {result.summary()}")
    lake.write_parquet(df, target)
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
        },
        data_version=dg.DataVersion(f"{resolved.model_version}-{info['dataset_version']}-{grid.version}"),
        check_results=[contract_check_result("predictions_contract", "predictions", result)],
    )
