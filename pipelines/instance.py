"""The Dagster instance every run goes through, and its embedded default configuration.

``$DAGSTER_HOME`` (default ``<data>/dagster_home``) holds the instance. When it has no ``dagster.yaml`` yet,
benchtrust writes the embedded default: SQLite storage (Dagster's default, nothing to install), the
``QueuedRunCoordinator`` (a run queue) with concurrency pools, run retries and run monitoring. A
``dagster.yaml`` that is already there is the operator's and is never touched — that is how the production
configuration in ``deploy/`` (PostgreSQL storage, Celery executor) takes over, by configuration only.

Pools (Dagster's concurrency pools, enforced by the instance across runs):

- ``inference``: prediction steps. Sized from the hardware: one slot per GPU; on a CPU-only machine
  ``max(2, cores // 2)`` so two models or benchmarks can score side by side (each engine then uses
  ``cores // slots`` threads). ``BENCHTRUST_INFERENCE_SLOTS`` overrides.
- ``warehouse``: the dbt build and the reports. Always 1: DuckDB has a single writer, so two builds must never
  overlap.

Everything else (item ingestion, imports) runs freely within the queue's run limit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import dagster as dg

from benchtrust.settings import get_settings

INFERENCE_POOL = "inference"
WAREHOUSE_POOL = "warehouse"
# op tags on inference steps: the Celery executor sends them to the `gpu` queue (deploy/celery/), every other
# step to `dagster` (dagster-celery's default queue); dagster-k8s reads the GPU request from the same tags
INFERENCE_OP_TAGS = {
    "dagster-celery/queue": "gpu",
    "dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}},
}

# The embedded default instance. Written only when DAGSTER_HOME has no dagster.yaml.
DEFAULT_INSTANCE_YAML = """\
# benchtrust's embedded default instance (written by benchtrust because this folder had no dagster.yaml).
# SQLite storage in this folder; a run queue with concurrency pools; failed runs retried once.
# For PostgreSQL storage and the Celery executor see deploy/ in the benchtrust repository.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: {max_runs}
  pools:
    granularity: op
    default_limit: {max_runs}
run_retries:
  enabled: true
  max_retries: 1
  # retry runs whose worker crashed or was killed, not deterministic failures (a blocked contract stays blocked)
  retry_on_asset_or_op_failure: false
run_monitoring:
  enabled: true
  poll_interval_seconds: 5
  start_timeout_seconds: 180
telemetry:
  enabled: false
"""


# Run workers forked from a warm process that imported the code location and the step libraries once
# (pipelines/launcher.py); it hands anything else to Dagster's default launcher.
WARM_LAUNCHER_YAML = """\
run_launcher:
  module: pipelines.launcher
  class: WarmRunLauncher
"""


def gpu_count() -> int:
    """GPUs visible to this machine, without importing torch (the CLI must start fast)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    gpus = Path("/proc/driver/nvidia/gpus")
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0


def inference_slots() -> int:
    """How many inference steps may run at once on this machine (see the module docstring)."""
    override = os.environ.get("BENCHTRUST_INFERENCE_SLOTS")
    if override:
        return max(1, int(override))
    gpus = gpu_count()
    return gpus if gpus else max(2, (os.cpu_count() or 2) // 2)


def threads_per_inference_step() -> int:
    """CPU threads one inference step should use so that the pool's slots together fill the cores."""
    return max(1, (os.cpu_count() or 1) // inference_slots())


def max_concurrent_runs() -> int:
    return max(4, inference_slots() + 2)


def ensure_instance_yaml(home: Path) -> Path:
    """Write the embedded default ``dagster.yaml`` into ``home`` unless one is there."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    if not path.exists():
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(DEFAULT_INSTANCE_YAML.format(max_runs=max_concurrent_runs()) + WARM_LAUNCHER_YAML)
        os.replace(tmp, path)
    return path


def configure_pools(instance: dg.DagsterInstance) -> dict[str, int]:
    """Set the pool limits on the instance (idempotent): inference from the hardware, warehouse = 1."""
    limits = {INFERENCE_POOL: inference_slots(), WAREHOUSE_POOL: 1}
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    for pool, n in limits.items():
        if storage.get_concurrency_info(pool).slot_count != n:
            storage.set_concurrency_slots(pool, n)
    return limits


# one idle connection per SQLite file this process writes (see tune_sqlite_storage), at most _KEEP_MAX
_KEEP: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_KEEP_MAX = 128
_KEEP_LOCK = threading.Lock()
_FORKED: list[sqlite3.Connection] = []  # a forked child never closes its parent's connections


def _sqlite_wal_normal(dbapi_conn: Any, _record: Any) -> None:
    """On every new SQLite connection in WAL mode: ``synchronous=NORMAL``, and one idle keeper connection per file."""
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    if dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")
    path = dbapi_conn.execute("PRAGMA database_list").fetchone()[2]
    if not path:
        return
    with _KEEP_LOCK:
        if path in _KEEP:
            _KEEP.move_to_end(path)
            return
        keeper = sqlite3.connect(path, check_same_thread=False, timeout=30)
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()  # maps the WAL index: now it counts as open
        _KEEP[path] = keeper
        if len(_KEEP) > _KEEP_MAX:
            _KEEP.popitem(last=False)[1].close()


def _after_fork_in_child() -> None:
    with _KEEP_LOCK:
        _FORKED.extend(_KEEP.values())
        _KEEP.clear()


def tune_sqlite_storage() -> None:
    """Make the embedded SQLite instance storage commit without fsyncs and checkpoints per event (idempotent).

    Dagster's SQLite event log opens a new connection per event and closes it after one commit (three for an
    asset-check event). SQLite checkpoints and syncs a WAL database whenever its last connection closes, and with
    the default ``synchronous=FULL`` also fsyncs every commit. A warehouse run writes ~630 events (55 dbt models and
    155 dbt tests as asset checks, planned, output and evaluated), so it spent longer on fsync than dbt spent
    building: 40-60 ms per event, 13.6 s only to plan the warehouse run before it could queue (a 6-item profile).
    Two standard SQLite settings remove that, for WAL files only:

    - ``synchronous=NORMAL``, SQLite's recommended setting for WAL: a process killed at any point (SIGKILL, OOM)
      loses no committed event and the file is never corrupt; only an operating-system crash or power loss may
      roll back the last commits, which Dagster's run monitoring treats like a lost worker;
    - one idle connection per file held by this process, so Dagster's per-event connection is never the last one
      and closing it does not checkpoint. It holds no transaction, so it blocks no writer and no checkpoint;
      SQLite's automatic checkpoint (every 1,000 pages) still bounds the WAL; the keepers are closed (the last
      one checkpoints) when the process exits, and at most ``_KEEP_MAX`` are held.

    Measured on this machine with the same instance: 27-31 ms per event before, 8.5-8.9 ms after. Connections not in
    WAL mode keep SQLite's defaults, as does PostgreSQL storage (deploy/). Installed in every process that writes
    the instance through this module: the CLI with its hosted daemons, the code server, run workers and step
    processes (all import it)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _sqlite_wal_normal):
        event.listen(Engine, "connect", _sqlite_wal_normal)
        os.register_at_fork(after_in_child=_after_fork_in_child)


tune_sqlite_storage()


def get_instance() -> dg.DagsterInstance:
    """The persistent instance (``$DAGSTER_HOME``), with the embedded default config and the pool limits."""
    settings = get_settings()
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home)))
    ensure_instance_yaml(home)
    instance = dg.DagsterInstance.get()
    configure_pools(instance)
    return instance
