"""Jobs. Dagster requires one partitions definition per asset job, so the default run is three jobs in
order — items (per benchmark), predictions (per benchmark × model), warehouse + reports (unpartitioned) —
driven by :func:`pipelines.run.run_profile` (``benchtrust run``). ``profile_refresh_job`` runs that same
command inside one Dagster run, for the schedules (:mod:`sensors.schedules`)."""

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


class ProfileRefreshConfig(dg.Config):
    profile: str = "default"


@dg.op(description="Materialize a run profile exactly as `benchtrust run --profile P` does: items per benchmark, "
                   "predictions per benchmark × model, then dbt and the reports — each step a run of its own in this "
                   "instance (tagged benchtrust/profile), so the UI shows them; fails when any step failed.")
def run_profile_op(context: dg.OpExecutionContext, config: ProfileRefreshConfig) -> dg.Output[dict]:
    from pipelines.run import run_profile

    summary = run_profile(config.profile, instance=context.instance, log=context.log.info)
    failed = [r for r in summary.runs if not r["success"]]
    if failed:
        raise dg.Failure(description=f"{len(failed)} of {len(summary.runs)} runs failed",
                         metadata={"failed": dg.MetadataValue.json(failed)})
    return dg.Output({"profile": config.profile, "runs": len(summary.runs)},
                     metadata={"runs": dg.MetadataValue.json(summary.runs), "seconds": round(summary.seconds, 1)})


@dg.job(description="Refresh a whole run profile (config: profile) — what the nightly / weekly schedules launch.",
        tags={"benchtrust/kind": "profile_refresh"})
def profile_refresh_job():
    run_profile_op()
