"""A small real DuckDB warehouse with the mart tables the benchmark page reads (reliability_report,
model_comparisons, ranking_stability, item_audit, stg_lake__items), built from simulated item outcomes: the
comparison rows carry the exact McNemar p-value (scipy's binomial) and the mart's normal-approximation MDE, so
the page formats real numbers. Shared by tests/unit/test_benchmark_page.py and benchmarks/benchmark_page.py."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

Z_A, Z_B = 1.959963984540054, 0.8416212335729143


def comparison_rows(models: list[dict], outcomes: dict[str, np.ndarray], benchmark: str) -> pd.DataFrame:
    """Every pair of latest model reports (model_a < model_b), compared on the items of their dataset version
    when both have the same one, else with no shared item — as marts.model_comparisons does."""
    rows = []
    ms = sorted(models, key=lambda m: m["model"])
    for i, a in enumerate(ms):
        for b in ms[i + 1 :]:
            shared = a["dataset_version"] == b["dataset_version"]
            xa, xb = outcomes[a["model"]], outcomes[b["model"]]
            n = len(xa) if shared else 0
            both = int((xa & xb).sum()) if shared else 0
            oa = int((xa & ~xb).sum()) if shared else 0
            ob = int((~xa & xb).sum()) if shared else 0
            rows.append(
                {
                    "model_a": a["model"],
                    "model_b": b["model"],
                    "report_version_a": a["report_version"],
                    "report_version_b": b["report_version"],
                    "n_shared": n,
                    "n_both_correct": both,
                    "n_only_a": oa,
                    "n_only_b": ob,
                    "n_neither": n - both - oa - ob,
                }
            )
    return finish_comparisons(pd.DataFrame(rows), benchmark)


def finish_comparisons(df: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Accuracies, delta, agreement, exact McNemar p (NULL without shared items) and the normal-approximation
    MDE / power of marts.model_comparisons, from the 2×2 counts."""
    n = df["n_shared"].to_numpy(float)
    oa, ob = df["n_only_a"].to_numpy(float), df["n_only_b"].to_numpy(float)
    both = df["n_both_correct"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc_a, acc_b = np.where(n > 0, (both + oa) / n, np.nan), np.where(n > 0, (both + ob) / n, np.nan)
        d = np.where(n > 0, (oa + ob) / n, np.nan)
        delta = np.where(n > 0, (ob - oa) / n, np.nan)
        p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(oa, ob), oa + ob, 0.5))
        p = np.where(oa + ob == 0, 1.0, p)
        mde = np.where(
            d > 0,
            np.sqrt(d) * (np.sqrt(n) * Z_A + Z_B * np.sqrt(np.maximum(n - Z_A**2 + Z_B**2, 0))) / (n + Z_B**2),
            np.nan,
        )
        power = stats.norm.cdf((np.abs(delta) * np.sqrt(n) - Z_A * np.sqrt(d)) / np.sqrt(d - delta**2))
    return df.assign(
        comparison="models",
        benchmark=benchmark,
        acc_a=acc_a,
        acc_b=acc_b,
        delta=delta,
        agreement=1 - d,
        mcnemar_p=np.where(n > 0, p, np.nan),
        mde_normal=mde,
        power_normal=np.where((delta != 0) & (d - delta**2 > 0), power, np.nan),
    )


def build(
    path: Path, versions: dict[str, list[str]], n_items: int = 200, seed: int = 0, benchmark: str = "bench"
) -> Path:
    """A warehouse at ``path`` with ``versions`` = {dataset_version: [models]}: model k answers each item right
    with a probability that falls with k, so neighbours are close and distant models differ significantly."""
    rng = np.random.default_rng(seed)
    models, outcomes, stab, audit, items = [], {}, [], [], []
    for dv, names in versions.items():
        for k, m in enumerate(names):
            x = rng.random(n_items) < (0.85 - 0.05 * k)
            outcomes[m] = x
            models.append(
                {
                    "model": m,
                    "model_version": f"mv-{m}",
                    "benchmark": benchmark,
                    "dataset_version": dv,
                    "report_version": f"rv{len(models):03d}",
                    "accuracy": x.mean(),
                    "n_scored": n_items,
                    "n_items": n_items,
                    "is_latest": True,
                }
            )
            stab.append(
                {
                    "benchmark": benchmark,
                    "dataset_version": dv,
                    "model": m,
                    "report_version": f"rv{k}",
                    "accuracy": x.mean(),
                    "rank": k + 1,
                    "p_top1": 1.0 if k == 0 else 0.0,
                    "mean_rank": k + 1.0,
                    "rank_q025": k + 1.0,
                    "rank_q975": k + 1.0,
                    "n_items": n_items,
                    "n_items_dropped": 0,
                    "reps": 100,
                    "seed": 0,
                    "tau_mean": 0.9,
                    "tau_q025": 0.8,
                    "tau_median": 0.9,
                    "tau_q975": 1.0,
                    "leader": names[0],
                    "p_top1_change": 0.0,
                    "lomo_p_top1_change": 0.0,
                }
            )
        for i in range(n_items):
            votes = dict.fromkeys(names, "B")
            audit.append(
                {
                    "benchmark": benchmark,
                    "dataset_version": dv,
                    "item_id": f"{dv}-i{i}",
                    "subject": "s",
                    "n_models": float(len(names)),
                    "label_error_posterior": 0.9 if i < 3 else 0.1,
                    "label_error_posterior_rank": i + 1,
                    "is_label_error_candidate": i < 3,
                    "suggested_answer": "B",
                    "suggested_answer_posterior": 0.9,
                    "share_choosing_gold": 0.0,
                    "share_agreeing_wrong": 1.0,
                    "label_error_votes": json.dumps(votes),
                }
            )
            items.append({"benchmark": benchmark, "dataset_version": dv, "item_id": f"{dv}-i{i}", "gold": "A"})
    rep = pd.DataFrame(models)
    rep["ci_low"], rep["ci_high"] = rep["accuracy"] - 0.05, rep["accuracy"] + 0.05
    return write(
        path,
        rep,
        comparison_rows(models, outcomes, benchmark),
        pd.DataFrame(stab),
        pd.DataFrame(audit),
        pd.DataFrame(items),
    )


