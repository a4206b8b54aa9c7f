"""Row rules for predictions: bad rows go to quarantine with a reason, good rows flow on.

:func:`split_predictions` runs *before* the ``predictions`` suite. A row that breaks a row rule is set
aside (one quarantine row per bad prediction row, naming the first rule it breaks, in this order):

==========================  ===========================================================================
``missing_value``           a key column (cell_key, model, model_version, dataset_version, item_id,
                            template_id) is null or empty
``duplicate_cell``          the cell_key already appeared on an earlier row (the first one is kept)
``unknown_dataset_version`` the row's dataset_version is not one of the items table's
``unknown_item``            the item id is not in the items table (an orphan prediction)
``stale_item_hash``         the item exists but its content hash differs (a prediction of an older text)
``nonfinite_logprob``       logprob_gold or an option log-probability is NaN or ±inf (or a
                            multiple-choice row has none)
``positive_logprob``        a log-probability above 0 (beyond float rounding, ``LOGPROB_TOLERANCE``)
``nonfinite_probability``   p_correct is NaN or ±inf on a multiple-choice row
``probability_out_of_range`` p_correct below 0 or above 1
==========================  ===========================================================================

Whole-table problems (missing columns, an unknown model version, a wrong decoding label on every row,
more than half the rows quarantined) are not row rules: the suite fails and blocks downstream.

Each quarantine row names ``source_file`` (where the rows came from: the prediction cache, an imported
file) and ``source_row`` (1-based position in that source, or its own ``source_row`` column), the
``rule``, a ``detail`` and the offending ``value``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.derive import MC, list_float_stats
from data_contracts.suites import LOGPROB_TOLERANCE, PROBABILITY_TOLERANCE

PREDICTION_QUARANTINE_COLUMNS = [
    "benchmark",
    "dataset_version",
    "model",
    "model_version",
    "source_file",
    "source_row",
    "cell_key",
    "item_id",
    "template_id",
    "rule",
    "detail",
    "value",
    "raw",
]
KEY_COLUMNS = ["cell_key", "model", "model_version", "dataset_version", "item_id", "template_id"]
RULES = [
    "missing_value",
    "duplicate_cell",
    "unknown_dataset_version",
    "unknown_item",
    "stale_item_hash",
    "nonfinite_logprob",
    "positive_logprob",
    "nonfinite_probability",
    "probability_out_of_range",
    "item_not_in_benchmark",  # set by the import (benchtrust.importers.canonical), not by split_predictions
]


def find_orphans(predictions: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Prediction rows whose (dataset_version, item_id) is not in the items table, with a ``reason``
    (``unknown_dataset_version`` or ``unknown_item``)."""
    has_dv = "dataset_version" in predictions.columns and "dataset_version" in items.columns
    known_dv = set(items["dataset_version"].astype(str)) if has_dv else set()
    if has_dv:
        keys = set(zip(items["dataset_version"].astype(str), items["item_id"].astype(str)))
        pk = list(zip(predictions["dataset_version"].astype(str), predictions["item_id"].astype(str)))
        known = np.fromiter((k in keys for k in pk), bool, len(pk))
        dv_known = predictions["dataset_version"].astype(str).isin(known_dv).to_numpy()
    else:
        known = predictions["item_id"].astype(str).isin(set(items["item_id"].astype(str))).to_numpy()
        dv_known = np.ones(len(predictions), bool)
    out = predictions.loc[~known].copy()
    out["reason"] = np.where(dv_known[~known], "unknown_item", "unknown_dataset_version")
    return out


def _text_present(col: pd.Series) -> np.ndarray:
    s = col.astype("string")
    return (s.notna() & (s.str.strip() != "")).fillna(False).to_numpy(dtype=bool)


def _numeric(df: pd.DataFrame, c: str) -> np.ndarray:
    if c not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_fmt(float(x)) if isinstance(x, (int, float, np.floating)) else str(x) for x in v) + "]"
    return str(v)[:200]


