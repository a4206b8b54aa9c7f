"""HELM per-instance predictions as a wide item × model matrix (CSV).

Layout read (the one of ``helm_10models_mmlu_item_matrix.csv`` built from aryopg/mmlu-redux
``outputs/original_helm_combined/``, CC-BY-4.0): one row per item, these metadata columns

============================  ==================================================================
``subject``                   MMLU subject (required)
``mmlu_test_index``           0-based row in Hendrycks ``data/test/<subject>_test.csv`` (optional;
                              may be empty where HELM's item could not be joined)
``helm_row``                  the item's position in HELM's run (optional)
``gold``                      gold letter; or ``groundtruth_answer_idx`` (0-based index) instead
``question``                  item text (optional)
``error_type*``               ignored (MMLU-Redux labels in the joined variant of the file)
============================  ==================================================================

and one column per model holding the model's answer as HELM parsed it (HELM's MMLU run generates one
token at temperature 0 after 5 in-context examples).  Model columns are every other column; HELM names
models ``org/name``, written ``org_name`` in the column header, and the first ``_`` is turned back into
``/`` (``openai_gpt-4o-2024-05-13`` → ``openai/gpt-4o-2024-05-13``).

Canonical mapping:

- ``item_id`` = ``<subject_slug>-<mmlu_test_index:05d>``; where ``mmlu_test_index`` is missing the id is
  ``<subject_slug>-helm<helm_row:05d>`` (there is one such item in the 14,015-row file: a
  high_school_computer_science question HELM has but that was not joined to MMLU, and that has no gold).
- ``prediction`` = the cell as written (whitespace stripped); an answer that is not a valid letter
  ("To", "The", "", a lone "i") is an *invalid answer*: kept as the prediction, ``predicted_index`` null,
  ``is_correct`` False.
- ``is_correct`` is null (unscored) where the gold is missing; accuracies are over scored items.
- ``decoding`` greedy, ``temperature`` 0, ``n_fewshot`` 5, ``template_id`` ``helm_mmlu_5shot``
  (all overridable through the options).
- Extras kept on the predictions: ``subject``, ``mmlu_test_index`` (nullable int), ``helm_row`` — the
  MMLU join key ``(subject, mmlu_test_index)`` of MMLU-Redux and the other MMLU files.
- Items: input = ``question``, no answer options (the matrix has none) — join them to the canonical MMLU
  items on (subject, mmlu_test_index) before loading them as items (a warning says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.importers._common import (
    ImportFormatError,
    ImportResult,
    as_json,
    build_items,
    content_version,
    dataset_versions_from_items,
    finish_predictions,
    letter_answer,
    slug,
)
from benchtrust.items import LETTERS
from benchtrust.readlimits import LimitError, check_file

__all__ = ["META_COLUMNS", "helm_model_name", "import_helm_matrix"]

META_COLUMNS = (
    "subject",
    "helm_row",
    "mmlu_test_index",
    "gold",
    "groundtruth_answer_idx",
    "question",
    "error_type",
    "error_type_in_redux_csv",
    "error_type_raw",
)


def helm_model_name(column: str) -> str:
    """``org_model`` column header → HELM's ``org/model`` id (first underscore only)."""
    return column.replace("_", "/", 1) if "_" in column else column


def _int_or_none(v: str) -> int | None:
    v = (v or "").strip()
    return int(v) if v.isdigit() else None


def _read_matrix(p: Path, models: Sequence[str] | None, gold_column: str | None) -> tuple[pd.DataFrame, str, list[str]]:
    """The CSV as strings, its gold column and the model columns to read (errors name the file and rule)."""
    try:
        check_file(p)  # regular file within the size limit (benchtrust.readlimits)
    except LimitError as e:
        raise ImportFormatError(str(p), e.rule, e.detail) from None
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ImportFormatError(str(p), "unreadable", str(e)) from None
    if "subject" not in raw.columns:
        raise ImportFormatError(str(p), "missing_column", "no 'subject' column (HELM matrix layout)")
    gcol = gold_column or (
        "gold"
        if "gold" in raw.columns
        else "groundtruth_answer_idx"
        if "groundtruth_answer_idx" in raw.columns
        else None
    )
    if gcol is None or gcol not in raw.columns:
        raise ImportFormatError(str(p), "missing_column", "no gold column ('gold' or 'groundtruth_answer_idx')")
    model_cols = list(models) if models else [c for c in raw.columns if c not in META_COLUMNS and c != gcol]
    missing = [c for c in model_cols if c not in raw.columns]
    if missing or not model_cols:
        raise ImportFormatError(str(p), "missing_column", f"model columns {missing or '(none)'}")

    return raw, gcol, model_cols


