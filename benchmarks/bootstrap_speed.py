"""How long do 10,000 item-bootstrap resamples of a 10-model × 14,000-item leaderboard take?

Times :func:`benchtrust.stats.bootstrap_accuracy` and :func:`benchtrust.stats.ranking_stability` (which
draws the same bootstrap, then Kendall τ-b of every replicate and the leave-one-model-out flips) with
10,000 replicates on

* ``synthetic``: 10 models × 14,000 items, correlated 0/1 correctness (logistic in model ability minus
  item difficulty, seed 0, accuracies ≈ 0.6–0.85);
* ``helm_mmlu`` (when ``../shared/external-data`` is present): the real 10 HELM models × 14,014 MMLU
  items (imported with ``benchtrust.importers``; ``leaderboard_stability`` timed too, it adds the
  per-model rank distribution).

Each timing is the best and the median of ``--repeats`` runs in this process (numpy warmed up by the
first).  Target: under 5 s for ``ranking_stability`` on the 2-core development machine.

    python benchmarks/bootstrap_speed.py [--reps 10000] [--repeats 3]

Writes ``benchmarks/results/bootstrap_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchtrust.stats import bootstrap_accuracy, ranking_stability  # noqa: E402

EXTERNAL = ROOT.parent / "shared" / "external-data"
HELM = EXTERNAL / "helm_mmlu" / "helm_10models_mmlu_item_matrix.csv"
RESULT = ROOT / "benchmarks" / "results" / "bootstrap_speed.json"
TARGET_S = 5.0


def synthetic(n_models: int = 10, n_items: int = 14_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ability = np.linspace(0.5, 1.8, n_models)
    difficulty = rng.normal(0.0, 1.5, n_items)
    p = 1.0 / (1.0 + np.exp(-(ability[:, None] - difficulty[None, :])))
    return (rng.random((n_models, n_items)) < p).astype(np.int8)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return {
        "best_s": round(min(times), 4),
        "median_s": round(statistics.median(times), 4),
        "runs_s": [round(t, 4) for t in times],
    }, out


def bench(x: np.ndarray, reps: int, repeats: int) -> dict[str, Any]:
    n_patterns = int(np.unique(x.T, axis=0).shape[0])
    t_boot, boot = timed(lambda: bootstrap_accuracy(x, reps=reps, seed=0), repeats)
    t_rank, rs = timed(lambda: ranking_stability(x, reps=reps, seed=0), repeats)
    return {
        "n_models": int(x.shape[0]),
        "n_items": int(x.shape[1]),
        "reps": reps,
        "distinct_patterns": n_patterns,
        "accuracy": [round(float(a), 4) for a in x.mean(axis=1)],
        "bootstrap_accuracy": t_boot,
        "ranking_stability": t_rank,
        "bootstrap_sd": [round(float(s), 5) for s in boot.std(axis=0)],
        "tau_mean": round(rs.tau_mean, 4),
        "p_top1_change": round(rs.p_top1_change, 4),
        "meets_target": t_rank["median_s"] < TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args(argv)

    bootstrap_accuracy(synthetic(3, 100), reps=10, seed=0)  # warm-up
    result: dict[str, Any] = {
        "target_s": TARGET_S,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "cases": {"synthetic": bench(synthetic(), args.reps, args.repeats)},
    }
    if HELM.exists():
        from benchtrust.audits import correctness_matrix, leaderboard_stability
        from benchtrust.importers import import_predictions

        t0 = time.perf_counter()
        imp = import_predictions("helm", HELM)
        t_import = time.perf_counter() - t0
        cm = correctness_matrix(imp.predictions)
        case = bench(cm.values.astype(np.int8), args.reps, args.repeats)
        t_lb, _ = timed(lambda: leaderboard_stability(imp.predictions, reps=args.reps, seed=0), args.repeats)
        case.update(models=cm.models, import_s=round(t_import, 3), leaderboard_stability=t_lb)
        result["cases"]["helm_mmlu"] = case
    result["meets_target"] = all(c["meets_target"] for c in result["cases"].values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, c in result["cases"].items():
        extra = (
            f", leaderboard_stability {c['leaderboard_stability']['median_s']:.3f} s"
            if "leaderboard_stability" in c
            else ""
        )
        print(
            f"{name:10s} {c['n_models']}×{c['n_items']} reps={c['reps']} patterns={c['distinct_patterns']}: "
            f"bootstrap_accuracy {c['bootstrap_accuracy']['median_s']:.3f} s, "
            f"ranking_stability {c['ranking_stability']['median_s']:.3f} s{extra}"
        )
    print(f"target < {TARGET_S} s: {'met' if result['meets_target'] else 'MISSED'}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
