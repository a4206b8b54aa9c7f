"""Jobs: named asset selections for the UI's launchpad and the sensors. Dagster requires one partitions
definition per asset job, so there is one job per layer. ``benchtrust run`` / ``import`` and the scheduled
refreshes submit backfills over the same assets (:mod:`pipelines.run`)."""

import dagster as dg

from pipelines.partitions import benchmarks_partitions, predictions_partitions

WAREHOUSE_SELECTION = dg.AssetSelection.groups("staging", "intermediate", "marts", "reports")

items_job = dg.define_asset_job(
    "items_job",
    selection=dg.AssetSelection.assets("benchmark_items", "item_quarantine"),
    partitions_def=benchmarks_partitions,
    description="Fetch, normalise, validate and quarantine one benchmark.",
)
predictions_job = dg.define_asset_job(
    "predictions_job",
    selection=dg.AssetSelection.assets("predictions"),
    partitions_def=predictions_partitions,
    description="Run one model over one benchmark's grid (cached).",
)
reports_job = dg.define_asset_job(
    "reports_job",
    selection=WAREHOUSE_SELECTION,
    description="dbt build (staging → intermediate → marts, tests as checks) and the versioned reports.",
)
import_job = dg.define_asset_job(
    "import_job",
    selection=dg.AssetSelection.assets("imported_predictions") | WAREHOUSE_SELECTION,
    description="Import another tool's predictions (run config: format, path), then dbt build and the reports.",
)
