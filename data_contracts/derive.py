"""Derived columns: row properties a GX expectation cannot see directly, as plain columns.

Each function takes the frame and the validation parameters and returns the derived columns (a dict of
column name → array-like aligned with the frame); a derived column is left out when its inputs are absent,
and the expectation on it is then skipped (a missing input column is reported by the column-set
expectation). Vectorised where the frames are large (predictions: 100k rows in well under a second).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

MC = "multiple_choice"


def _list_array(col: pd.Series):
    """A pyarrow list<double> array of a column of float lists (None where a cell is not a list), or None
    when an element is not numeric."""
    import pyarrow as pa

    obj = col.to_numpy(dtype=object)
    try:
        return pa.array(obj, type=pa.list_(pa.float64()), from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        pass
    cleaned = [v if isinstance(v, (list, tuple, np.ndarray)) else None for v in obj]
    try:
        return pa.array(cleaned, type=pa.list_(pa.float64()), from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None


def list_lengths(col: pd.Series) -> pd.Series:
    """Length of each list cell (lists, tuples, numpy arrays); null stays null."""
    import pyarrow.compute as pc

    arr = _list_array(col)
    if arr is not None:
        return pd.Series(pc.list_value_length(arr).to_pandas(types_mapper=pd.ArrowDtype), index=col.index).astype(
            "Int64"
        )
    return col.map(lambda v: len(v) if isinstance(v, (list, tuple, np.ndarray)) else None).astype("Int64")


def is_list_column(col: pd.Series) -> bool:
    nn = col.dropna()
    return len(nn) > 0 and isinstance(nn.iloc[0], (list, tuple, np.ndarray))


def list_float_stats(col: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of a column of float lists: (has a list, all values finite, max of the finite values)."""
    import pyarrow.compute as pc

    n = len(col)
    arr = _list_array(col)
    if arr is None:  # non-numeric elements: nothing is finite
        has = col.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).to_numpy(dtype=bool)
        return has, ~has, np.full(n, np.nan)
    has = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    flat = arr.flatten()
    parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    vals = flat.fill_null(np.nan).to_numpy(zero_copy_only=False).astype(float)
    finite = np.isfinite(vals)
    all_finite = np.ones(n, dtype=bool)
    all_finite[parents[~finite]] = False
    maxes = np.full(n, -np.inf)
    np.maximum.at(maxes, parents[finite], vals[finite])
    maxes[~has | (maxes == -np.inf)] = np.nan
    return has, all_finite, maxes


