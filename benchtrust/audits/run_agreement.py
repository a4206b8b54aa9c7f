"""Audits 2/3 on repeated runs: would a re-run give the same answers?  Run-to-run agreement.

Definitions follow Atil et al., "Non-Determinism of 'Deterministic' LLM Settings" and their
``evaluate.py`` (breckbaldwin/llm-stability @ c089c02e), for one configuration run R times on n items:

- **TACr** (total agreement count, raw): items whose raw output is the identical string in all R runs;
  **TARr** = TACr / n.
- **TACa** (parsed answer): items whose parsed answer is identical in all R runs; **TARa** = TACa / n.
  How a run *without* an answer counts, exactly as their code does: "no answer found" behaves as one
  more answer value (an item with no parsable answer in every run agrees; one with an answer in some runs
  and none in others does not), while an *ambiguous* parse (several options named, their "Blown UP")
  never agrees.  (In their loop the "no answer" marker is the row index of the item's *first* unparsable
  run only — later unparsable runs of the same item add nothing — which is what makes "no answer"
  act as a single value.)  Without an ``answer_status`` column a null answer is "no answer".
- **correct count per run**: items correct in run r (a run without a usable answer is not correct).
- **best possible** count/accuracy: items correct in at least one run; **worst possible**: items correct
  in every run; **spread** = best − worst accuracy (= the flip share of :mod:`benchtrust.stats.variance`).

Also reported, from :func:`benchtrust.stats.run_variance`: mean accuracy, flip share, pairwise churn,
seed SD (ddof 0) and the independent-errors SD.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from benchtrust.stats import run_variance

__all__ = ["DEFAULT_GROUP_COLUMNS", "run_agreement"]

DEFAULT_GROUP_COLUMNS = (
    "model",
    "model_version",
    "benchmark",
    "dataset_version",
    "grid_version",
    "template_id",
    "n_fewshot",
    "fewshot_seed",
    "permutation_seed",
    "decoding",
    "temperature",
    "top_p",
)
_NONE = "\x00no_answer"
_NULL = "\x00null"


def _work_frame(
    d: pd.DataFrame,
    keys: list[str],
    run_col: str,
    item_col: str,
    raw_col: str,
    answer_col: str,
    status_col: str | None,
    correct_col: str,
) -> tuple[pd.DataFrame, list[str]]:
    """Raw output, answer (no answer and each ambiguous answer made distinct values), correctness, run and item
    per row, and the configuration columns as strings (nulls a value of their own)."""
    if raw_col in d.columns:
        raw = d[raw_col].astype(object).where(d[raw_col].notna(), _NULL)
    else:
        raw = pd.Series(_NULL, index=d.index)
    ans = d[answer_col].astype(object).where(d[answer_col].notna(), _NONE).astype(str)
    if status_col and status_col in d.columns:
        st = d[status_col].astype(str)
        ans = ans.where(st != "no_answer", _NONE)
        ans = ans.where(st != "ambiguous", "\x00ambiguous:" + pd.Series(np.arange(len(d)), index=d.index).astype(str))
    correct = d[correct_col].astype("boolean").fillna(False).astype(bool)
    work = pd.DataFrame(
        {
            "_raw": raw.astype(str),
            "_ans": ans,
            "_ok": correct,
            "_run": d[run_col].astype(int),
            "_item": d[item_col].astype(str),
        }
    )
    gkeys = []
    for i, c in enumerate(keys):
        work[f"_g{i}"] = d[c].astype(object).where(d[c].notna(), None).astype(str)
        gkeys.append(f"_g{i}")
    return work, gkeys


def _configuration_row(
    g: pd.DataFrame, first: pd.Series, keys: list[str], complete: Literal["error", "drop"]
) -> dict[str, Any] | None:
    """The agreement figures of one configuration's rows (None when ``drop`` leaves no item)."""
    dup = g.duplicated(["_item", "_run"])
    if dup.any():
        r = g[dup].iloc[0]
        raise ValueError(f"configuration {dict(first)}: item {r['_item']!r} has run {r['_run']} twice")
    runs = sorted(g["_run"].unique().tolist())
    n_runs = len(runs)
    per_item = g.groupby("_item")["_run"].size()
    incomplete = per_item[per_item != n_runs]
    if len(incomplete) and complete == "error":
        raise ValueError(
            f"configuration {dict(first)}: item {incomplete.index[0]!r} has "
            f"{int(incomplete.iloc[0])} of {n_runs} runs (use complete='drop')"
        )
    g = g[~g["_item"].isin(incomplete.index)]
    if g.empty:
        return None
    gi = g.groupby("_item", sort=True)
    agree_raw = gi["_raw"].nunique() == 1
    agree_ans = gi["_ans"].nunique() == 1
    mat = g.pivot(index="_item", columns="_run", values="_ok").reindex(columns=runs).to_numpy(dtype=float)
    k = mat.sum(axis=1)
    n = mat.shape[0]
    per_run = [int(x) for x in mat.sum(axis=0)]
    rv = run_variance(mat)
    row = {c: first[c] for c in keys}
    best, worst = int((k > 0).sum()), int((k == n_runs).sum())
    row.update(
        n_items=n,
        n_runs=n_runs,
        runs=runs,
        tac_raw=int(agree_raw.sum()),
        tar_raw=float(agree_raw.mean()),
        tac_answer=int(agree_ans.sum()),
        tar_answer=float(agree_ans.mean()),
        correct_per_run=per_run,
        accuracy_per_run=[c / n for c in per_run],
        best_count=best,
        best_accuracy=best / n,
        worst_count=worst,
        worst_accuracy=worst / n,
        spread=best / n - worst / n,
        mean_accuracy=rv.mean_accuracy,
        flip_share=rv.flip_share,
        pairwise_churn=rv.pairwise_churn,
        seed_sd=rv.seed_sd,
        independent_sd=rv.independent_sd,
        n_incomplete_items=int(len(incomplete)),
    )
    return row