class _Marks:
    """The first rule each row breaks (rule, detail, offending value); later rules leave a marked row alone."""

    def __init__(self, n: int) -> None:
        self.rule = np.full(n, "", dtype=object)
        self.detail = np.full(n, "", dtype=object)
        self.value = np.full(n, None, dtype=object)

    def mark(self, mask: np.ndarray, name: str, det: Any, val: Any) -> None:
        new = mask & (self.rule == "")
        if not new.any():
            return
        idx = np.flatnonzero(new)
        self.rule[idx] = name
        for i in idx:
            self.detail[i] = det(i) if callable(det) else det
            self.value[i] = val(i) if callable(val) else val


def _mark_keys(df: pd.DataFrame, m: _Marks) -> None:
    """Key columns present and non-empty; one row per cell_key (the first wins)."""
    for c in KEY_COLUMNS:
        if c in df.columns:
            m.mark(~_text_present(df[c]), "missing_value", f"{c} is null or empty", lambda i, c=c: _fmt(df[c].iloc[i]))
    if "cell_key" in df.columns:
        dup = df["cell_key"].duplicated(keep="first").to_numpy() & (m.rule == "")
        if dup.any():
            first = {k: i for i, k in reversed(list(enumerate(df["cell_key"])))}
            m.mark(
                dup,
                "duplicate_cell",
                lambda i: f"cell_key already on row {first[df['cell_key'].iloc[i]] + 1}",
                lambda i: str(df["cell_key"].iloc[i]),
            )


def _mark_items(df: pd.DataFrame, items: pd.DataFrame | None, m: _Marks) -> None:
    """Rows whose dataset version or item is not in the items table, or whose item hash is stale."""
    n = len(df)
    if items is not None and len(df) and "item_id" in df.columns:
        orphans = find_orphans(df.reset_index(drop=True), items)
        for reason in ("unknown_dataset_version", "unknown_item"):
            mask = np.zeros(n, bool)
            mask[orphans.index[orphans["reason"] == reason].to_numpy()] = True
            col = "dataset_version" if reason == "unknown_dataset_version" else "item_id"
            what = "the items table's dataset versions" if col == "dataset_version" else "the items table"
            m.mark(mask, reason, f"{col} not in {what}", lambda i, col=col: str(df[col].iloc[i]))
        if "item_hash" in df.columns and "item_hash" in items.columns:
            hashes = dict(zip(items["item_id"].astype(str), items["item_hash"].astype(str)))
            expect = df["item_id"].astype(str).map(hashes)
            stale = (expect.notna() & df["item_hash"].notna() & (df["item_hash"].astype(str) != expect)).to_numpy()
            m.mark(
                stale,
                "stale_item_hash",
                lambda i: f"item_hash differs from the item's {expect.iloc[i]}",
                lambda i: str(df["item_hash"].iloc[i]),
            )


def _mark_scores(df: pd.DataFrame, m: _Marks) -> None:
    """Log-probabilities finite and ≤ 0 (owed by log-likelihood multiple-choice rows), p_correct in [0, 1]."""
    n = len(df)
    is_mc = (df["task_type"] == MC).to_numpy(dtype=bool) if "task_type" in df.columns else np.zeros(n, bool)
    # scores are owed only by options scored by log-likelihood (see derive.predictions); a generated
    # multiple-choice answer has none, and that is not a defect
    if "decoding" in df.columns:
        is_mc = is_mc & df["decoding"].eq("loglikelihood").to_numpy(dtype=bool)
    lp = _numeric(df, "logprob_gold")
    lp_bad = np.where(is_mc, ~np.isfinite(lp), ~np.isnan(lp) & ~np.isfinite(lp))
    m.mark(
        lp_bad,
        "nonfinite_logprob",
        lambda i: "logprob_gold is " + ("NaN or missing" if np.isnan(lp[i]) else "infinite"),
        lambda i: _fmt(lp[i]),
    )
    if "option_logprobs" in df.columns:
        has, finite, maxes = list_float_stats(df["option_logprobs"])
        m.mark(
            has & ~finite,
            "nonfinite_logprob",
            "an option log-probability is NaN or infinite",
            lambda i: _fmt(df["option_logprobs"].iloc[i]),
        )
        m.mark(is_mc & ~has, "nonfinite_logprob", "multiple-choice row without option log-probabilities", None)
    else:
        maxes = np.full(n, np.nan)
    m.mark(
        np.nan_to_num(lp, nan=-1.0) > LOGPROB_TOLERANCE, "positive_logprob", "logprob_gold > 0", lambda i: _fmt(lp[i])
    )
    m.mark(
        np.nan_to_num(maxes, nan=-1.0) > LOGPROB_TOLERANCE,
        "positive_logprob",
        "an option log-probability > 0",
        lambda i: _fmt(df["option_logprobs"].iloc[i]),
    )
    p = _numeric(df, "p_correct")
    m.mark(
        np.where(is_mc, ~np.isfinite(p), ~np.isnan(p) & ~np.isfinite(p)),
        "nonfinite_probability",
        "p_correct is missing or not finite",
        lambda i: _fmt(p[i]),
    )
    out_of_range = (p < -PROBABILITY_TOLERANCE) | (p > 1 + PROBABILITY_TOLERANCE)
    m.mark(
        np.nan_to_num(out_of_range, nan=False).astype(bool),
        "probability_out_of_range",
        "p_correct outside [0, 1]",
        lambda i: _fmt(p[i]),
    )


