"""How long do the prediction contracts take on a large run?

Validates 100,000 synthetic prediction rows (the real ``PREDICTION_COLUMNS`` schema: 5,000 multiple-choice
items × 2 templates × 10 answer-order permutations, 4 options each, 0.1 % of rows broken) through
``split_predictions`` (row rules → quarantine) and ``validate(df, "predictions")`` (the GX suite, with the
known-version and orphan parameters filled in). Reports separately:

* ``gx_import_s``     importing great-expectations (once per process)
* ``first_call_s``    the first ``validate`` (GX context, data source, first batch) minus the import
* ``steady_state_s``  median of later ``validate`` calls; ``split_s`` the same for ``split_predictions``

Target: split + steady-state validation under 5 s on the 2-core development machine.

    python benchmarks/contracts_validation.py [--rows 100000] [--repeats 3]

Writes ``benchmarks/results/contracts_validation.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def synthetic(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    from benchtrust.inference.runner import PREDICTION_COLUMNS, rows_to_frame

    rng = np.random.default_rng(seed)
    n_templates, n_perms = 2, 10
    n_items = max(1, n_rows // (n_templates * n_perms))
    items = pd.DataFrame(
        {
            "item_id": [f"subj_{i % 57:02d}-{i:05d}" for i in range(n_items)],
            "item_hash": [f"{i:016x}" for i in range(n_items)],
            "dataset_version": "ds0123456789abcd",
        }
    )
    t_idx = np.repeat(np.arange(n_templates), n_items * n_perms)[:n_rows]
    p_idx = np.tile(np.repeat(np.arange(n_perms), n_items), n_templates)[:n_rows]
    i_idx = np.tile(np.arange(n_items), n_templates * n_perms)[:n_rows]
    n = len(i_idx)
    logits = rng.normal(size=(n, 4))
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    gold = rng.integers(0, 4, n)
    pred = lp.argmax(axis=1)
    rows = {
        "cell_key": [f"{k:024x}" for k in range(n)],
        "model": "smollm2-135m-instruct",
        "model_version": "mv0123456789",
        "benchmark": "mmlu",
        "dataset_version": "ds0123456789abcd",
        "grid_version": "gv01",
        "item_id": items["item_id"].to_numpy()[i_idx],
        "item_hash": items["item_hash"].to_numpy()[i_idx],
        "task_type": "multiple_choice",
        "template_id": np.array(["mmlu_harness", "mmlu_paren"])[t_idx],
        "is_primary": p_idx == 0,
        "is_headline": (t_idx == 0) & (p_idx == 0),
        "n_fewshot": 0,
        "fewshot_seed": 0,
        "permutation_seed": p_idx,
        "decoding": "loglikelihood",
        "temperature": 0.0,
        "top_p": 1.0,
        "sample_idx": 0,
        "prediction": np.array(list("ABCD"))[pred],
        "predicted_index": pred,
        "gold": np.array(list("ABCD"))[gold],
        "is_correct": pred == gold,
        "score": lp.max(axis=1),
        "p_correct": np.exp(lp[np.arange(n), gold]),
        "logprob_gold": lp[np.arange(n), gold],
        "option_logprobs": list(lp),
        "token_logprobs": [[float(x)] for x in lp[:, 0]],
        "generation": None,
        "device": "cpu",
        "dtype": "float32",
        "attn_implementation": "sdpa",
        "batch_tokens": 4096,
        "library_versions": '{"torch": "2.13.0"}',
        "computed_at": pd.Timestamp("2025-01-01", tz="UTC"),
    }
    df = pd.DataFrame(rows).reindex(columns=PREDICTION_COLUMNS)  # a column added to the schema later stays empty
    df = rows_to_frame(df.to_dict("records")) if n <= 2000 else _cast(df)
    # 0.1 % broken rows, as a real run with a numerically unstable model might have
    bad = rng.choice(n, size=max(1, n // 1000), replace=False)
    df.loc[bad[0::3], "logprob_gold"] = np.nan
    df.loc[bad[1::3], "p_correct"] = -0.25
    df.loc[bad[2::3], "item_id"] = "no-such-item"
    return df, items


def _cast(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("n_fewshot", "fewshot_seed", "permutation_seed", "sample_idx", "predicted_index", "batch_tokens"):
        df[c] = df[c].astype("Int64")
    df["is_correct"] = df["is_correct"].astype("boolean")
    for c in ("temperature", "top_p", "score", "p_correct", "logprob_gold"):
        df[c] = df[c].astype("float64")
    return df


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "contracts_validation.json"))
    args = ap.parse_args()

    df, items = synthetic(args.rows)
    t0 = time.perf_counter()
    import great_expectations  # noqa: F401

    gx_import = time.perf_counter() - t0
    from data_contracts import split_predictions, validate

    params = {"models": ["smollm2-135m-instruct"], "model_versions": ["mv0123456789"]}
    splits, validations = [], []
    good = quarantine = result = None
    for _ in range(args.repeats + 1):
        t = time.perf_counter()
        good, quarantine = split_predictions(df, items, source="synthetic")
        splits.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = validate(good, "predictions", items=items, params={**params, "n_quarantined": len(quarantine)})
        validations.append(time.perf_counter() - t)
    assert result is not None and result.success, result.summary()
    steady_split = statistics.median(splits[1:])
    steady_validate = statistics.median(validations[1:])
    out = {
        "rows": len(df),
        "good_rows": len(good),
        "quarantined_rows": len(quarantine),
        "quarantine_rules": quarantine["rule"].value_counts().to_dict(),
        "expectations_run": result.n_expectations,
        "gx_import_s": round(gx_import, 3),
        "first_call_s": {"split": round(splits[0], 3), "validate": round(validations[0], 3)},
        "first_call_overhead_s": round(validations[0] - steady_validate, 3),
        "steady_state_s": {
            "split": round(steady_split, 3),
            "validate": round(steady_validate, 3),
            "total": round(steady_split + steady_validate, 3),
        },
        "cold_total_s": round(gx_import + splits[0] + validations[0], 3),
        "target_s": 5.0,
        "meets_target": bool(steady_split + steady_validate < 5.0),
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "versions": {m: __import__(m).__version__ for m in ("great_expectations", "pandas", "numpy", "pyarrow")},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
