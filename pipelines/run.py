"""Submit work to the Dagster instance and follow it: what ``benchtrust run`` and ``benchtrust import`` do.

Nothing here executes an asset. A profile becomes two Dagster backfills on the instance:

1. the profile's partitions: ``benchmark_items[b]`` for its benchmarks and ``predictions[b|m]`` for its
   benchmarks × models. The backfill daemon orders them (items before their predictions), the run queue starts
   them within the pools (:mod:`pipelines.instance`: inference sized to the hardware), so two models or two
   benchmarks score at the same time where the hardware allows. A benchmark whose blocking contract fails
   stops its own predictions and nothing else.
2. the warehouse: the dbt models (``dbt build``, tests as asset checks) and the reports, one run in the
   ``warehouse`` pool (one build at a time: DuckDB has one writer). It is a separate backfill because in a
   single one Dagster would treat every failed partition as a failed parent of the warehouse and skip it; a
   broken benchmark must not keep the others' results out of the marts.

The same backfills come from the scheduled refreshes (:mod:`sensors.schedules`) and show in the UI under
Runs → Backfills, tagged ``benchtrust/profile``. The daemons that turn them into runs are the instance's own
(``benchtrust ui`` / ``dagster-daemon run``) or, when none runs, hosted by the command while it follows
(:mod:`pipelines.daemon`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.events import DagsterEventType
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG
from dagster._core.utils import make_new_backfill_id

from benchtrust.lake import sweep_temp_files
from benchtrust.registry import Registry
from benchtrust.settings import get_settings
from pipelines import subsets
from pipelines.daemon import command_lock, daemon_alive, hosted_daemons
from pipelines.instance import get_instance
from pipelines.subsets import TERMINAL_BACKFILL, WAREHOUSE_GROUPS
from sensors.automation import RUN_PROFILE_TAG, TRIGGER_TAG

__all__ = [
    "WAREHOUSE_GROUPS",
    "RunSummary",
    "asset_subset",
    "follow",
    "get_instance",
    "profile_subset",
    "run_profile",
    "submit_backfill",
    "warehouse_subset",
]

TERMINAL_RUN = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
Log = Callable[[str], None]


@dataclass
class RunSummary:
    profile: str
    seconds: float = 0.0
    runs: list[dict[str, Any]] = field(default_factory=list)
    backfills: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    benchmarks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r["success"] for r in self.runs)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if not r["success"]]


def _defs() -> dg.Definitions:
    from pipelines.definitions import defs

    return defs


def profile_subset(benchmarks: Iterable[str], models: Iterable[str], graph: Any = None) -> AssetGraphSubset:
    """:func:`pipelines.subsets.profile_subset` on this project's asset graph unless ``graph`` is given."""
    return subsets.profile_subset(benchmarks, models, graph or _defs().resolve_asset_graph())


def asset_subset(keys: Iterable[dg.AssetKey], graph: Any = None) -> AssetGraphSubset:
    """:func:`pipelines.subsets.asset_subset` on this project's asset graph unless ``graph`` is given."""
    return subsets.asset_subset(keys, graph or _defs().resolve_asset_graph())


def warehouse_subset(graph: Any = None) -> AssetGraphSubset:
    """:func:`pipelines.subsets.warehouse_subset` on this project's asset graph unless ``graph`` is given."""
    return subsets.warehouse_subset(graph or _defs().resolve_asset_graph())


def submit_backfill(instance: dg.DagsterInstance, subset: AssetGraphSubset, *, title: str,
                    tags: Mapping[str, str], run_config: Mapping[str, Any] | None = None) -> str:
    """Add an asset backfill to the instance; the backfill daemon turns it into queued runs."""
    backfill_id = make_new_backfill_id()
    instance.add_backfill(PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id, backfill_timestamp=time.time(), tags=dict(tags), dynamic_partitions_store=instance,
        asset_graph_subset=subset, title=title, description=None, run_config=dict(run_config or {})))
    return backfill_id


