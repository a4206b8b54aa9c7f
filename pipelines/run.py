"""Materialize a run profile: the default job of ``benchtrust run``.

Runs go through a persistent Dagster instance (``$DAGSTER_HOME``, default ``<data>/dagster_home``), so
every run, materialization and check result shows in the UI afterwards. Order: items per benchmark →
predictions per benchmark × model → dbt build + reports. A partition whose blocking contract fails is
reported and its downstream skipped; the other branches still build.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import dagster as dg

from benchtrust.registry import Registry
from benchtrust.settings import get_settings


@dataclass
class RunSummary:
    profile: str
    seconds: float = 0.0
    runs: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r["success"] for r in self.runs)


def get_instance() -> dg.DagsterInstance:
    settings = get_settings()
    home = os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    os.makedirs(home, exist_ok=True)
    return dg.DagsterInstance.get()


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    out = []
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                out.append(f"{data.asset_key.to_user_string()}:{data.check_name}: {data.description}")
    return out


def run_profile(profile: str = "default", instance: dg.DagsterInstance | None = None, log=print) -> RunSummary:
    os.environ["BENCHTRUST_PROFILE"] = profile
    t0 = time.time()
    registry = Registry.load()
    prof = registry.profile(profile)
    benchmarks, models = list(prof.get("benchmarks", {})), list(prof.get("models", []))
    instance = instance or get_instance()
    from pipelines.definitions import defs

    instance.add_dynamic_partitions("benchmarks", [b for b in benchmarks if not instance.has_dynamic_partition("benchmarks", b)])
    instance.add_dynamic_partitions("models", [m for m in models if not instance.has_dynamic_partition("models", m)])
    summary = RunSummary(profile)

    def execute(job_name: str, partition_key: str | None) -> bool:
        job = defs.resolve_job_def(job_name)
        start = time.time()
        res = job.execute_in_process(
            instance=instance, partition_key=partition_key, raise_on_error=False, tags={"benchtrust/profile": profile},
            run_config={"resources": {"benchtrust": {"config": {"profile": profile}}}})
        failed = _failed_checks(res)
        ok = res.success and not failed
        summary.runs.append({"job": job_name, "partition": partition_key, "success": ok, "run_id": res.run_id,
                             "seconds": round(time.time() - start, 1), "failed_checks": failed})
        log(f"[{'ok' if ok else 'FAILED'}] {job_name} {partition_key or ''} ({time.time() - start:.1f}s)"
            + ("".join(f"\n    blocked by {f}" for f in failed)))
        return ok

    good_benchmarks = [b for b in benchmarks if execute("items_job", b)]
    for b in good_benchmarks:
        for m in models:
            execute("predictions_job", dg.MultiPartitionKey({"benchmark": b, "model": m}))
    execute("reports_job", None)
    summary.seconds = time.time() - t0
    return summary
