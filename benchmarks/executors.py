"""In-process vs Celery (2 workers) wall time of the same profile, each in a fresh data folder.

    python benchmarks/executors.py [--profile smoke] [--out benchmarks/results/executors.json]

The embedded default (SQLite instance, run queue, in-process executor; partitions side by side within the pools)
against the production route of deploy/ (PostgreSQL instance, Celery executor on Redis, two worker processes on
this machine). PostgreSQL and Redis are started from Debian's packages in a temporary folder on free loopback ports
(tests/servers.py) and stopped afterwards. The 1-minute load average before each leg is recorded: on a 2-core
machine, a busy neighbour changes the figures more than the executor does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _run(env: dict[str, str], profile: str) -> dict:
    load = os.getloadavg()[0]
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--profile", profile],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    return {
        "wall_s": round(time.time() - t0, 1),
        "exit": proc.returncode,
        "load_before": round(load, 2),
        "tail": proc.stdout.strip().splitlines()[-1:] + proc.stderr.strip().splitlines()[-3:],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "executors.json")
    args = ap.parse_args()
    from tests import servers

    base = dict(os.environ)
    for k in ("BENCHTRUST_PROFILE", "BENCHTRUST_EXECUTOR", "DAGSTER_HOME"):
        base.pop(k, None)
    result: dict = {"profile": args.profile, "cores": os.cpu_count(), "legs": {}}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        home = tmp / "inproc"
        result["legs"]["in_process"] = _run(
            dict(base, BENCHTRUST_HOME=str(home), DAGSTER_HOME=str(home / "dh")), args.profile
        )
        with servers.postgres(tmp / "pg") as pg, servers.redis(tmp / "rd") as redis_url:
            dh = tmp / "celery_dh"
            dh.mkdir()
            (dh / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
            cfg = yaml.safe_load((REPO / "deploy" / "celery" / "executor.yaml").read_text())
            cfg_path = tmp / "celery.yaml"
            cfg_path.write_text(yaml.safe_dump(cfg))
            env = dict(
                base,
                **pg.env(),
                DAGSTER_HOME=str(dh),
                BENCHTRUST_HOME=str(tmp / "celery"),
                BENCHTRUST_EXECUTOR="celery",
                BENCHTRUST_CELERY_CONFIG=str(cfg_path),
                BENCHTRUST_CELERY_BROKER=f"{redis_url}/0",
                BENCHTRUST_CELERY_BACKEND=f"{redis_url}/1",
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            )
            workers = [
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
                        "--",
                        "--concurrency=1",
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                for i in (1, 2)
            ]
            try:
                time.sleep(5)
                result["legs"]["celery_2_workers"] = _run(env, args.profile)
            finally:
                for w in workers:
                    os.killpg(w.pid, signal.SIGTERM)
    legs = result["legs"]
    result["ratio_celery_over_in_process"] = round(legs["celery_2_workers"]["wall_s"] / legs["in_process"]["wall_s"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
