"""Change detection: sensors that poll the outside world — a registered dataset's source, a registered model's
weights — and request runs for exactly the partitions that changed. What follows (predictions after items,
the dbt warehouse, the reports) is declarative automation (:mod:`sensors.automation`).

Cursor: JSON ``{"v": 1, "benchmarks" | "models": {name: {"fingerprint": …, "stat": …}}}`` — the fingerprint
each name had when the sensor last looked, so a change triggers once: the tick that sees a new fingerprint
requests the runs and stores it; the next tick sees no change. Run keys ``<benchmark>:<fingerprint>`` and
``<benchmark>|<model>:<fingerprint>`` make a repeated request (a cursor lost or rewound) a no-op as well.

When a name is first seen:

- on the sensor's very first tick (no cursor: just switched on), only inputs whose lake copy is *stale* are
  requested — a benchmark whose ``LATEST.json`` records another fingerprint, a model with predictions in the
  lake but none at its current version. Switching the sensor on never launches a backfill of everything
  registered; never-run entries are left to ``benchtrust run`` or the UI;
- on later ticks, a newly registered benchmark or model is requested unless the lake already has it (for
  example because ``benchtrust run`` ran it before the sensor's tick).

New benchmarks / models become dynamic partitions in the same :class:`dagster.SensorResult` that requests
their runs. Fingerprints: ``Registry.source(b).fingerprint()`` (file hash, folder hash, package file, HF
revision) and :func:`benchtrust.inference.models.model_fingerprint` (weights hash, folder contents, revision).
Hashing a model's weights is expensive, so the model sensor stores each local file's size and mtime
(``stat``) and re-hashes only when they change.
"""

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from benchtrust import lake
from benchtrust.hashing import hash_obj
from pipelines.jobs import items_job, predictions_job
from pipelines.resources import BenchtrustResource
from sensors.automation import TRIGGER_TAG

CURSOR_VERSION = 1


def _load_cursor(raw: str | None, key: str) -> tuple[dict[str, dict[str, Any]], bool]:
    """(entries, first_tick)."""
    if not raw:
        return {}, True
    try:
        data = json.loads(raw)
    except ValueError:
        return {}, True
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION or not isinstance(data.get(key), dict):
        return {}, True
    return data[key], False


def _dump_cursor(key: str, entries: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"v": CURSOR_VERSION, key: entries}, sort_keys=True)


def _run_config(profile: str) -> dict[str, Any]:
    return {"resources": {"benchtrust": {"config": {"profile": profile}}}}


def _lake_fingerprint(lake_root: Path, benchmark: str) -> str | None:
    try:
        return json.loads(lake.latest_pointer(lake_root, benchmark).read_text()).get("fingerprint")
    except (OSError, ValueError):
        return None


def _lake_model_versions(lake_root: Path, benchmark: str, model: str) -> set[str]:
    """Model versions with predictions in the lake (file names ``<model_version>__<dataset_version>.parquet``)."""
    folder = lake.predictions_dir(lake_root, benchmark, model)
    return {p.name.split("__", 1)[0] for p in folder.glob("*__*.parquet")} if folder.is_dir() else set()


# ------------------------------------------------------------------------------------------------- datasets


@dg.sensor(
    name="dataset_change_sensor",
    job=items_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fingerprints every registered benchmark's source (file hash, folder, package file, HF revision); "
    "a changed or new benchmark gets its partition and an items run (run key <benchmark>:<fingerprint>). "
    "Predictions, the warehouse and the reports follow by declarative automation.",
)
def dataset_change_sensor(context: dg.SensorEvaluationContext, benchtrust: BenchtrustResource):
    known, first_tick = _load_cursor(context.cursor, "benchmarks")
    registry, settings = benchtrust.registry(), benchtrust.settings()
    existing = set(context.instance.get_dynamic_partitions("benchmarks"))
    entries: dict[str, dict[str, Any]] = {}
    new_partitions: list[str] = []
    requests: list[dg.RunRequest] = []
    for b in sorted(registry.benchmarks):
        try:
            safe = lake.safe_name(b)
            fp = registry.source(safe).fingerprint()
        except Exception as e:  # a broken entry must not stop the others; it is retried next tick
            context.log.warning(f"benchmark {b!r}: cannot fingerprint its source: {e}")
            if b in known:
                entries[b] = known[b]
            continue
        entries[b] = {"fingerprint": fp}
        lake_fp = _lake_fingerprint(settings.lake, b)
        if b in known:
            changed = known[b].get("fingerprint") != fp and lake_fp != fp
        elif first_tick:
            changed = lake_fp is not None and lake_fp != fp  # only a stale lake copy
        else:
            changed = lake_fp != fp  # newly registered, not materialized yet
        if (changed or lake_fp is not None) and b not in existing:
            new_partitions.append(b)
        if changed:
            context.log.info(
                f"benchmark {b}: source fingerprint {known.get(b, {}).get('fingerprint') or lake_fp} → {fp}"
            )
            requests.append(
                dg.RunRequest(
                    run_key=f"{b}:{fp}",
                    partition_key=b,
                    run_config=_run_config(benchtrust.profile),
                    tags={TRIGGER_TAG: "dataset_changed", "benchtrust/fingerprint": fp},
                )
            )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest("benchmarks", new_partitions)]
        if new_partitions
        else [],
        cursor=_dump_cursor("benchmarks", entries),
        skip_reason=None
        if requests or new_partitions
        else dg.SkipReason(
            f"{len(entries)} benchmark sources unchanged" + (" (first tick: baseline recorded)" if first_tick else "")
        ),
    )