def _describe(run: dg.DagsterRun) -> str:
    assets = sorted(k.to_user_string() for k in (run.asset_selection or []))
    groups = {"benchmark_items", "item_quarantine"}
    if set(assets) <= groups:
        what = "items"
    elif assets == ["predictions"]:
        what = "predictions"
    elif "imported_predictions" in assets:
        what = "import + warehouse" if len(assets) > 1 else "import"
    elif any("/" in a for a in assets):
        what = "warehouse (dbt build + reports)" if "reliability_reports" in assets else "warehouse (dbt build)"
    else:
        what = ", ".join(assets[:3]) + ("…" if len(assets) > 3 else "")
    return what


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Blocking (error-severity) asset checks that failed in a run, as 'asset:check: description'."""
    out = []
    for rec in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        data = rec.get_dagster_event().event_specific_data
        if data is not None and not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
            out.append(f"{data.asset_key.to_user_string()}:{data.check_name}: {data.description}")
    return out


def _run_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    for rec in instance.all_logs(run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}):
        ev = rec.get_dagster_event()
        err = getattr(ev.event_specific_data, "error", None)
        if err is not None:
            return err.message.strip().splitlines()[0][:300] if err.message else err.cls_name
    return None


def _finished_info(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict[str, Any]:
    """One finished run as the summary dict: what, partition, success, run_id, seconds, failed_checks, status,
    error, and the dbt summary of a warehouse run."""
    from pipelines.console import dbt_summary

    rec = instance.get_run_record_by_id(run.run_id)
    secs = (rec.end_time - rec.start_time) if rec and rec.start_time and rec.end_time else 0.0
    checks = failed_checks(instance, run.run_id)
    ok = run.status == DagsterRunStatus.SUCCESS and not checks
    return {"job": _describe(run), "partition": run.tags.get(PARTITION_NAME_TAG), "success": ok,
            "run_id": run.run_id, "seconds": round(secs, 1), "failed_checks": checks,
            "status": run.status.value, "error": None if ok or checks else _run_error(instance, run.run_id),
            "dbt": dbt_summary(instance, run.run_id) if "warehouse" in _describe(run) else None}


def _status_text(title: str, seen: dict[str, dict[str, Any]], runs: list[dg.DagsterRun], t0: float) -> str:
    """The overall line under the bars: done / running / queued / failed and a rough ETA."""
    running = sum(r.status in (DagsterRunStatus.STARTED, DagsterRunStatus.STARTING) for r in runs)
    queued = sum(r.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED) for r in runs)
    done = [i for i in seen.values() if i["success"]]
    eta = ""
    if done and (running or queued):
        mean = sum(i["seconds"] for i in done) / len(done)
        eta = f", ETA ~{mean * (queued + max(running, 1) / 2) / max(running, 1):.0f}s"
    return (f"{title}: {len(done)} done, {running} running, {queued} queued, {len(seen) - len(done)} failed{eta} "
            f"({time.time() - t0:.0f}s)")


def follow(instance: dg.DagsterInstance, backfill_id: str, log: Log = print, *, live: bool = False,
           poll_s: float = 0.5, timeout_s: float | None = None) -> list[dict[str, Any]]:
    """Wait for a backfill and its runs to end, printing one line per run as it ends (and, on a terminal, a live
    view of the running ones: :class:`pipelines.console.RunView`). Returns one dict per run: what, partition,
    success, run_id, seconds, failed_checks, status, error, dbt."""
    from pipelines.console import RunActivity, RunView, finished_line, one_line

    seen: dict[str, dict[str, Any]] = {}
    view, activity = RunView(log, live), RunActivity(instance)
    t0 = time.time()
    try:
        while True:
            backfill = instance.get_backfill(backfill_id)
            runs = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
            for run in runs:
                if run.run_id in seen:
                    continue
                if run.status in TERMINAL_RUN:
                    seen[run.run_id] = _finished_info(instance, run)
                    view.finished(run.run_id)
                    activity.forget(run.run_id)
                    view.line(finished_line(seen[run.run_id]))
                elif run.status == DagsterRunStatus.STARTED:
                    part = run.tags.get(PARTITION_NAME_TAG)
                    view.running(run.run_id, f"{_describe(run)} {part}" if part else _describe(run),
                                 activity.poll(run.run_id))
            view.status(_status_text(backfill.title or backfill_id, seen, runs, t0))
            if backfill.status in TERMINAL_BACKFILL and all(r.status in TERMINAL_RUN for r in runs) \
                    and all(r.run_id in seen for r in runs):
                if backfill.status == BulkActionStatus.FAILED and backfill.error:
                    view.line(f"[FAILED] backfill {backfill_id}")
                    seen["_backfill"] = {"job": "backfill", "partition": None, "success": False, "run_id": None,
                                         "seconds": 0.0, "failed_checks": [], "status": "FAILURE",
                                         "error": one_line(backfill.error.message.strip().splitlines()[-1])}
                return _last_attempts(seen, runs)
            _check_daemon(instance, backfill_id, runs, t0, timeout_s)
            time.sleep(poll_s)
    finally:
        view.stop()


def _check_daemon(instance: dg.DagsterInstance, backfill_id: str, runs: list[dg.DagsterRun], t0: float,
                  timeout_s: float | None) -> None:
    """Raise when nothing is processing the backfill, or it ran past ``timeout_s``."""
    if time.time() - t0 > 90 and not daemon_alive(instance):
        raise RuntimeError(f"no Dagster daemon is processing backfill {backfill_id}: start `benchtrust ui` "
                           "(or `dagster-daemon run`), or run this command again to host one")
    if not runs and time.time() - t0 > 20 and (err := _daemon_error(instance)):
        raise RuntimeError(f"the backfill daemon cannot process backfill {backfill_id}: {err}")
    if timeout_s is not None and time.time() - t0 > timeout_s:
        raise TimeoutError(f"backfill {backfill_id} still running after {timeout_s:.0f}s")


def _worker_alive(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether a process that executes ``run`` is still alive: the pids its RUN_START / ENGINE events name, each
    still running and older than the event (so a recycled pid does not count)."""
    import psutil

    for rec in instance.all_logs(run.run_id, of_type={DagsterEventType.RUN_START, DagsterEventType.ENGINE_EVENT}):
        pid = rec.dagster_event.pid if rec.dagster_event else None
        if pid is None:
            continue
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= rec.timestamp + 1:
                return True
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return False


