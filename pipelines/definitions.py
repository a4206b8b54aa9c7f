"""The code location: ``dagster dev -w workspace.yaml``."""

import dagster as dg

from assets.dbt import build_dbt_assets
from assets.items import benchmark_items
from assets.predictions import predictions
from assets.report import reliability_reports
from pipelines.jobs import items_job, predictions_job, reports_job
from pipelines.resources import default_resources
from sensors import schedules, sensors

defs = dg.Definitions(
    assets=[benchmark_items, predictions, build_dbt_assets(), reliability_reports],
    jobs=[items_job, predictions_job, reports_job],
    resources=default_resources(),
    sensors=sensors,
    schedules=schedules,
)