def run_agreement(
    predictions: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    run_col: str = "sample_idx",
    item_col: str = "item_id",
    raw_col: str = "generation",
    answer_col: str = "prediction",
    status_col: str | None = "answer_status",
    correct_col: str = "is_correct",
    complete: Literal["error", "drop"] = "error",
) -> pd.DataFrame:
    """Per configuration: TACr/TARr, TACa/TARa, per-run correct counts, best/worst possible accuracy.

    Args:
        predictions: canonical predictions with one row per configuration × item × run.
        by: columns that identify a configuration (default: those of :data:`DEFAULT_GROUP_COLUMNS`
            present; nulls are a value).
        run_col: the run index (``sample_idx`` for imported repeated runs).
        item_col, raw_col, answer_col, correct_col: item id, raw output, parsed answer, correctness.
        status_col: ``ok`` / ``no_answer`` / ``ambiguous`` per row (module docstring); ignored if absent.
        complete: ``error`` — every item must have every run of its configuration (as the authors'
            code requires); ``drop`` — leave incomplete items out and count them in
            ``n_incomplete_items``.

    Returns:
        One row per configuration: the ``by`` columns, ``n_items``, ``n_runs``, ``runs``, ``tac_raw``,
        ``tar_raw``, ``tac_answer``, ``tar_answer``, ``correct_per_run``, ``accuracy_per_run``,
        ``best_count``, ``best_accuracy``, ``worst_count``, ``worst_accuracy``, ``spread``,
        ``mean_accuracy``, ``flip_share``, ``pairwise_churn``, ``seed_sd``, ``independent_sd``,
        ``n_incomplete_items``.
    """
    keys = list(by) if by is not None else [c for c in DEFAULT_GROUP_COLUMNS if c in predictions.columns]
    d = predictions.reset_index(drop=True)
    work, gkeys = _work_frame(d, keys, run_col, item_col, raw_col, answer_col, status_col, correct_col)
    rows = []
    for _gvals, g in work.groupby(gkeys, sort=True, dropna=False) if gkeys else [((), work)]:
        first = d.loc[g.index[0], keys] if keys else pd.Series(dtype=object)
        row = _configuration_row(g, first, keys, complete)
        if row is not None:
            rows.append(row)
    return pd.DataFrame(rows)