def _quarantine_frame(df: pd.DataFrame, m: _Marks, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows that broke no rule, and the quarantine rows of the others (source file and row, rule, detail)."""
    rule, detail, value = m.rule, m.detail, m.value
    bad = rule != ""
    good = df.loc[~bad].reset_index(drop=True)
    idx = np.flatnonzero(bad)
    rows = df.iloc[idx]
    src_rows = (
        pd.to_numeric(rows["source_row"], errors="coerce").fillna(-1).astype("int64").to_numpy()
        if "source_row" in df.columns
        else idx + 1
    )

    def col(c: str) -> list[Any]:
        return [None if pd.isna(v) else str(v) for v in rows[c]] if c in df.columns else [None] * len(idx)

    def files() -> list[str]:
        if "source_file" in df.columns:
            return [str(v) if not pd.isna(v) else source for v in rows["source_file"]]
        return [source] * len(idx)

    q = pd.DataFrame(
        {
            "benchmark": col("benchmark"),
            "dataset_version": col("dataset_version"),
            "model": col("model"),
            "model_version": col("model_version"),
            "source_file": files(),
            "source_row": src_rows.astype("int64"),
            "cell_key": col("cell_key"),
            "item_id": col("item_id"),
            "template_id": col("template_id"),
            "rule": rule[idx].astype(str),
            "detail": detail[idx].astype(str),
            "value": [None if v is None else str(v) for v in value[idx]],
            "raw": [_raw(r) for r in rows.to_dict("records")],
        },
        columns=PREDICTION_QUARANTINE_COLUMNS,
    )
    q = q.astype({c: object for c in PREDICTION_QUARANTINE_COLUMNS if c != "source_row"})
    return good, q


def split_predictions(
    df: pd.DataFrame,
    items: pd.DataFrame | None,
    source: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(good, quarantine)``: ``good`` keeps the rows that pass every row rule (same columns, index reset);
    ``quarantine`` has :data:`PREDICTION_QUARANTINE_COLUMNS`. ``items`` is the items table the predictions
    were made on (``None`` skips the item rules). ``source`` names where the rows came from."""
    source = source or str(df.attrs.get("source", "<predictions>"))
    m = _Marks(len(df))
    _mark_keys(df, m)
    _mark_items(df, items, m)
    _mark_scores(df, m)
    return _quarantine_frame(df, m, source)


def _raw(row: dict[str, Any]) -> str:
    def conv(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, float) and not np.isfinite(v):
            return repr(v)
        return v

    return json.dumps({k: conv(v) for k, v in row.items()}, default=str, ensure_ascii=False)[:2000]


def quarantine_rows(df: pd.DataFrame, rule: str, details: list[str], source: str) -> pd.DataFrame:
    """Quarantine rows (:data:`PREDICTION_QUARANTINE_COLUMNS`) for every row of ``df``, all with ``rule`` and
    one detail each (the import's unmatched items: ``item_not_in_benchmark`` with the resolution reason)."""
    m = _Marks(len(df))
    m.rule[:] = rule
    m.detail[:] = details
    m.value[:] = [None if pd.isna(v) else str(v) for v in df["item_id"]] if "item_id" in df.columns else None
    return _quarantine_frame(df.reset_index(drop=True), m, source)[1]
