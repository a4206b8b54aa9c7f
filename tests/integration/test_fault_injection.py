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
from datetime import UTC
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from benchtrust.lake import TEMP_NAME
from tests.integration.test_celery_postgres import marts_fingerprint
from tests.ui import support

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2700)]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
PHASES = {
    "items": "benchmark_items",
    "inference": "predictions",
    "dbt build": "benchtrust_dbt_models",
    "report writing": "reliability_reports",
}
# what reaching a phase costs, relative (items ~15 s, inference ~25 s, dbt ~75 s, reports ~125 s on 2 cores): used
# only to spread the points over the data folders so the sequences end at about the same time
COST = {"items": 1, "inference": 2, "dbt build": 5, "report writing": 8}
SEED = 20261206
KILLS = 20
# The 20 kill-and-resume cycles run as FOLDERS independent sequences side by side, each in its own data folder
# (BENCHTRUST_HOME and Dagster instance): one after the other they take 15-25 minutes, since every cycle starts a
# command, its daemons, a code server and run workers, and most of that is waiting, not computing. Each folder's
# marts must equal the uninterrupted run's, which runs alongside them in a fifth folder. Measured on a quiet 2-core
# machine: 566 s with cold run workers, 502 s with the warm run launcher (pipelines/launcher.py); 20 of 20 kills hit,
# 19 of them inside their step.
FOLDERS = 4


def _config(tmp: Path) -> Path:
    import yaml

    items = tmp / "faults.jsonl"
    support.write_items(items, 6)
    cfg = support.write_config(
        tmp / "config", items, {}, ["smollm2-135m-instruct"], benchmark="faultq", templates=("mmlu_harness",)
    )
    profiles = yaml.safe_load((cfg / "profiles.yaml").read_text())
    profiles["profiles"]["faults"] = {
        "description": "fault injection",
        "models": ["smollm2-135m-instruct"],
        "benchmarks": {"faultq": {}},
    }
    (cfg / "profiles.yaml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    return cfg


def _env(home: Path, cfg: Path) -> dict[str, str]:
    env = dict(
        os.environ, BENCHTRUST_HOME=str(home), BENCHTRUST_CONFIG=str(cfg), DAGSTER_HOME=str(home / "dagster_home")
    )
    env.pop("BENCHTRUST_PROFILE", None)
    return env


CMD = [sys.executable, "-m", "pipelines.cli", "run", "--profile", "faults"]


def _plan() -> list[list[dict[str, Any]]]:
    """20 seeded kill points, five per phase, each with a seeded delay after its step starts (0-1.5 s), spread over
    the folders by expected cost (longest first onto the least loaded folder); the order within a folder is seeded."""
    rng = random.Random(SEED)
    names = list(PHASES)
    points = [{"phase": names[i % len(names)], "delay_s": round(rng.uniform(0.0, 1.5), 2)} for i in range(KILLS)]
    rng.shuffle(points)
    folders: list[list[dict[str, Any]]] = [[] for _ in range(FOLDERS)]
    for p in sorted(points, key=lambda p: -COST[p["phase"]]):
        min(folders, key=lambda f: sum(COST[q["phase"]] for q in f)).append(p)
    for f in folders:
        rng.shuffle(f)
    return folders


def _step_events(instance: dg.DagsterInstance, since: float, step: str) -> tuple[float | None, bool]:
    """(when ``step`` first started in a run created after ``since``, whether it has finished)."""
    from datetime import datetime

    from dagster._core.events import DagsterEventType
    from dagster._core.storage.dagster_run import RunsFilter

    started, finished = None, False
    # only this cycle's runs: polled every 0.3 s by four sequences at once, reading older runs cost the machine
    # more CPU than the commands under test could spare (35 ms per poll with ten runs in the window)
    after = datetime.fromtimestamp(since, UTC)
    for rec in instance.get_run_records(filters=RunsFilter(created_after=after), limit=10):
        for e in instance.all_logs(
            rec.dagster_run.run_id,
            of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE},
        ):
            if not (e.step_key or "").startswith(step):
                continue
            if e.dagster_event and e.dagster_event.event_type == DagsterEventType.STEP_START:
                started = e.timestamp if started is None else min(started, e.timestamp)
            else:
                finished = True
    return started, finished


