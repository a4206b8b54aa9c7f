"""How do `benchtrust import` + dbt build + reports scale with the number of models?

For each size N (default 10, 30, 100, 300 models: a 30x span) the script

1. derives N synthetic models from the real HELM MMLU matrix
   (``../shared/external-data/helm_mmlu/helm_10models_mmlu_item_matrix.csv``, 10 models x 14,015 items):
   synthetic model k copies the answers of real model ``k % 10`` and, on a seeded random fraction of the
   items (5-30 %, drawn per k), takes the answers of another real model instead. Model k is the same at every
   size (size 30 holds the 10 models of size 10 and 20 more), names are distinct (``synthetic_k###-<base>``);
2. writes that matrix in HELM's layout (same metadata columns, one column per model) to the work folder;
3. runs the real CLI, ``benchtrust import helm MATRIX``, as a subprocess in a fresh ``BENCHTRUST_HOME`` (lake,
   warehouse, reports and Dagster instance all new) with ``DBT_TARGET_PATH`` pointed into that home, so dbt's
   ``run_results.json`` of this build is ours and not another process's;
4. measures the whole process tree of that command:

   - ``wall_s``: wall time of the command (import + dbt build + reports, whatever the CLI runs);
   - ``peak_tree_rss_mb``: peak of the RSS summed over the command's process tree, from psutil polling every
     ``--poll`` s (0.1 s default; a spike shorter than that can be missed; shared pages are counted once per
     process, so this over-counts memory shared between a parent and its forked children);
   - ``max_process_rss_mb``: the largest single process of the tree, from GNU ``/usr/bin/time -f %M``
     (the kernel's exact high-water mark of each reaped process; no sampling);
   - ``cpu_s``: user + system CPU seconds of the tree (``getrusage(RUSAGE_CHILDREN)`` difference);
   - per phase: when the CLI submits Dagster runs (the current one does), each step's duration from the
     instance's event log (``get_run_step_stats``: ``imported_predictions``, ``benchtrust_dbt_models``,
     ``reliability_reports``); for a CLI that runs the phases itself (older commits, see ``--repo``), from the
     arrival time of the lines it prints when the import, the dbt build and the reports end
     (``phases_from_cli_output``; every output line is kept with its time in ``cli.log``); and per dbt node
     the ``execution_time`` from ``run_results.json``.

The cost ratio per 10x of work is ``10 ** slope`` of the least-squares line of log10(cost) on log10(rows)
(rows = models x items, the prediction rows imported): 10 means linear, 100 quadratic. The same slope is
computed per Dagster step and per dbt node, and the fastest-growing ones are listed (``growth``), which is
where super-linear steps show up.

Run it on a quiet machine (timings from a loaded one are not figures to publish)::

    .venv/bin/python benchmarks/scaling.py                      # 10, 30, 100, 300 models; ~all 14k items
    .venv/bin/python benchmarks/scaling.py --sizes 10 30 --out /tmp/scaling_check   # a quick check

Writes ``<out>/scaling.json`` and ``<out>/scaling.png`` (default ``benchmarks/results/``); the work folders
(matrices, homes, logs) go to ``--workdir`` (default a temporary folder, deleted unless ``--keep``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = ROOT.parent / "shared" / "external-data"
HELM = EXTERNAL / "helm_mmlu" / "helm_10models_mmlu_item_matrix.csv"
RESULTS = ROOT / "benchmarks" / "results"
META = ("subject", "helm_row", "mmlu_test_index", "gold", "groundtruth_answer_idx", "question",
        "error_type", "error_type_in_redux_csv", "error_type_raw")


# ------------------------------------------------------------------------------------------------ synthetic data
def synthetic_matrix(real: pd.DataFrame, n_models: int, seed: int = 0) -> pd.DataFrame:
    """``real`` (HELM layout) with its model columns replaced by ``n_models`` synthetic ones (see module doc)."""
    meta = [c for c in real.columns if c in META]
    models = [c for c in real.columns if c not in META]
    if len(models) < 2:
        raise ValueError(f"{HELM}: needs at least 2 model columns, found {models}")
    answers = real[models].to_numpy(dtype=object)
    cols: dict[str, np.ndarray] = {}
    for k in range(n_models):
        rng = np.random.default_rng([seed, k])  # model k is the same at every size
        base = k % len(models)
        donor = (base + 1 + int(rng.integers(len(models) - 1))) % len(models)
        frac = float(rng.uniform(0.05, 0.30))
        col = answers[:, base].copy()
        swap = rng.random(len(col)) < frac
        col[swap] = answers[swap, donor]
        # HELM headers are org_name; the importer turns the first "_" into "/": synthetic/k###-<base model>
        cols[f"synthetic_k{k:03d}-{models[base].split('_', 1)[-1]}"] = col
    return pd.concat([real[meta].reset_index(drop=True), pd.DataFrame(cols)], axis=1)


# ------------------------------------------------------------------------------------------------ measurement
class TreeSampler(threading.Thread):
    """Polls a process and its descendants: peak of the summed RSS, and the largest single RSS seen."""

    def __init__(self, pid: int, every: float):
        super().__init__(daemon=True)
        self.root, self.every = psutil.Process(pid), every
        self.peak_sum = self.peak_single = 0
        self.max_procs = self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                self.peak_single = max(self.peak_single, rss)
            self.peak_sum = max(self.peak_sum, total)
            self.max_procs = max(self.max_procs, len(procs))
            self.samples += 1
            self.stop.wait(self.every)


def dagster_steps(dagster_home: Path) -> list[dict[str, Any]]:
    """Every step of every run in the instance: run, step key, status, seconds (empty when no runs)."""
    if not (dagster_home / "dagster.yaml").exists() and not (dagster_home / "storage").exists():
        return []
    import dagster as dg

    out = []
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        for rec in instance.get_run_records():
            run = rec.dagster_run
            for st in instance.get_run_step_stats(run.run_id):
                secs = (st.end_time - st.start_time) if st.end_time and st.start_time else None
                out.append({"run_id": run.run_id[:8], "job": run.job_name, "step": st.step_key,
                            "status": str(st.status.value if st.status else None),
                            "seconds": round(secs, 3) if secs is not None else None})
    return out


def dbt_nodes(target_root: Path) -> list[dict[str, Any]]:
    """Per dbt node of every run_results.json under ``target_root``: type, name, status, execution seconds."""
    out = []
    for f in sorted(target_root.rglob("run_results.json")):
        res = json.loads(f.read_text())
        for r in res.get("results", []):
            uid = r["unique_id"]
            out.append({"node": uid, "type": uid.split(".", 1)[0], "status": r.get("status"),
                        "seconds": round(float(r.get("execution_time") or 0.0), 3)})
    return out


# The lines the CLI prints when a phase ends (pipelines/cli.py `import_`): seconds between them are phases.
PHASE_MARKERS = (("import", re.compile(r"^imported \d+ prediction rows")),
                 ("dbt_build", re.compile(r"^warehouse rebuilt")),
                 ("reports", re.compile(r"new report version")))


def cli_phases(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds per phase from the arrival times of the CLI's phase-end lines (stops at the first one missing).
    Only for a CLI that runs the phases itself; one that submits Dagster runs prints these lines at the end,
    and its phases are the runs' steps (``dagster_steps``)."""
    out, prev = {}, 0.0
    for name, pattern in PHASE_MARKERS:
        hit = next((t for t, line in lines if pattern.search(line)), None)
        if hit is None or hit < prev:
            break
        out[name] = round(hit - prev, 2)
        prev = hit
    return out


