"""Declarative automation: what rebuilds when something upstream changed.

The change sensors (:mod:`sensors.changes`) only poll the outside world and request the runs that bring new
inputs in (items of a changed benchmark, predictions of a changed model). Everything downstream follows
from these conditions, evaluated by :data:`automation_sensor`:

- ``predictions[benchmark, model]`` re-runs when its ``benchmark_items[benchmark]`` partition updated (eager,
  per partition: the dependency maps benchmark → every benchmark × model partition);
- the dbt models and ``reliability_reports`` rebuild when something they read updated, once nothing they
  read is still running (one dbt build after a batch of prediction runs).

Both are :meth:`AutomationCondition.eager` with two parts taken out, on purpose:

1. ``newly_missing``: a new benchmark × model partition is requested by whoever added it (the model sensor,
   ``benchtrust run``); eager's "run what became missing" would start a second run of the same partition
   while a profile run is still working through its list, and would start a dbt build on an empty lake when
   the UI first starts.
2. updates made by ``benchtrust run`` (runs tagged ``benchtrust/profile``, :mod:`pipelines.run`): that
   command runs the whole chain itself, in order; reacting to its intermediate steps would build the same
   partitions twice and race its own dbt build for the DuckDB file.

For the warehouse and reports, eager's "no dependency missing" is dropped as well: they read every
benchmark × model partition, and one combination that was never run (a model outside a profile) must not
block the warehouse forever.
"""

from __future__ import annotations

import dagster as dg

RUN_PROFILE_TAG = "benchtrust/profile"  # tag on every run of `benchtrust run` / the scheduled profile refresh
TRIGGER_TAG = "benchtrust/trigger"  # dataset_changed | model_changed | automation | schedule

AC = dg.AutomationCondition


def _updated_outside_profile_runs() -> dg.AutomationCondition:
    return (
        AC.newly_updated()
        & ~AC.executed_with_root_target()
        & ~AC.all_new_updates_have_run_tags(tag_keys={RUN_PROFILE_TAG})
    ).with_label("newly_updated, not by `benchtrust run`")


def deps_updated() -> dg.AutomationCondition:
    """``any_deps_updated`` that ignores updates made by profile runs."""
    return AC.any_deps_match(_updated_outside_profile_runs() | AC.will_be_requested()).with_label("any_deps_updated")


def predictions_condition() -> dg.AutomationCondition:
    """Eager on upstream updates, per benchmark × model partition (see the module docstring)."""
    return (
        deps_updated().since_last_handled() & ~AC.any_deps_missing() & ~AC.any_deps_in_progress() & ~AC.in_progress()
    ).with_label("eager on upstream updates")


def warehouse_condition() -> dg.AutomationCondition:
    """dbt models and reports: rebuild after an upstream update, once nothing upstream is running."""
    return (deps_updated().since_last_handled() & ~AC.any_deps_in_progress() & ~AC.in_progress()).with_label(
        "rebuild after upstream updates"
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "benchtrust_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    emit_backfills=False,
    run_tags={TRIGGER_TAG: "automation"},
    description="Evaluates the assets' automation conditions: predictions follow changed items, the dbt "
    "warehouse follows new predictions, reports follow the warehouse.",
)