def _gold_answers(
    p: Path, raw: pd.DataFrame, gcol: str, n_choices: int, warnings: list[str]
) -> tuple[list[str | None], list[int | None], int]:
    """Gold letters and indices per row (letters or indices in the file); a bad gold fails with its row."""
    gold_raw = raw[gcol].str.strip()
    if gcol == "gold":
        gold_idx = [letter_answer(g, n_choices) for g in gold_raw]
    else:
        gold_idx = [int(g) if g.isdigit() and int(g) < n_choices else None for g in gold_raw]
    bad_gold = [i for i, (g, gi) in enumerate(zip(gold_raw, gold_idx)) if g != "" and gi is None]
    if bad_gold:
        i = bad_gold[0]
        raise ImportFormatError(
            str(p), "bad_gold", f"gold {gold_raw.iloc[i]!r} is not one of the first {n_choices} letters", row=i + 1
        )
    gold = [LETTERS[g] if g is not None else None for g in gold_idx]
    n_nogold = sum(g is None for g in gold)
    if n_nogold:
        warnings.append(f"{n_nogold} item(s) have no gold answer: imported, left unscored (is_correct null)")

    return gold, gold_idx, n_nogold


def _item_ids(
    p: Path, raw: pd.DataFrame, warnings: list[str]
) -> tuple[pd.Series, list[int | None], list[int | None], list[str]]:
    """``<subject>-<mmlu_test_index>`` ids (else the HELM row, else the file row); duplicates fail with their row."""
    subj = raw["subject"].str.strip()
    mti = [_int_or_none(v) for v in raw.get("mmlu_test_index", pd.Series([""] * len(raw)))]
    hrow = [_int_or_none(v) for v in raw.get("helm_row", pd.Series([""] * len(raw)))]
    ids = []
    for i, (s, m, h) in enumerate(zip(subj, mti, hrow)):
        if m is not None:
            ids.append(f"{slug(s)}-{m:05d}")
        elif h is not None:
            ids.append(f"{slug(s)}-helm{h:05d}")
        else:
            ids.append(f"{slug(s)}-row{i:05d}")
    ids_s = pd.Series(ids)
    if ids_s.duplicated().any():
        i = int(np.flatnonzero(ids_s.duplicated().to_numpy())[0])
        raise ImportFormatError(str(p), "duplicate_item_id", f"item {ids[i]!r} appears twice", row=i + 1)
    n_unjoined = sum(m is None for m in mti)
    if n_unjoined:
        warnings.append(f"{n_unjoined} item(s) have no mmlu_test_index (ids use helm_row instead)")

    return subj, mti, hrow, ids


def _items(
    p: Path,
    raw: pd.DataFrame,
    benchmark: str,
    ids: list[str],
    gold: list[str | None],
    gold_idx: list[int | None],
    subj: pd.Series,
    mti: list[int | None],
    hrow: list[int | None],
) -> pd.DataFrame:
    """The canonical items of the matrix (no answer options: HELM's matrix has none)."""
    item_rows = pd.DataFrame(
        {
            "benchmark": benchmark,
            "item_id": ids,
            "task_type": "multiple_choice",
            "input": raw["question"] if "question" in raw.columns else "",
            "choices": [[] for _ in ids],
            "gold": [g or "" for g in gold],
            "gold_index": [g if g is not None else -1 for g in gold_idx],
            "subject": subj,
            "metadata": [as_json({"helm_row": h, "mmlu_test_index": m}) for h, m in zip(hrow, mti)],
            "source_file": str(p),
            "source_row": np.arange(1, len(raw) + 1),
            "mmlu_test_index": pd.array(mti, dtype="Int64"),
            "helm_row": pd.array(hrow, dtype="Int64"),
        }
    )
    return build_items(item_rows, extra_columns=["mmlu_test_index", "helm_row"])