def run_size(real: pd.DataFrame, n_models: int, work: Path, poll: float, timeout: float,
             repo: Path = ROOT) -> dict[str, Any]:
    folder = work / f"models_{n_models:04d}"
    if folder.exists():
        shutil.rmtree(folder)
    home = folder / "home"
    (home / "dagster_home").mkdir(parents=True)
    matrix = synthetic_matrix(real, n_models)
    path = folder / f"helm_synthetic_{n_models}models_mmlu_item_matrix.csv"
    matrix.to_csv(path, index=False)
    n_items = len(matrix)
    env = {**os.environ, "BENCHTRUST_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home"),
           "DBT_TARGET_PATH": str(home / "dbt_target"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
           + os.environ.get("PATH", "")}
    for k in ("BENCHTRUST_LAKE", "BENCHTRUST_WAREHOUSE"):  # derived from BENCHTRUST_HOME by the CLI
        env.pop(k, None)
    time_file = folder / "time.txt"
    cmd = ["/usr/bin/time", "-f", "%M %e", "-o", str(time_file),
           sys.executable, "-m", "pipelines.cli", "import", "helm", str(path)]
    log = folder / "cli.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()
    lines: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
        sampler = TreeSampler(proc.pid, poll)
        sampler.start()

        def read() -> None:  # every output line with the second it arrived at
            for line in proc.stdout:  # type: ignore[union-attr]
                t = time.perf_counter() - t0
                lines.append((round(t, 2), line.rstrip()))
                fh.write(f"[{t:8.2f}s] {line}")
                fh.flush()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
                p.kill()
            proc.wait()
            rc = -9
        reader.join(timeout=30)
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tail = log.read_text(errors="replace")[-3000:]
    timed = time_file.read_text().split() if time_file.exists() else []
    max_kb = timed[-2] if len(timed) >= 2 and timed[-2].isdigit() else "0"
    steps = dagster_steps(home / "dagster_home")
    return {
        "models": n_models, "items": n_items, "rows": n_models * n_items, "rc": rc, "timed_out": rc == -9,
        "matrix_mb": round(path.stat().st_size / 2**20, 2),
        "wall_s": round(wall, 2), "cpu_s": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 2),
        "peak_tree_rss_mb": round(sampler.peak_sum / 2**20, 1),
        "max_process_rss_mb": round(int(max_kb) / 1024, 1),
        "max_process_rss_mb_polled": round(sampler.peak_single / 2**20, 1),
        "max_processes": sampler.max_procs, "rss_samples": sampler.samples,
        "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        # a CLI that follows Dagster runs prints its summary at the end: its steps are the phases then
        "phases_from_cli_output": cli_phases(lines) if not steps else {},
        "dagster_steps": steps,
        "dbt_nodes": dbt_nodes(home / "dbt_target"),
        "cli_log_tail": tail[-1500:],
    }