def _item_known(df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """The orphan check: is the row's item id one of the items table's (parameter ``item_ids``)?"""
    if "item_ids" not in params or "item_id" not in df.columns:
        return {}
    return {"item_id_known": df["item_id"].astype(str).isin(set(map(str, params["item_ids"]))).to_numpy()}


def _quarantine_share(df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    if "n_quarantined" not in params:
        return {}
    nq = int(params["n_quarantined"])
    total = len(df) + nq
    return {"quarantine_share": np.full(len(df), nq / total if total else 0.0)}


def benchmark_items(df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(_quarantine_share(df, params))
    if not {"choices", "task_type", "gold", "gold_index"} <= set(df.columns):
        return out
    from benchtrust.items import LETTERS

    mc_n, gold_ok, longest, text, dup = [], [], [], [], []
    for choices, tt, gold, gi in zip(df["choices"], df["task_type"], df["gold"], df["gold_index"]):
        ch = [str(c) for c in choices] if isinstance(choices, (list, tuple, np.ndarray)) else []
        is_mc = tt == MC
        mc_n.append(len(ch) if is_mc else None)
        if is_mc:
            ok = gi is not None and not pd.isna(gi) and 0 <= int(gi) < len(ch) and gold == LETTERS[int(gi)]
        else:
            ok = gi is not None and not pd.isna(gi) and int(gi) == -1
        gold_ok.append(bool(ok))
        longest.append(max((len(c) for c in ch), default=0))
        text.append("\n".join(ch))
        dup.append(len(set(ch)) < len(ch))
    out.update(
        mc_choice_count=pd.array(mc_n, dtype="Int64"),
        gold_in_choices=gold_ok,
        longest_choice_chars=longest,
        choices_text=text,
        has_duplicate_choices=dup,
    )
    return out


def predictions(df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {**_quarantine_share(df, params), **_item_known(df, params)}
    if "task_type" not in df.columns:
        return out
    is_mc = (df["task_type"] == MC).to_numpy(dtype=bool)
    # option scores are owed only where options were scored by log-likelihood; a multiple-choice answer that
    # was *generated* (HELM, API models, imported runs) legitimately has none
    scored = is_mc & (df["decoding"].eq("loglikelihood").to_numpy(dtype=bool) if "decoding" in df.columns else True)
    if "option_logprobs" in df.columns:
        has, finite, maxes = list_float_stats(df["option_logprobs"])
        out["max_option_logprob"] = maxes
    else:
        has, finite = np.zeros(len(df), bool), np.ones(len(df), bool)
    ok = np.ones(len(df), dtype=bool)
    for c in ("logprob_gold", "p_correct"):
        if c in df.columns:
            v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            present = ~np.isnan(v)
            # log-likelihood-scored rows need a finite score; any other row may leave it empty but not infinite
            ok &= np.where(scored, np.isfinite(v), ~present | np.isfinite(v))
    ok &= np.where(scored, has & finite, ~has | finite)
    out["scores_finite"] = ok
    if "generation" in df.columns:
        gen = df["generation"]
        chars = gen.map(lambda s: len(s.strip()) if isinstance(s, str) else 0)
        out["generation_chars"] = pd.array(np.where(is_mc, np.nan, chars), dtype="Float64")
    return out


def _given(col: pd.Series) -> np.ndarray:
    """Not null and not an empty / whitespace string (text tables write a missing value as "")."""
    s = col.astype("string")
    return (s.notna() & (s.str.strip() != "")).fillna(False).to_numpy(dtype=bool)


def _numbers(col: pd.Series) -> np.ndarray:
    return pd.to_numeric(col.astype("string").str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def imported_predictions(df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    # the importer's own words (not via data_contracts.imported, which imports the runner, which imports this)
    from benchtrust.importers.table import FALSE_WORDS, TRUE_WORDS

    n = len(df)
    out: dict[str, Any] = {}
    item = pd.Series([None] * n, index=df.index, dtype=object)
    for c in ("input", "item_id"):  # item_id wins over the text
        if c in df.columns:
            text = df[c].astype("string").str.strip()
            item = text.where(_given(df[c]), item.astype("string")).astype(object)
    out["item_ref"] = item.where(pd.notna(item), None).to_numpy(dtype=object)
    if "item_id" in df.columns and "item_ids" in params:
        known = df["item_id"].astype("string").str.strip().isin(set(map(str, params["item_ids"])))
        out["item_id_known"] = ~_given(df["item_id"]) | known.fillna(False).to_numpy(dtype=bool)
    if {"model"} <= set(df.columns):
        parts = [
            df[c].astype("string").fillna("").str.strip() if c in df.columns else pd.Series([""] * n, index=df.index)
            for c in ("model", "model_version", "template", "seed", "permutation_seed", "run")
        ]
        parts.insert(2, pd.Series(item, index=df.index).astype("string").fillna(""))
        out["import_cell"] = pd.concat(parts, axis=1).agg(" | ".join, axis=1).to_numpy(dtype=object)
    if "correct" in df.columns:
        words = df["correct"].map(lambda v: str(v).strip().lower() if not isinstance(v, bool) else str(v).lower())
        out["correct_is_boolean"] = ~_given(df["correct"]) | words.isin(TRUE_WORDS | FALSE_WORDS).to_numpy(dtype=bool)
    if "score" in df.columns:
        out["score_is_finite_number"] = ~_given(df["score"]) | np.isfinite(_numbers(df["score"]))
    if "p_correct" in df.columns:
        p = _numbers(df["p_correct"])
        out["p_correct_in_unit_interval"] = ~_given(df["p_correct"]) | ((p >= 0) & (p <= 1))
    for c in ("seed", "permutation_seed", "run"):
        if c in df.columns:
            v = _numbers(df[c])
            out[f"{c}_is_natural_number"] = ~_given(df[c]) | (np.isfinite(v) & (v >= 0) & (np.mod(v, 1) == 0))
    if "decoding" in df.columns:
        d = df["decoding"].astype("string").str.strip().str.lower()
        out["decoding_is_known"] = ~_given(df["decoding"]) | d.isin(["greedy", "sample", "loglikelihood"]).fillna(
            False
        ).to_numpy(dtype=bool)
    if "prediction" in df.columns:
        out["prediction_given"] = _given(df["prediction"])
    return out


def corpus_docs(df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    return {}


DERIVE: dict[str, Callable[[pd.DataFrame, dict[str, Any]], dict[str, Any]]] = {
    "benchmark_items": benchmark_items,
    "predictions": predictions,
    "imported_predictions": imported_predictions,
    "corpus_docs": corpus_docs,
}

# derived columns that exist only when a parameter is given (else their expectation is listed as skipped)
PARAM_DERIVED = {"item_id_known": "item_ids", "quarantine_share": "n_quarantined"}
