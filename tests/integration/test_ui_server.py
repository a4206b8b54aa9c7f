"""`dagster dev -w workspace.yaml` starts, and its GraphQL API lists every asset. The server runs in its own
process group on a free loopback port and is stopped by PID (killpg), so no stray process outlives the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, graphql

REPO = Path(__file__).resolve().parents[2]
QUERY = "{ assetNodes { assetKey { path } } }"


@pytest.fixture()
def dagster_dev(bt_home, tmp_path):
    yield from _dagster_dev_process(bt_home, tmp_path)


def _dagster_dev_process(bt_home, tmp_path):
    port = free_port()
    log = open(tmp_path / "dagster_dev.log", "w")
    env = dict(os.environ, DAGSTER_HOME=str(bt_home / "dagster_home"))
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield port, proc, tmp_path / "dagster_dev.log"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_warehouse_opens_from_another_process_while_the_ui_is_idle(bt_home, tmp_path):
    """The UI's code location never holds the DuckDB file: with `dagster dev` up and idle, the query CLI in
    another process opens the warehouse (read-only)."""
    import duckdb

    wh = bt_home / "warehouse" / "benchtrust.duckdb"
    wh.parent.mkdir(parents=True)
    con = duckdb.connect(str(wh))
    con.execute("create schema marts; create table marts.reliability_report as select 'm' as model, 0.5 as accuracy")
    con.close()
    gen = _dagster_dev_process(bt_home, tmp_path)
    port, proc, log = next(gen)
    try:
        _wait_for_assets(port, proc, log)
        out = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "query", "select * from marts.reliability_report", "-f", "csv"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == ["model,accuracy", "m,0.5"]
    finally:
        gen.close()


def _wait_for_assets(port, proc, log) -> set:
    deadline, got, last_err = time.time() + 240, set(), None
    while time.time() < deadline:
        assert proc.poll() is None, f"dagster dev exited early:\n{log.read_text()[-3000:]}"
        try:
            data = graphql(port, QUERY)
            got = {tuple(n["assetKey"]["path"]) for n in data["data"]["assetNodes"]}
            if got:
                return got
        except Exception as e:  # server still starting
            last_err = e
        time.sleep(2)
    raise AssertionError(f"no assets from GraphQL; last error {last_err}\n{log.read_text()[-2000:]}")


def test_dagster_dev_serves_every_asset(dagster_dev):
    from pipelines.definitions import defs

    port, proc, log = dagster_dev
    expected = {tuple(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()}
    got = _wait_for_assets(port, proc, log)
    assert got == expected, f"GraphQL listed {sorted(got)}"
    # the same server shows the jobs of the code location
    jobs = graphql(port, "{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }")
    names = {j["name"] for repo in jobs["data"]["repositoriesOrError"]["nodes"] for j in repo["jobs"]}
    assert {"items_job", "predictions_job", "reports_job"} <= names