# --------------------------------------------------------------------------------------------------- models


def _stat_paths(cfg: dict[str, Any]) -> list[Path] | None:
    """The local files whose size and mtime stand for the model's fingerprint; None = always re-fingerprint
    (hub ids and servers: their fingerprint is a hash of the pinned revision, cheap). Each source class of the
    model registry knows its files (benchtrust.inference.model_sources, the classes the engine resolves with)."""
    from benchtrust.inference.model_sources import model_entry

    return model_entry("?", cfg).source.stat_paths()


def stat_signature(cfg: dict[str, Any]) -> str | None:
    paths = _stat_paths(cfg)
    if paths is None:
        return None
    sig = []
    for p in paths:
        try:
            st = os.stat(p)
            sig.append([str(p), st.st_size, st.st_mtime_ns])
        except OSError:
            sig.append([str(p), None, None])
    return hash_obj([cfg.get("source"), sig])


@dg.sensor(
    name="model_change_sensor",
    job=predictions_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fingerprints every registered model (weights hash, local folder contents, pinned revision); a changed "
    "or new model gets its partition and a predictions run on each benchmark of the run profile that has "
    "items (run key <benchmark>|<model>:<fingerprint>). The warehouse and reports follow by automation.",
)
def model_change_sensor(context: dg.SensorEvaluationContext, benchtrust: BenchtrustResource):
    from benchtrust.inference.models import model_fingerprint
    from benchtrust.registry import RegistryError

    known, first_tick = _load_cursor(context.cursor, "models")
    registry, settings = benchtrust.registry(), benchtrust.settings()
    try:
        profile_benchmarks = list(registry.profile(benchtrust.profile).get("benchmarks", {}))
    except RegistryError as e:
        context.log.warning(str(e))
        profile_benchmarks = []
    targets = [b for b in profile_benchmarks if _lake_fingerprint(settings.lake, b) is not None]
    existing_models = set(context.instance.get_dynamic_partitions("models"))
    existing_benchmarks = set(context.instance.get_dynamic_partitions("benchmarks"))
    entries: dict[str, dict[str, Any]] = {}
    new_models: list[str] = []
    new_benchmarks: set[str] = set()
    requests: list[dg.RunRequest] = []
    for m, cfg in sorted(registry.models.items()):
        if registry.user_dir is not None and registry.origin("models", m).parent == registry.user_dir:
            continue  # an ad-hoc model (`benchtrust eval`) runs its own profile only, never the sensor's
        try:
            lake.safe_name(m)
            sig = stat_signature(cfg)
            if sig is not None and known.get(m, {}).get("stat") == sig:
                fp = known[m]["fingerprint"]  # same files, same sizes and mtimes: skip the hash
            else:
                fp = model_fingerprint(cfg)
                sig = stat_signature(cfg)  # resolving may have extracted the file
        except Exception as e:
            context.log.warning(f"model {m!r}: cannot fingerprint: {e}")
            if m in known:
                entries[m] = known[m]
            continue
        entries[m] = {"fingerprint": fp, "stat": sig}
        if m in known and known[m].get("fingerprint") == fp:
            continue
        todo = []
        for b in targets:
            versions = _lake_model_versions(settings.lake, b, m)
            stale = bool(versions) and fp not in versions if (first_tick and m not in known) else fp not in versions
            if stale:
                todo.append(b)
        if not todo:
            continue
        context.log.info(f"model {m}: fingerprint {known.get(m, {}).get('fingerprint')} → {fp}; benchmarks {todo}")
        if m not in existing_models:
            new_models.append(m)
        new_benchmarks.update(b for b in todo if b not in existing_benchmarks)
        for b in todo:
            requests.append(
                dg.RunRequest(
                    run_key=f"{b}|{m}:{fp}",
                    partition_key=dg.MultiPartitionKey({"benchmark": b, "model": m}),
                    run_config=_run_config(benchtrust.profile),
                    tags={TRIGGER_TAG: "model_changed", "benchtrust/fingerprint": fp},
                )
            )
    dyn = []
    if new_models:
        dyn.append(dg.AddDynamicPartitionsRequest("models", new_models))
    if new_benchmarks:
        dyn.append(dg.AddDynamicPartitionsRequest("benchmarks", sorted(new_benchmarks)))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=dyn,
        cursor=_dump_cursor("models", entries),
        skip_reason=None
        if requests or dyn
        else dg.SkipReason(
            f"{len(entries)} models unchanged" + (" (first tick: baseline recorded)" if first_tick else "")
        ),
    )
