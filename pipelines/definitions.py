"""The code location: ``dagster dev -w workspace.yaml``."""

import dagster as dg

from assets.contamination import CONTAMINATION_ASSETS, CONTAMINATION_JOBS
from assets.dbt import build_dbt_assets
from assets.imports import imported_predictions
from assets.items import benchmark_items
from assets.predictions import predictions
from assets.report import reliability_reports
from pipelines.executors import default_executor
from pipelines.jobs import import_job, items_job, predictions_job, reports_job
from pipelines.resources import default_resources
from sensors import schedules, sensors
from sensors.automation import predictions_condition, warehouse_condition


def _with(condition):
    return lambda spec: spec.replace_attributes(automation_condition=condition)


defs = dg.Definitions(
    assets=[
        benchmark_items,
        imported_predictions,
        # automation (sensors/automation.py): predictions follow their benchmark's items, per partition; the dbt
        # models (through the translator) and the reports follow the predictions
        predictions.map_asset_specs(_with(predictions_condition())),
        build_dbt_assets(),
        reliability_reports.map_asset_specs(_with(warehouse_condition())),
        *CONTAMINATION_ASSETS,  # reference corpora and contamination signals (assets/contamination.py)
    ],
    jobs=[items_job, predictions_job, reports_job, import_job, *CONTAMINATION_JOBS],
    resources=default_resources(),
    sensors=[*sensors, *schedules],  # the scheduled refreshes are cron-keeping sensors (sensors/schedules.py)
    executor=default_executor(),
)
