"""`benchtrust run` on the embedded default (SQLite instance, run queue, pools, no server): partitions of a
2 models × 2 benchmarks profile run side by side in the inference pool, and dbt builds never overlap (the
warehouse pool holds one). Real SmolLM2 predictions, real dbt build, real Dagster runs in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.ui import support

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
TWIN = "smollm2-twin"


def _windows(
    instance: dg.DagsterInstance, runs: list[dg.DagsterRun], step: str | None = None
) -> list[tuple[float, float]]:
    """(start, end) of each run, or of the named step inside each run, from the instance's event log."""
    from dagster._core.events import DagsterEventType

    out = []
    for run in runs:
        if step is None:
            rec = instance.get_run_record_by_id(run.run_id)
            out.append((rec.start_time, rec.end_time))
            continue
        starts = [
            e.timestamp
            for e in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START)
            if e.step_key and e.step_key.startswith(step)
        ]
        ends = [
            e.timestamp
            for e in instance.all_logs(
                run.run_id, of_type={DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
            )
            if e.step_key and e.step_key.startswith(step)
        ]
        if starts and ends:
            out.append((min(starts), max(ends)))
    return out


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


@pytest.mark.timeout(2400)
def test_two_models_two_benchmarks_run_side_by_side(tmp_path):
    items = tmp_path / "tiny.jsonl"
    support.write_items(items, 6)
    cfg = support.write_config(tmp_path / "config", items, {}, [], benchmark="tinyq", templates=("mmlu_harness",))
    models = yaml.safe_load((cfg / "models.yaml").read_text())
    models["models"][TWIN] = dict(models["models"]["smollm2-135m-instruct"], description="the same GGUF, a second name")
    (cfg / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    profiles = yaml.safe_load((cfg / "profiles.yaml").read_text())
    profiles["profiles"]["pair"] = {
        "description": "2 models x 2 benchmarks",
        "models": ["smollm2-135m-instruct", TWIN],
        "benchmarks": {
            "tinyq": {},
            "mmlu": {"subset": {"per_subject": 1, "seed": 0, "max_items": 3}, "grid": {"templates": ["mmlu_harness"]}},
        },
    }
    (cfg / "profiles.yaml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    home = tmp_path / "home"
    env = dict(
        os.environ,
        BENCHTRUST_HOME=str(home),
        BENCHTRUST_CONFIG=str(cfg),
        DAGSTER_HOME=str(home / "dagster_home"),
        BENCHTRUST_INFERENCE_SLOTS="2",
    )
    env.pop("BENCHTRUST_PROFILE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--profile", "pair"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "runs ok" in proc.stdout

    with support.Env(BENCHTRUST_HOME=str(home), BENCHTRUST_CONFIG=str(cfg), DAGSTER_HOME=str(home / "dagster_home")):
        from pipelines.instance import get_instance

        instance = get_instance()
        runs = instance.get_runs()
        preds = [r for r in runs if r.asset_selection == {dg.AssetKey("predictions")}]
        assert sorted(r.tags["dagster/partition"] for r in preds) == sorted(
            f"{b}|{m}" for b in ("mmlu", "tinyq") for m in ("smollm2-135m-instruct", TWIN)
        )
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in preds)
        # every run was forked from the warm process (pipelines/launcher.py) and executed in that child: the pid
        # the launcher recorded is the process that executed the steps (the pid its run-start and engine events
        # carry, which run monitoring and recover_interrupted read)
        from dagster._core.events import DagsterEventType

        from pipelines.launcher import WORKER_PID_TAG

        for r in runs:
            assert WORKER_PID_TAG in r.tags, (r.run_id, r.tags)
            executed_by = {
                e.dagster_event.pid
                for e in instance.all_logs(
                    r.run_id, of_type={DagsterEventType.RUN_START, DagsterEventType.ENGINE_EVENT}
                )
                if e.dagster_event and e.dagster_event.pid is not None
            }
            assert executed_by == {int(r.tags[WORKER_PID_TAG])}, (r.run_id, executed_by)
        win = _windows(instance, preds, "predictions")
        overlaps = [(i, j) for i in range(len(win)) for j in range(i + 1, len(win)) if _overlap(win[i], win[j]) > 1.0]
        assert overlaps, f"no two inference steps ran at the same time: {win}"
        # the pool never let more than its 2 slots score at once
        for t, _ in win:
            assert sum(s <= t + 1e-6 and t < e for s, e in win) <= 2

        # two warehouse refreshes submitted at once still build one at a time (pool `warehouse` = 1)
        from pipelines.daemon import hosted_daemons
        from pipelines.run import follow, submit_backfill, warehouse_subset

        with hosted_daemons(instance):
            ids = [submit_backfill(instance, warehouse_subset(), title=f"wh{i}", tags={"test": "pool"}) for i in (1, 2)]
            results = [follow(instance, b, log=lambda m: None, timeout_s=900) for b in ids]
        assert all(r["success"] for res in results for r in res), results
        wh_runs = [r for r in instance.get_runs() if dg.AssetKey("reliability_reports") in (r.asset_selection or set())]
        dbt = _windows(instance, wh_runs, "benchtrust_dbt_models")
        assert len(dbt) >= 3  # the profile's build and the two submitted together
        for i in range(len(dbt)):
            for j in range(i + 1, len(dbt)):
                assert _overlap(dbt[i], dbt[j]) <= 0, f"dbt builds overlapped: {dbt}"

        import duckdb

        con = duckdb.connect(str(home / "warehouse" / "benchtrust.duckdb"), read_only=True)
        got = con.execute(
            "select benchmark, model, count(*) from marts.predictions group by all order by all"
        ).fetchall()
        con.close()
        assert {(b, m) for b, m, _ in got} == {
            (b, m) for b in ("mmlu", "tinyq") for m in ("smollm2-135m-instruct", TWIN)
        }