def free_leaked_slots(instance: dg.DagsterInstance) -> int:
    """Free the pool slots held by runs that are over (or gone). A step claims a slot of its pool when it starts and
    its run worker frees it when the step ends; a worker killed mid-step never does, and marking its run failed does
    not free it either. Two killed inference steps were enough to fill the inference pool, after which every queued
    inference run waited forever (found by tests/integration/test_fault_injection.py). Returns how many runs'
    slots were freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    stale: set[str] = set()
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        for slot in [*info.claimed_slots, *info.pending_steps]:
            run = instance.get_run_by_id(slot.run_id)
            if run is None or run.status in TERMINAL_RUN:
                stale.add(slot.run_id)
    for run_id in stale:
        storage.free_concurrency_slots_for_run(run_id)
    return len(stale)


def recover_interrupted(instance: dg.DagsterInstance, log: Log = print) -> int:
    """After a command was killed (SIGKILL, a machine restart): its runs stay STARTED and hold their pool slots,
    and its backfills stay open, because Dagster's default run launcher cannot check on run workers. Called only
    by a command that holds the data folder's lock and hosts the daemons itself, so no other process is driving
    these runs: runs whose worker is gone are reported failed (freeing their slots), queued runs of those
    backfills canceled, and the backfills closed; temporary files that killed writers left in the lake, the
    reports and the cache are removed. Returns how many runs were closed."""
    closed = 0
    open_backfills = [b for b in instance.get_backfills() if b.status not in TERMINAL_BACKFILL
                      and b.tags.get(TRIGGER_TAG) in ("cli", "import")]
    for bf in open_backfills:
        for run in instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: bf.backfill_id})):
            if run.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED):
                instance.report_run_canceled(run, message="canceled: the command that submitted it was interrupted")
                closed += 1
            elif run.status in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING) \
                    and not _worker_alive(instance, run):
                instance.report_run_failed(run, message="run worker gone: the command that followed it was interrupted")
                closed += 1
        instance.update_backfill(bf.with_status(BulkActionStatus.CANCELED))
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED])):
        if not _worker_alive(instance, run):  # a run outside any backfill, from an earlier interrupted session
            instance.report_run_failed(run, message="run worker gone (found by benchtrust at start-up)")
            closed += 1
    freed = free_leaked_slots(instance)
    if closed or freed:
        log(f"closed {len(open_backfills)} interrupted backfill(s) and {closed} run(s) of an earlier command"
            + (f", released the pool slots of {freed} finished run(s)" if freed else "")
            + "; cached cells and written lake files are kept")
    settings = get_settings()  # writers killed mid-write left temporary files; no writer runs now (see docstring)
    sweep_temp_files(settings.lake, settings.reports, settings.cache)
    return closed


def _last_attempts(seen: dict[str, dict[str, Any]], runs: list[dg.DagsterRun]) -> list[dict[str, Any]]:
    """A run that failed and was retried (Dagster's run retries: tag dagster/root_run_id) counts by its last
    attempt; the earlier attempts stay listed, marked ``superseded``. ``runs`` come newest first."""
    last: dict[str, str] = {}
    for r in reversed(runs):  # oldest first: the newest attempt of each root wins
        last[r.tags.get("dagster/root_run_id", r.run_id)] = r.run_id
    roots = {r.run_id: r.tags.get("dagster/root_run_id", r.run_id) for r in runs}
    out = []
    for run_id, info in seen.items():
        if run_id in roots and last[roots[run_id]] != run_id and not info["success"]:
            info = dict(info, superseded=True, success=True)
        out.append(info)
    return out


def register_partitions(instance: dg.DagsterInstance, benchmarks: Iterable[str], models: Iterable[str]) -> None:
    for name, keys in (("benchmarks", benchmarks), ("models", models)):
        new = [k for k in keys if not instance.has_dynamic_partition(name, k)]
        if new:
            instance.add_dynamic_partitions(name, new)


def quiet_loggers(verbose: bool = False) -> dict[str, Any]:
    """Run workers inherit the command's console: keep Dagster's event stream off it unless asked (``-v``);
    every event stays in the instance's event log and the UI."""
    return {"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}}}


def run_log_path(home: Path) -> Path:
    """Where the run workers' console output goes when a command hosts the daemons (one file per day)."""
    return home / "logs" / f"runs-{time.strftime('%Y-%m-%d')}.log"


def profile_run_config(profile: str, verbose: bool = False) -> dict[str, Any]:
    return {"resources": {"benchtrust": {"config": {"profile": profile}}}, **quiet_loggers(verbose)}


def _daemon_error(instance: dg.DagsterInstance) -> str | None:
    beat = instance.get_daemon_heartbeats().get("BACKFILL")
    if beat is not None and beat.errors and time.time() - beat.timestamp < 30:
        return beat.errors[0].message.strip().splitlines()[-1]
    return None


def run_profile(profile: str = "default", instance: dg.DagsterInstance | None = None, log: Log = print, *,
                live: bool = False, wait: bool = True, trigger: str = "cli", verbose: bool = False,
                log_file: Path | None = None) -> RunSummary:
    """``benchtrust run``: submit the profile's partitions, then the warehouse; follow both to the end.
    ``verbose``: Dagster's event stream on the console; ``log_file``: the full stream (events at DEBUG, dbt's
    output) in that file instead of the day's run log."""
    registry = Registry.load()
    prof = registry.profile(profile)
    benchmarks, models = list(prof.get("benchmarks", {})), list(prof.get("models", []))
    settings = get_settings().ensure()
    instance = instance or get_instance()
    summary = RunSummary(profile, models=models, benchmarks=benchmarks)
    t0 = time.time()
    tags = {RUN_PROFILE_TAG: profile, TRIGGER_TAG: trigger}
    with command_lock(settings.home, f"run --profile {profile}", wait=wait,
                      on_wait=lambda who: log(f"waiting for {who} to finish")):
        register_partitions(instance, benchmarks, models)
        stream = log_file or (None if verbose else run_log_path(settings.home))
        verbose = verbose or log_file is not None
        with hosted_daemons(instance, stream) as hosting:
            if hosting:
                recover_interrupted(instance, log)
            bf = submit_backfill(instance, profile_subset(benchmarks, models), title=f"profile {profile}",
                                 tags=tags, run_config=profile_run_config(profile, verbose))
            summary.backfills.append(bf)
            summary.runs += follow(instance, bf, log, live=live)
            bf = submit_backfill(instance, warehouse_subset(), title=f"warehouse (profile {profile})", tags=tags,
                                 run_config=profile_run_config(profile, verbose))
            summary.backfills.append(bf)
            summary.runs += follow(instance, bf, log, live=live)
    summary.seconds = time.time() - t0
    return summary
