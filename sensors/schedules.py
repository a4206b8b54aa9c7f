"""Scheduled refreshes: the nightly default profile and the weekly full profile.

They submit exactly what ``benchtrust run --profile P`` submits (:mod:`pipelines.run`): a backfill of the
profile's partitions (items per benchmark, predictions per benchmark × model) and, once that has ended, a
backfill of the warehouse (dbt build + reports). Dagster schedules can only launch runs, not backfills, so
each refresh is a sensor that keeps a cron calendar: on the first evaluation after a cron tick it requests the
profile backfill; on a later one, when that backfill has ended, the warehouse backfill. The cursor holds the
last tick handled and the refresh in flight. Both start STOPPED: one switch in the UI (Automation → the
sensor → toggle) or ``dagster sensor start <name>`` turns them on.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
import uuid

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter
from dagster._utils.schedules import get_latest_completed_cron_tick

from pipelines.resources import SCHEDULED_PROFILE_TAG as PROFILE_TAG
from pipelines.resources import BenchtrustResource
from sensors.automation import RUN_PROFILE_TAG, TRIGGER_TAG

REFRESH_TAG = "benchtrust/refresh_id"
# what a refresh may materialize: the profile's partitions and the warehouse (the backfills it requests are subsets)
REFRESHED = dg.AssetSelection.assets("benchmark_items", "item_quarantine", "predictions") | dg.AssetSelection.groups(
    "staging", "intermediate", "marts", "reports"
)


def _ended(context: dg.SensorEvaluationContext, refresh_id: str) -> bool | None:
    """Whether the profile backfill of a refresh has ended (None: the daemon has not created it yet)."""
    from pipelines.subsets import TERMINAL_BACKFILL

    backfills = context.instance.get_backfills(filters=BulkActionsFilter(tags={REFRESH_TAG: refresh_id}), limit=5)
    profile_phase = [b for b in backfills if b.tags.get("benchtrust/phase") == "profile"]
    if not profile_phase:
        return None
    return all(b.status in TERMINAL_BACKFILL for b in profile_phase)


def profile_refresh(name: str, cron: str, profile: str, description: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        asset_selection=REFRESHED,
        description=f"{description} Cron `{cron}` (UTC); the same backfills as `benchtrust run --profile {profile}`.",
        tags={"benchtrust/cron": cron},
    )
    def _refresh(context: dg.SensorEvaluationContext, benchtrust: BenchtrustResource):
        from pipelines.subsets import profile_subset, warehouse_subset

        state = json.loads(context.cursor) if context.cursor else {}
        now = _dt.datetime.fromtimestamp(time.time(), tz=_dt.UTC)
        latest = get_latest_completed_cron_tick(cron, now, "UTC").timestamp()
        tags = {RUN_PROFILE_TAG: profile, TRIGGER_TAG: "schedule", PROFILE_TAG: profile}
        graph = context.repository_def.asset_graph
        pending = state.get("pending")
        if pending:
            ended = _ended(context, pending)
            if not ended:
                return dg.SkipReason(
                    f"refresh {pending}: profile backfill {'not created yet' if ended is None else 'running'}"
                )
            state["pending"] = None
            context.update_cursor(json.dumps(state))
            return dg.RunRequest.for_asset_graph_subset(
                warehouse_subset(graph=graph), tags={**tags, REFRESH_TAG: pending, "benchtrust/phase": "warehouse"}
            )
        if "last_tick" not in state:  # switched on: start counting from the latest tick, like a schedule
            context.update_cursor(json.dumps({"last_tick": latest, "pending": None}))
            return dg.SkipReason("first evaluation: waiting for the next cron tick")
        if latest <= state["last_tick"]:
            return dg.SkipReason("no cron tick since the last refresh")
        prof = benchtrust.registry().profile(profile)
        benchmarks, models = list(prof.get("benchmarks", {})), list(prof.get("models", []))
        refresh_id = uuid.uuid4().hex[:12]
        context.update_cursor(json.dumps({"last_tick": latest, "pending": refresh_id}))
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest.for_asset_graph_subset(
                    profile_subset(benchmarks, models, graph=graph),
                    tags={**tags, REFRESH_TAG: refresh_id, "benchtrust/phase": "profile"},
                )
            ],
            dynamic_partitions_requests=[
                dg.AddDynamicPartitionsRequest("benchmarks", benchmarks),
                dg.AddDynamicPartitionsRequest("models", models),
            ],
        )

    return _refresh


nightly_default_refresh = profile_refresh(
    "nightly_default_refresh",
    "0 2 * * *",
    "default",
    "Every night at 02:00 UTC: refresh the default profile (stratified MMLU subset, a few HumanEval problems).",
)
weekly_full_refresh = profile_refresh(
    "weekly_full_refresh",
    "0 3 * * 0",
    "full",
    "Sundays at 03:00 UTC: refresh the full profile (every item of every registered benchmark; use a GPU).",
)
