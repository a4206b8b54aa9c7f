"""Schedules: a nightly refresh of the default profile and a weekly refresh of the full profile.

Both launch :data:`pipelines.jobs.profile_refresh_job`, which runs ``benchtrust run --profile P`` inside one
Dagster run (the profile's items → predictions → dbt → reports; cached cells are not recomputed, unchanged
inputs write no new report version). They start STOPPED: one switch in the UI (Automation → schedule → toggle)
or ``dagster schedule start <name>`` turns them on.
"""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import profile_refresh_job
from sensors.automation import TRIGGER_TAG


def _profile_schedule(name: str, cron: str, profile: str, description: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=name, cron_schedule=cron, execution_timezone="UTC", job=profile_refresh_job,
        run_config={"ops": {"run_profile_op": {"config": {"profile": profile}}}},
        tags={TRIGGER_TAG: "schedule", "benchtrust/scheduled_profile": profile},
        default_status=dg.DefaultScheduleStatus.STOPPED, description=description)


nightly_default_refresh = _profile_schedule(
    "nightly_default_refresh", "0 2 * * *", "default",
    "Every night at 02:00 UTC: refresh the default profile (stratified MMLU subset, a few HumanEval problems).")
weekly_full_refresh = _profile_schedule(
    "weekly_full_refresh", "0 3 * * 0", "full",
    "Sundays at 03:00 UTC: refresh the full profile (every item of every registered benchmark; use a GPU).")