# ------------------------------------------------------------------------------------------------ analysis
def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log10(y) on log10(x) (None with fewer than 2 usable points)."""
    pts = [(math.log10(x), math.log10(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    return float(np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)[0])


def per_10x(b: float | None) -> float | None:
    return round(10 ** b, 2) if b is not None else None


def growth(runs: list[dict[str, Any]], key: str, name: str, min_seconds: float = 0.25) -> list[dict[str, Any]]:
    """For each step / node seen at every size: seconds per size, slope and cost ratio per 10x, fastest first.
    Parts under ``min_seconds`` at the largest size are left out (their slope is noise), and so are dbt unit
    tests (fixed inputs: their time does not depend on the data)."""
    rows = [r["rows"] for r in runs]
    table: dict[str, list[float]] = {}
    for i, r in enumerate(runs):
        for part in r[key]:
            if part["seconds"] is None or str(part[name]).startswith("unit_test."):
                continue
            vals = table.setdefault(part[name], [0.0] * len(runs))
            vals[i] += part["seconds"]
    out = []
    for part, secs in table.items():
        if min(secs) <= 0 or secs[-1] < min_seconds:
            continue
        b = slope(rows, secs)
        out.append({name: part, "seconds": secs, "slope": round(b, 3) if b is not None else None,
                    "cost_per_10x": per_10x(b), "share_of_largest": None})
    total_last = sum(o["seconds"][-1] for o in out) or 1.0
    for o in out:
        o["share_of_largest"] = round(o["seconds"][-1] / total_last, 3)
    return sorted(out, key=lambda o: -(o["slope"] or 0))


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r["rows"] for r in runs]
    out: dict[str, Any] = {"span": round(rows[-1] / rows[0], 1)}
    for metric in ("wall_s", "cpu_s", "peak_tree_rss_mb", "max_process_rss_mb"):
        b = slope(rows, [r[metric] for r in runs])
        out[metric] = {"slope": round(b, 3) if b is not None else None, "cost_per_10x": per_10x(b),
                       "step_ratios": [round(runs[i + 1][metric] / runs[i][metric], 2) for i in range(len(runs) - 1)
                                       if runs[i][metric]]}
    out["cli_phases_growth"] = growth([{**r, "_p": [{"phase": k, "seconds": v} for k, v in
                                                     r["phases_from_cli_output"].items()]} for r in runs], "_p", "phase")
    out["dagster_steps_growth"] = growth(runs, "dagster_steps", "step")
    out["dbt_nodes_growth"] = growth(runs, "dbt_nodes", "node")
    return out


def plot(runs: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.array([r["rows"] for r in runs], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    panels = [("wall_s", "wall time (s)", [("wall_s", "wall"), ("cpu_s", "CPU (tree)")]),
              ("peak_tree_rss_mb", "peak memory (MiB)", [("peak_tree_rss_mb", "RSS summed over the tree"),
                                                         ("max_process_rss_mb", "largest process")])]
    for ax, (_, ylabel, series) in zip(axes, panels):
        for metric, label in series:
            ys = np.array([r[metric] for r in runs], dtype=float)
            b = summary[metric]["slope"]
            ax.loglog(rows, ys, "o-", label=f"{label}: x{summary[metric]['cost_per_10x']} per 10x work"
                      if b is not None else label)
            for x, y, r in zip(rows, ys, runs):
                ax.annotate(f"{r['models']}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
        if len(rows) > 1:  # a linear reference through the first point
            first = runs[0][series[0][0]]
            ax.loglog(rows, first * rows / rows[0], ":", color="grey", label="linear")
        ax.set_xlabel("prediction rows (models x items; points labelled by models)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("benchtrust import helm (+ dbt build + reports), synthetic models from the HELM MMLU matrix",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100, 300], help="numbers of synthetic models")
    ap.add_argument("--items", type=int, default=None, help="use only the first N items (default: all)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for scaling.json and scaling.png")
    ap.add_argument("--workdir", type=Path, default=None, help="matrices, homes and logs (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--poll", type=float, default=0.1, help="RSS polling interval, seconds")
    ap.add_argument("--timeout", type=float, default=6 * 3600, help="per size, seconds")
    ap.add_argument("--repo", type=Path, default=ROOT,
                    help="checkout whose CLI is measured (default this one), e.g. an exported commit "
                         "(`git archive COMMIT | tar -x -C DIR`); `python -m pipelines.cli` runs with it as cwd")
    args = ap.parse_args(argv)
    if not HELM.exists():
        sys.exit(f"{HELM} not found: the HELM MMLU matrix is needed (../shared/external-data relative to the repo)")
    sizes = sorted(set(args.sizes))
    real = pd.read_csv(HELM, dtype=str, keep_default_na=False)
    if args.items:
        real = real.head(args.items)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="benchtrust-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    try:
        for n in sizes:
            print(f"{n} models x {len(real)} items ...", flush=True)
            r = run_size(real, n, work, args.poll, args.timeout, args.repo.resolve())
            print(f"  wall {r['wall_s']} s, CPU {r['cpu_s']} s, peak tree RSS {r['peak_tree_rss_mb']} MiB, "
                  f"largest process {r['max_process_rss_mb']} MiB, load {r['loadavg_1m_before_after']}", flush=True)
            if r["rc"] != 0:  # kept in the JSON (phases and steps reached so far), left out of the fit; stop here
                print(f"  FAILED: exit {r['rc']}" + (" (--timeout)" if r["timed_out"] else "")
                      + f"; CLI output ends:\n{r['cli_log_tail'][-1200:]}", flush=True)
                failed.append(r)
                break
            runs.append(r)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    summary = summarize(runs) if len(runs) > 1 else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.repo, capture_output=True,
                            text=True).stdout.strip() or None
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=args.repo,
                                capture_output=True, text=True).stdout.strip()) if commit else None
    result = {
        "benchmark": "scaling of `benchtrust import helm` + dbt build + reports",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "platform": platform.platform(), "python": platform.python_version()},
        "git": {"repo": str(args.repo.resolve()), "commit": commit, "dirty_tracked_files": dirty},
        "source": str(HELM.relative_to(EXTERNAL.parent)),
        "method": "synthetic model k = real model k%10 with a seeded 5-30% of items answered as another real model; "
                  "fresh BENCHTRUST_HOME per size; wall = subprocess wall time; peak_tree_rss = polled RSS sum over "
                  "the process tree; max_process_rss = /usr/bin/time %M",
        "runs": runs, "failed": failed, "summary": summary,
    }
    (args.out / "scaling.json").write_text(json.dumps(result, indent=1) + "\n")
    if len(runs) > 1:
        plot(runs, summary, args.out / "scaling.png")
        print(f"span {summary['span']}x rows; cost per 10x of work: wall x{summary['wall_s']['cost_per_10x']}, "
              f"peak tree RSS x{summary['peak_tree_rss_mb']['cost_per_10x']}")
        for kind in ("cli_phases_growth", "dagster_steps_growth", "dbt_nodes_growth"):
            for g in summary[kind][:5]:
                print(f"  {kind.split('_growth')[0]}: {g.get('phase') or g.get('step') or g.get('node')}: {g['seconds']} s, "
                      f"slope {g['slope']} (x{g['cost_per_10x']} per 10x)")
    print(f"wrote {args.out / 'scaling.json'}" + (f" and {args.out / 'scaling.png'}" if len(runs) > 1 else ""))
    if failed:
        sys.exit(f"stopped at {failed[0]['models']} models (exit {failed[0]['rc']}); sizes done: {[r['models'] for r in runs]}")


if __name__ == "__main__":
    main()
