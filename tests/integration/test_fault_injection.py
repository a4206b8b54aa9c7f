"""Crash safety, proven by killing: `benchtrust run` SIGKILLed (its whole process group, as a terminal's Ctrl-\\ or
an OOM kill of the session would) at 20 seeded points across item ingestion, inference, the dbt build and report
writing, resumed each time; then the marts must equal an uninterrupted run's (row counts and content hashes), with
no grid cell twice, no half-written report version listed, and no stale lock or pool slot blocking the next run.

The kill points are recorded in test-artifacts/fault_injection.json. Small profile: a 6-item local benchmark and
SmolLM2 (real model, real Dagster runs, real dbt build)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.integration.test_celery_postgres import marts_fingerprint
from tests.ui import support

pytestmark = [
    pytest.mark.slow, pytest.mark.timeout(3600),
    # each of the 20 cycles starts a command, a code server and run workers: ~15-25 minutes on 2 cores, more than the
    # 10 minutes the suite can give it, so it runs on request (BENCHTRUST_FAULT_INJECTION=1), not in every `make test`
    pytest.mark.skipif(os.environ.get("BENCHTRUST_FAULT_INJECTION") != "1",
                       reason="fault injection (20 SIGKILLs of `benchtrust run`) runs with BENCHTRUST_FAULT_INJECTION=1"),
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
PHASES = {"items": "benchmark_items", "inference": "predictions", "dbt build": "benchtrust_dbt_models",
          "report writing": "reliability_reports"}
SEED = 20261206
KILLS = 20


def _config(tmp: Path) -> Path:
    import yaml

    items = tmp / "faults.jsonl"
    support.write_items(items, 6)
    cfg = support.write_config(tmp / "config", items, {}, ["smollm2-135m-instruct"], benchmark="faultq",
                               templates=("mmlu_harness",))
    profiles = yaml.safe_load((cfg / "profiles.yaml").read_text())
    profiles["profiles"]["faults"] = {"description": "fault injection", "models": ["smollm2-135m-instruct"],
                                      "benchmarks": {"faultq": {}}}
    (cfg / "profiles.yaml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    return cfg


def _env(home: Path, cfg: Path) -> dict[str, str]:
    env = dict(os.environ, BENCHTRUST_HOME=str(home), BENCHTRUST_CONFIG=str(cfg), DAGSTER_HOME=str(home / "dagster_home"))
    env.pop("BENCHTRUST_PROFILE", None)
    return env


CMD = [sys.executable, "-m", "pipelines.cli", "run", "--profile", "faults"]


def _started_steps(instance: dg.DagsterInstance, since: float) -> dict[str, float]:
    """step key → when it started, for steps of runs created after ``since``."""
    from dagster._core.events import DagsterEventType

    out: dict[str, float] = {}
    for run in instance.get_runs(limit=10):
        rec = instance.get_run_record_by_id(run.run_id)
        if rec is None or rec.create_timestamp.timestamp() < since:
            continue
        for e in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START):
            if e.step_key:
                out.setdefault(e.step_key, e.timestamp)
    return out


def test_kill_at_20_points_and_resume_gives_the_uninterrupted_marts(tmp_path):
    cfg = _config(tmp_path)
    clean_home, fault_home = tmp_path / "clean", tmp_path / "faulty"
    clean = subprocess.run(CMD, cwd=REPO, env=_env(clean_home, cfg), capture_output=True, text=True, timeout=900)
    assert clean.returncode == 0, clean.stdout[-2000:] + clean.stderr[-2000:]
    baseline = marts_fingerprint(clean_home / "warehouse" / "benchtrust.duckdb")

    rng = random.Random(SEED)
    names = list(PHASES)
    plan = [(names[i % len(names)], round(rng.uniform(0.0, 1.5), 2)) for i in range(KILLS)]
    rng.shuffle(plan)
    points = []
    env = _env(fault_home, cfg)
    with support.Env(BENCHTRUST_HOME=str(fault_home), BENCHTRUST_CONFIG=str(cfg), DAGSTER_HOME=str(fault_home / "dagster_home")):
        for i, (phase, delay) in enumerate(plan):
            t0 = time.time()
            proc = subprocess.Popen(CMD, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            point = {"i": i, "phase": phase, "delay_s": delay, "killed": False}
            step = PHASES[phase]
            while proc.poll() is None and time.time() - t0 < 600:
                if (fault_home / "dagster_home" / "dagster.yaml").exists():
                    started = _started_steps(dg.DagsterInstance.get(), t0)
                    hit = next((t for k, t in started.items() if k.startswith(step)), None)
                    if hit is not None:
                        time.sleep(max(0.0, hit + delay - time.time()))
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                        point.update(killed=True, seconds_after_start=round(time.time() - t0, 1),
                                     seconds_into_step=round(time.time() - hit, 2))
                        break
                time.sleep(0.2)
            else:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
            point["exit"] = proc.returncode
            points.append(point)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fault_injection.json").write_text(json.dumps({"seed": SEED, "points": points}, indent=1))
    killed = [p for p in points if p["killed"]]
    assert len(killed) >= KILLS - 2, points  # a phase can finish inside the poll interval; nearly all must hit
    assert {p["phase"] for p in killed} == set(PHASES), points

    # resume: one uninterrupted run; it must not wait on a stale lock (--no-wait) or a stale pool slot
    final = subprocess.run(CMD + ["--no-wait"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    warehouse = fault_home / "warehouse" / "benchtrust.duckdb"
    assert marts_fingerprint(warehouse) == baseline
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        dup = con.execute("select count(*) - count(distinct (model, model_version, benchmark, dataset_version, item_id, "
                          "template_id, fewshot_seed, permutation_seed, decoding, sample_idx)) from marts.predictions").fetchone()
        paths = [r[0] for r in con.execute("select report_path from marts.report_versions").fetchall()]
    finally:
        con.close()
    assert dup == (0,)
    for p in map(Path, paths):  # every listed report version is complete on disk
        assert all((p.parent / f).stat().st_size > 0 for f in ("report.html", "report.md", "report.json")), p
        json.loads((p.parent / "report.json").read_text())
