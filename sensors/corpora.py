"""The corpus registry sensor: every corpus registered in ``config/corpora.yaml`` or in the data folder's corpus
registry (``benchtrust corpus add`` writes it) gets its partition of the ``corpora`` dynamic partition set, so it
shows in the UI and ``corpora_job`` can run on it.

It only adds partitions; it requests no runs (reading and scanning a corpus can take hours: that is
``benchtrust corpus scan`` or the UI's choice). Adding a partition is cheap and idempotent, so the sensor is
RUNNING by default, unlike the scheduled refreshes. A partition whose corpus leaves the registry is kept: its
materializations stay in the instance's history. A registry that does not validate is reported in the tick's
skip reason (file, key and rule) and retried on the next tick.
"""

from __future__ import annotations

import dagster as dg

from pipelines.resources import BenchtrustResource

CORPORA_PARTITIONS = "corpora"  # the name of assets.contamination.corpora_partitions


def corpus_partitions_to_add(registered: list[str], existing: set[str]) -> list[str]:
    """Registered corpora without a partition yet, in registry order."""
    return [c for c in registered if c not in existing]


@dg.sensor(
    name="corpus_registry_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a `corpora` partition for every corpus in config/corpora.yaml and the data folder's corpus "
    "registry (benchtrust corpus add). Requests no runs: scanning a corpus is benchtrust corpus scan "
    "or corpora_job from the UI.",
)
def corpus_registry_sensor(context: dg.SensorEvaluationContext, benchtrust: BenchtrustResource) -> dg.SensorResult:
    from benchtrust.contamination.corpora import CorpusError, CorpusRegistry

    try:
        registry = CorpusRegistry.for_settings(benchtrust.settings())
    except (CorpusError, ValueError) as e:  # a bad edit: say so on the tick, try again next time
        context.log.warning(str(e))
        return dg.SensorResult(skip_reason=dg.SkipReason(f"corpus registry does not validate: {e}"))
    new = corpus_partitions_to_add(
        list(registry.corpora), set(context.instance.get_dynamic_partitions(CORPORA_PARTITIONS))
    )
    if not new:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"{len(registry.corpora)} corpora, all with a partition"))
    context.log.info(f"new corpora: {new}")
    return dg.SensorResult(dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(CORPORA_PARTITIONS, new)])