def _predictions(
    raw: pd.DataFrame,
    model_cols: list[str],
    gold: list[str | None],
    ids: list[str],
    items: pd.DataFrame,
    subj: pd.Series,
    mti: list[int | None],
    hrow: list[int | None],
    *,
    benchmark: str,
    dataset_version: str,
    n_choices: int,
    template_id: str,
    n_fewshot: int,
    model_version: dict[str, str] | None,
) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """The matrix in long form, model-major: one greedy prediction per model × item, scored against the gold
    letter (None without gold); returns the frame, the model names and which predictions are valid letters."""
    n_items, n_models = len(raw), len(model_cols)
    preds = raw[model_cols].apply(lambda s: s.str.strip()).to_numpy().T.reshape(-1)  # model-major
    gold_rep = np.tile(np.array(gold, dtype=object), n_models)
    pidx = np.array([letter_answer(v, n_choices) for v in preds], dtype=object)
    valid = np.array([v is not None for v in pidx])
    has_gold = np.array([g is not None for g in gold_rep])
    correct = np.where(has_gold, valid & (preds == gold_rep), None)
    names = [helm_model_name(c) for c in model_cols]
    model_rep = np.repeat(np.array(names, dtype=object), n_items)
    mv = model_version or {}
    df = pd.DataFrame(
        {
            "model": model_rep,
            "model_version": [mv.get(m, m) for m in model_rep] if mv else model_rep,
            "benchmark": benchmark,
            "dataset_version": dataset_version,
            "item_id": np.tile(np.array(ids, dtype=object), n_models),
            "item_hash": np.tile(items["item_hash"].to_numpy(dtype=object), n_models),
            "task_type": "multiple_choice",
            "template_id": template_id,
            "n_fewshot": n_fewshot,
            "decoding": "greedy",
            "temperature": 0.0,
            "sample_idx": 0,
            "prediction": preds,
            "predicted_index": pidx,
            "gold": gold_rep,
            "is_correct": correct,
            "score": np.where(has_gold, valid & (preds == gold_rep), np.nan).astype(float),
            "generation": preds,
            "subject": np.tile(subj.to_numpy(dtype=object), n_models),
            "mmlu_test_index": pd.array(np.tile(np.array(mti, dtype=object), n_models), dtype="Int64"),
            "helm_row": pd.array(np.tile(np.array(hrow, dtype=object), n_models), dtype="Int64"),
        }
    )
    return df, names, valid


def import_helm_matrix(
    path: str | Path,
    *,
    benchmark: str = "mmlu",
    models: Sequence[str] | None = None,
    gold_column: str | None = None,
    n_choices: int = 4,
    template_id: str = "helm_mmlu_5shot",
    n_fewshot: int = 5,
    model_version: dict[str, str] | None = None,
    dataset_version: str | None = None,
    **_: Any,
) -> ImportResult:
    """Read a HELM wide matrix (see the module docstring) into canonical predictions and items.

    Args:
        path: the CSV file.
        benchmark: benchmark name for every row.
        models: model columns to read (default: every non-metadata column).
        gold_column: ``gold`` (letters) or ``groundtruth_answer_idx`` (indices); default: whichever exists.
        n_choices: valid answer letters are the first ``n_choices`` (MMLU: A–D).
        template_id, n_fewshot: recorded on every prediction.
        model_version: optional map model → version (default: the HELM model id, which carries a date).
        dataset_version: override (default: hash of the imported items, see ``build_items``).

    Raises:
        ImportFormatError: unreadable file, missing required columns, duplicate item ids, bad gold.
    """
    p = Path(path)
    raw, gcol, model_cols = _read_matrix(p, models, gold_column)
    warnings: list[str] = []
    gold, gold_idx, n_nogold = _gold_answers(p, raw, gcol, n_choices, warnings)
    subj, mti, hrow, ids = _item_ids(p, raw, warnings)
    items = _items(p, raw, benchmark, ids, gold, gold_idx, subj, mti, hrow)
    dv = dataset_version or dataset_versions_from_items(items)[benchmark]
    items["dataset_version"] = dv
    warnings.append(
        "items carry no answer options (the HELM matrix has none): join them to the canonical "
        "MMLU items on (subject, mmlu_test_index) before loading them as items"
    )
    n_items = len(raw)
    df, names, valid = _predictions(
        raw,
        model_cols,
        gold,
        ids,
        items,
        subj,
        mti,
        hrow,
        benchmark=benchmark,
        dataset_version=dv,
        n_choices=n_choices,
        template_id=template_id,
        n_fewshot=n_fewshot,
        model_version=model_version,
    )
    invalid = int((~valid).sum())
    if invalid:
        warnings.append(f"{invalid} prediction(s) are not valid answer letters: scored as wrong, kept as written")
    df["grid_version"] = content_version([p], "helm")
    out = finish_predictions(df, "helm", str(p), extra_columns=["subject", "mmlu_test_index", "helm_row"])
    return ImportResult(
        format="helm",
        source=str(p),
        predictions=out,
        items=items,
        extra_columns=["subject", "mmlu_test_index", "helm_row"],
        files=[str(p)],
        warnings=warnings,
        meta={
            "models": names,
            "model_columns": model_cols,
            "n_items": n_items,
            "n_invalid": invalid,
            "n_without_gold": n_nogold,
            "gold_column": gcol,
        },
    )
