"""Beyond one machine, by configuration only: the smoke profile through Dagster's Celery executor on a Redis broker,
with the instance in PostgreSQL (deploy/dagster.yaml, deploy/celery/executor.yaml) and two Celery worker
processes, one of which is SIGKILLed in the middle of an inference step. The marts must equal the in-process run's
(the session's `smoke_run`), and the event log in PostgreSQL must show steps executed by both workers.

Servers are started by the test from Debian's packages (tests/servers.py) on free loopback ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil
import pytest
import yaml

from tests import servers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # minutes of real inference and dbt builds
REPO = Path(__file__).resolve().parents[2]


def marts_fingerprint(warehouse: Path) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of marts.predictions and marts.reliability_report: every column but the
    timestamps (when a row was written) and the content-addressed paths, doubles rounded to 1e-6."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for table in ("predictions", "reliability_report"):
            cols = con.execute(
                "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
                "and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            exprs = []
            for name, dtype in cols:
                if "TIMESTAMP" in dtype or name.endswith(("_at", "_path")) or name in ("run_id",):
                    continue
                q = '"' + name.replace('"', '""') + '"'
                exprs.append(f"round({q}, 6)::varchar" if dtype in ("DOUBLE", "FLOAT") else f"{q}::varchar")
            row = "concat_ws('\x1f', " + ", ".join(f"coalesce({e}, '<null>')" for e in exprs) + ")"
            n, h = con.execute(
                f"select count(*), md5(string_agg({row}, '\x1e' order by {row})) from marts.{table}"
            ).fetchone()
            out[table] = (n, h)
        return out
    finally:
        con.close()


def _descendants(pid: int) -> set[int]:
    try:
        p = psutil.Process(pid)
        return {pid} | {c.pid for c in p.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def test_smoke_profile_through_celery_workers_on_postgres(smoke_run, tmp_path):
    home_inproc, first = smoke_run
    assert first.ok, first.runs
    baseline = marts_fingerprint(home_inproc / "warehouse" / "benchtrust.duckdb")

    with servers.postgres(tmp_path / "pg") as pg, servers.redis(tmp_path / "rd") as redis_url:
        dagster_home = tmp_path / "dagster_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
        celery_cfg = yaml.safe_load((REPO / "deploy" / "celery" / "executor.yaml").read_text())
        # the shipped file waits 120 s before Redis hands a dead worker's step to another; a test waits less
        celery_cfg["execution"]["config"]["config_source"]["broker_transport_options"]["visibility_timeout"] = 15
        cfg_path = tmp_path / "celery.yaml"
        cfg_path.write_text(yaml.safe_dump(celery_cfg))
        home = tmp_path / "bt_home"
        env = dict(
            os.environ,
            **pg.env(),
            DAGSTER_HOME=str(dagster_home),
            BENCHTRUST_HOME=str(home),
            BENCHTRUST_EXECUTOR="celery",
            BENCHTRUST_CELERY_CONFIG=str(cfg_path),
            BENCHTRUST_CELERY_BROKER=f"{redis_url}/0",
            BENCHTRUST_CELERY_BACKEND=f"{redis_url}/1",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.pop("BENCHTRUST_PROFILE", None)
        # one -q with both queues: dagster-celery turns repeated -q into repeated -Q, and Celery keeps the last only
        workers = []
        for i in (1, 2):
            log = open(tmp_path / f"worker{i}.log", "w")
            workers.append(
                subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "dagster-celery"),
                        "worker",
                        "start",
                        "-A",
                        "dagster_celery.app",
                        "-y",
                        str(cfg_path),
                        "-q",
                        "dagster,gpu",
                        "-n",
                        f"w{i}",
                        "-l",
                        "INFO",
                        "--",
                        "--concurrency=1",
                        "--without-heartbeat",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        owner: dict[int, int] = {}  # pid -> worker index, recorded while the workers live
        killed: dict[str, object] = {}
        stop = threading.Event()

        def watch() -> None:
            import psycopg2

            con = None
            while not stop.is_set():
                for i, w in enumerate(workers, 1):
                    for pid in _descendants(w.pid):
                        owner.setdefault(pid, i)
                try:
                    con = con or psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.db)
                    con.autocommit = True
                    with con.cursor() as cur:
                        cur.execute(
                            "select event, timestamp from event_logs where dagster_event_type = 'STEP_START' "
                            "and step_key like 'predictions%' order by id limit 1"
                        )
                        row = cur.fetchone()
                except Exception:
                    row, con = None, None
                if row and "worker" not in killed:
                    from dagster._serdes import deserialize_value

                    pid = deserialize_value(row[0]).dagster_event.pid
                    idx = owner.get(pid)
                    if idx is not None and time.time() - row[1].timestamp() > 4:  # mid-step: model loaded, scoring
                        os.killpg(workers[idx - 1].pid, signal.SIGKILL)
                        killed.update(worker=idx, pid=pid, at=time.time())
                time.sleep(0.5)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pipelines.cli", "run", "--profile", "smoke"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
        finally:
            stop.set()
            watcher.join(timeout=10)
            for w in workers:
                try:
                    os.killpg(w.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        logs = "".join((tmp_path / f"worker{i}.log").read_text()[-3000:] for i in (1, 2))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + logs
        assert killed.get("worker"), f"no inference step was caught mid-way to kill its worker: {owner}"

        # the event log in PostgreSQL: steps ran in both workers' processes, and the killed step ran again elsewhere
        import psycopg2
        from dagster._serdes import deserialize_value

        con = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.db)
        with con.cursor() as cur:
            cur.execute("select event, step_key from event_logs where dagster_event_type = 'STEP_START'")
            starts = [(deserialize_value(e).dagster_event.pid, k) for e, k in cur.fetchall()]
            cur.execute("select count(*) from event_logs where dagster_event_type = 'STEP_SUCCESS'")
            (n_success,) = cur.fetchone()
        con.close()
        by_worker = {owner.get(pid) for pid, _ in starts}
        assert {1, 2} <= by_worker, (starts, owner)
        killed_step = [k for pid, k in starts if pid == killed["pid"]]
        assert killed_step and sum(k == killed_step[0] for _, k in starts) >= 2  # redelivered and run again
        assert n_success >= 5  # 2 items + 2 predictions + dbt + reports

        # the marts equal the in-process run's; no grid cell twice
        got = marts_fingerprint(home / "warehouse" / "benchtrust.duckdb")
        assert got == baseline, (got, baseline)
        con = duckdb.connect(str(home / "warehouse" / "benchtrust.duckdb"), read_only=True)
        dup = con.execute(
            "select count(*) - count(distinct (model, model_version, benchmark, dataset_version, item_id, "
            "template_id, fewshot_seed, permutation_seed, decoding, sample_idx)) from marts.predictions"
        ).fetchone()
        con.close()
        assert dup == (0,)
