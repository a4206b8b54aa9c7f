"""Two `benchtrust run` on the same data folder at once: the second waits (or, with --no-wait, refuses in one line)
naming the first, and neither corrupts anything. Real CLI processes on the session's smoke home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_celery_postgres import marts_fingerprint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # minutes of real inference and dbt builds
REPO = Path(__file__).resolve().parents[2]


def test_second_run_waits_or_refuses_naming_the_first(smoke_run):
    home, first = smoke_run
    assert first.ok
    before = marts_fingerprint(home / "warehouse" / "benchtrust.duckdb")
    env = dict(os.environ, BENCHTRUST_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"))
    env.pop("BENCHTRUST_PROFILE", None)
    cmd = [sys.executable, "-m", "pipelines.cli", "run", "--profile", "smoke"]
    p1 = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = home / ".benchtrust.lock"
    deadline = time.time() + 120
    while True:  # until the first command holds the lock
        try:
            if json.loads(lock.read_text() or "{}").get("pid") == p1.pid:
                break
        except (OSError, ValueError):
            pass
        assert p1.poll() is None and time.time() < deadline, "the first run never took the lock"
        time.sleep(0.2)

    refused = subprocess.run(cmd + ["--no-wait"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    err = refused.stderr.strip().splitlines()
    assert len(err) == 1 and f"pid {p1.pid}" in err[0] and "benchtrust run --profile smoke" in err[0], refused.stderr
    assert "Traceback" not in refused.stderr

    p2 = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out1, err1 = p1.communicate(timeout=900)
    out2, err2 = p2.communicate(timeout=900)
    assert p1.returncode == 0, out1[-2000:] + err1[-2000:]
    assert p2.returncode == 0, out2[-2000:] + err2[-2000:]
    assert f"waiting for `benchtrust run --profile smoke` (pid {p1.pid}" in out2 + err2
    # both finished, one after the other; the warehouse is what it was (same inputs, cached cells)
    assert marts_fingerprint(home / "warehouse" / "benchtrust.duckdb") == before
    # and no stale lock: a third command gets the folder at once
    third = subprocess.run(cmd + ["--no-wait"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert third.returncode == 0, third.stdout[-2000:] + third.stderr[-2000:]
