"""The embedded instance's SQLite tuning (pipelines.instance.tune_sqlite_storage): WAL files commit with
synchronous=NORMAL and keep one idle connection per file, so Dagster's connection-per-event is never the last one
to close (which would checkpoint and fsync on every event); files in rollback-journal mode keep SQLite's defaults."""

from __future__ import annotations

import sqlite3

import dagster as dg
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from pipelines import instance as inst


def _sync(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("PRAGMA synchronous")).scalar()


def test_wal_files_get_normal_sync_and_one_keeper(tmp_path):
    inst.tune_sqlite_storage()
    inst.tune_sqlite_storage()  # idempotent: one listener
    wal, journal = tmp_path / "wal.db", tmp_path / "journal.db"
    con = sqlite3.connect(wal)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    sqlite3.connect(journal).execute("create table t(x)").connection.close()
    e_wal = create_engine(f"sqlite:///{wal}", poolclass=NullPool)
    e_journal = create_engine(f"sqlite:///{journal}", poolclass=NullPool)
    assert _sync(e_wal) == 1  # NORMAL
    assert _sync(e_journal) == 2  # FULL, SQLite's default, untouched
    assert _sync(e_wal) == 1
    assert str(wal) in inst._KEEP and str(journal) not in inst._KEEP
    # the keeper holds the WAL index open: closing Dagster-style connections does not checkpoint the file away
    with e_wal.connect() as c:
        c.execute(text("create table t(x)"))
        c.execute(text("insert into t values (1)"))
        c.commit()
    assert (tmp_path / "wal.db-wal").exists()


def test_instance_event_shards_use_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    from dagster._core.test_utils import create_run_for_test

    run = create_run_for_test(instance, job_name="tuned")
    for i in range(5):
        instance.report_engine_event(f"event {i}", run)
    assert len(instance.all_logs(run.run_id)) >= 5
    shard = tmp_path / "history" / "runs" / f"{run.run_id}.db"
    assert str(shard) in inst._KEEP
    assert sqlite3.connect(shard).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