def _kill_sequence(
    home: Path, cfg: Path, points: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """Start `benchtrust run`, SIGKILL its process group ``delay_s`` after the point's step started, resume: once
    per point, in order, in one data folder. Then resume once more, uninterrupted, with ``--no-wait``: it must not
    wait on a stale lock or a stale pool slot. It starts as soon as this folder's last kill is done (the other
    folders go on), so the final runs do not all queue behind the slowest sequence."""
    env = _env(home, cfg)
    instance = None
    out = []
    for point in points:
        t0 = time.time()
        log = home / f"cycle-{len(out)}.log"
        home.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as fh:
            proc = subprocess.Popen(CMD, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        rec = {**point, "folder": home.name, "killed": False}
        step = PHASES[point["phase"]]
        while proc.poll() is None and time.time() - t0 < 600:
            # open the instance only once a run has written events: opening it while the command is still creating
            # the SQLite storage races its schema migration (a harness problem, not the product's)
            if instance is None and any((home / "dagster_home" / "history" / "runs").glob("*-*.db")):
                instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))
            hit = _step_events(instance, t0, step)[0] if instance is not None else None
            if hit is not None:
                time.sleep(max(0.0, hit + point["delay_s"] - time.time()))
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rec.update(
                    killed=True,
                    seconds_after_start=round(time.time() - t0, 1),
                    seconds_into_step=round(time.time() - hit, 2),
                    step_had_finished=_step_events(instance, t0, step)[1],
                )
                break
            time.sleep(0.3)
        else:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        rec["exit"] = proc.returncode
        if not rec["killed"]:  # the command ended before its kill point: keep what it said
            rec["output_tail"] = log.read_text(errors="replace")[-600:]
        out.append(rec)
    final = subprocess.run(CMD + ["--no-wait"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return out, final


def test_kill_at_20_points_and_resume_gives_the_uninterrupted_marts(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    cfg = _config(tmp_path)
    plan = _plan()
    t_start = time.time()
    with ThreadPoolExecutor(FOLDERS + 1) as pool:
        clean_home = tmp_path / "clean"
        clean = pool.submit(
            subprocess.run, CMD, cwd=REPO, env=_env(clean_home, cfg), capture_output=True, text=True, timeout=900
        )
        sequences = [pool.submit(_kill_sequence, tmp_path / f"faulty{k}", cfg, points) for k, points in enumerate(plan)]
        done = [f.result() for f in sequences]
        clean_result = clean.result()
    points = [p for seq, _ in done for p in seq]
    finals = [final for _, final in done]
    assert clean_result.returncode == 0, clean_result.stdout[-2000:] + clean_result.stderr[-2000:]
    baseline = marts_fingerprint(clean_home / "warehouse" / "benchtrust.duckdb")
    killed = [p for p in points if p["killed"]]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fault_injection.json").write_text(
        json.dumps(
            {"seed": SEED, "folders": FOLDERS, "wall_s": round(time.time() - t_start, 1), "points": points}, indent=1
        )
    )
    assert len(points) == KILLS
    assert len(killed) >= KILLS - 1, points  # every point must be reached and hit
    assert {p["phase"] for p in killed} == set(PHASES), points
    # nearly every kill lands inside its step (a short step can end between the poll and the kill)
    assert sum(not p["step_had_finished"] for p in killed) >= KILLS - 3, points
    for k, final in enumerate(finals):
        assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
        home = tmp_path / f"faulty{k}"
        warehouse = home / "warehouse" / "benchtrust.duckdb"
        assert marts_fingerprint(warehouse) == baseline, home
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            dup = con.execute(
                "select count(*) - count(distinct (model, model_version, benchmark, dataset_version, "
                "item_id, template_id, fewshot_seed, permutation_seed, decoding, sample_idx)) "
                "from marts.predictions"
            ).fetchone()
            paths = [r[0] for r in con.execute("select report_path from marts.report_versions").fetchall()]
        finally:
            con.close()
        assert dup == (0,)
        for p in map(Path, paths):  # every listed report version is complete on disk
            assert all((p.parent / f).stat().st_size > 0 for f in ("report.html", "report.md", "report.json")), p
            json.loads((p.parent / "report.json").read_text())
        # temporary files of killed writers are swept by the next command (lake, reports, inference cache)
        leftovers = [f for d in ("lake", "reports", "cache") for f in (home / d).rglob("*") if TEMP_NAME.search(f.name)]
        assert not leftovers, leftovers