def write(
    path: Path, rep: pd.DataFrame, comps: pd.DataFrame, stab: pd.DataFrame, audit: pd.DataFrame, items: pd.DataFrame
) -> Path:
    """The frames as the mart tables (item_audit.n_models stays DOUBLE, as an older warehouse has it)."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema staging")
    for name, df in (
        ("marts.reliability_report", rep),
        ("marts.model_comparisons", comps),
        ("marts.ranking_stability", stab),
        ("marts.item_audit", audit),
        ("staging.stg_lake__items", items),
    ):
        con.register("frame", df)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    con.close()
    return path


def build_large(path: Path, n_models: int, n_items: int, seed: int = 0, benchmark: str = "bench") -> Path:
    """``n_models`` models on one dataset version of ``n_items`` items, the comparisons drawn from their 2×2
    counts directly (no per-item outcomes: 300 models are 44,850 pairs)."""
    rng = np.random.default_rng(seed)
    names = [f"model-{k:03d}" for k in range(n_models)]
    acc = np.sort(rng.uniform(0.4, 0.9, n_models))[::-1]
    rep = pd.DataFrame(
        {
            "model": names,
            "model_version": [f"mv-{m}" for m in names],
            "benchmark": benchmark,
            "dataset_version": "dv",
            "report_version": [f"rv{k:03d}" for k in range(n_models)],
            "accuracy": acc,
            "n_scored": n_items,
            "n_items": n_items,
            "is_latest": True,
        }
    )
    rep["ci_low"], rep["ci_high"] = rep["accuracy"] - 0.01, rep["accuracy"] + 0.01
    ia, ib = np.triu_indices(n_models, k=1)
    disc = rng.integers(n_items // 10, n_items // 4, len(ia))
    oa = np.clip(np.round(disc * (0.5 + (acc[ia] - acc[ib]) * 2)), 0, disc).astype(int)
    ob = disc - oa
    both = ((n_items - disc) * acc[ia]).astype(int)
    comps = pd.DataFrame(
        {
            "model_a": np.array(names)[ia],
            "model_b": np.array(names)[ib],
            "report_version_a": rep["report_version"].to_numpy()[ia],
            "report_version_b": rep["report_version"].to_numpy()[ib],
            "n_shared": n_items,
            "n_both_correct": both,
            "n_only_a": oa,
            "n_only_b": ob,
            "n_neither": n_items - both - oa - ob,
        }
    )
    stab = pd.DataFrame(
        {
            "benchmark": benchmark,
            "dataset_version": "dv",
            "model": names,
            "report_version": rep["report_version"],
            "accuracy": acc,
            "rank": range(1, n_models + 1),
            "p_top1": 0.0,
            "mean_rank": 1.0,
            "rank_q025": 1.0,
            "rank_q975": 2.0,
            "n_items": n_items,
            "n_items_dropped": 0,
            "reps": 100,
            "seed": 0,
            "tau_mean": 0.9,
            "tau_q025": 0.8,
            "tau_median": 0.9,
            "tau_q975": 1.0,
            "leader": names[0],
            "p_top1_change": 0.0,
            "lomo_p_top1_change": 0.0,
        }
    )
    audit = pd.DataFrame(
        {
            "benchmark": benchmark,
            "dataset_version": "dv",
            "item_id": ["i0"],
            "subject": "s",
            "n_models": n_models,
            "label_error_posterior": 0.9,
            "label_error_posterior_rank": 1,
            "is_label_error_candidate": True,
            "suggested_answer": "B",
            "suggested_answer_posterior": 0.9,
            "share_choosing_gold": 0.0,
            "share_agreeing_wrong": 1.0,
            "label_error_votes": json.dumps({names[0]: "B"}),
        }
    )
    items = pd.DataFrame({"benchmark": [benchmark], "dataset_version": ["dv"], "item_id": ["i0"], "gold": ["A"]})
    return write(path, rep, finish_comparisons(comps, benchmark), stab, audit, items)
