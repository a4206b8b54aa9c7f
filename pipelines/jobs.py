"""Jobs. Dagster requires one partitions definition per asset job, so the default run is three jobs in
order — items (per benchmark), predictions (per benchmark × model), warehouse + reports (unpartitioned) —
driven by :func:`pipelines.run.run_profile` (``benchtrust run``)."""

import dagster as dg

from pipelines.partitions import benchmarks_partitions, predictions_partitions

items_job = dg.define_asset_job("items_job", selection=dg.AssetSelection.assets("benchmark_items", "item_quarantine"),
                                partitions_def=benchmarks_partitions,
                                description="Fetch, normalise, validate and quarantine one benchmark.")
predictions_job = dg.define_asset_job("predictions_job", selection=dg.AssetSelection.assets("predictions"),
                                      partitions_def=predictions_partitions,
                                      description="Run one model over one benchmark's grid (cached).")
reports_job = dg.define_asset_job(
    "reports_job",
    selection=dg.AssetSelection.groups("staging", "intermediate", "marts", "reports"),
    description="dbt build (staging → intermediate → marts, tests as checks) and the versioned reports.",
)
