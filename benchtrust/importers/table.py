"""The documented table layout: predictions from any tool as CSV, TSV, Parquet or JSON Lines.

One row per prediction (model × item × configuration).  Column names are matched case-insensitively;
the names in brackets are accepted aliases.

==================================  ========  ===============================================================
column                              required  meaning
==================================  ========  ===============================================================
``model``                           yes       model name
``item_id`` [``id``]                one of    item identifier (kept as text)
``input`` [``question``]            the two   item text; without ``item_id`` the id is ``item-<hash>`` of the
                                              whitespace/case-normalised text, so equal texts share an id
``prediction`` [``answer``]         yes       the model's answer (letter, option text, free text); may be
                                              empty (an invalid answer)
``gold`` [``target``]               no        the reference answer
``correct`` [``is_correct``]        no        true/false, 1/0, yes/no; when absent it is derived from
                                              prediction and gold (below); an empty cell = unscored
``score``                           no        any real per-prediction score (e.g. exact match, F1)
``p_correct``                       no        probability the model gave the gold answer
``seed`` [``fewshot_seed``]         no        natural number (few-shot / run seed), default 0
``permutation_seed``                no        answer-order permutation seed, default 0
``template`` [``template_id``]      no        prompt template name, default ``default``
``run`` [``sample_idx``,            no        natural number: repeat / sample index, default 0
``sample``]
``model_version``                   no        default = ``model``
``benchmark``                       no        default = option ``benchmark`` or the file's stem
``subject``                         no        subject / cluster of the item
``choices``                         no        JSON list of option texts (makes the item multiple choice)
``decoding``                        no        ``greedy`` (default), ``sample`` or ``loglikelihood``
``temperature``                     no        default 0
==================================  ========  ===============================================================

Other columns are ignored (listed in the warnings).  ``is_headline`` marks the rows of the file's first
template at seed 0, permutation 0, run 0.  Derived correctness, when there is no ``correct``
column and a ``gold`` is given: if the gold is a single letter, the prediction is read as a letter
(``B``, ``(B)``, ``B)``, ``B.``; anything else is an invalid answer, wrong); otherwise the two are
compared as text after stripping whitespace (case-sensitive).  An empty gold leaves the row unscored.

Errors (:class:`~benchtrust.importers.ImportFormatError`, with the file and the 1-based data row): a
missing required column, an empty ``model`` or item, a correctness / seed / run value that is not
readable, two rows for the same model × item × template × seeds × run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.hashing import hash_strings
from benchtrust.importers._common import (
    ImportFormatError,
    ImportResult,
    as_json,
    build_items,
    content_version,
    dataset_version_from_ids,
    dataset_versions_from_items,
    finish_predictions,
    is_missing,
    letter_answer,
)
from benchtrust.items import LETTERS, SourceError, normalise_for_dedup
from benchtrust.readlimits import LIMITS, LimitError, RecordError, check_file, iter_lines_bounded, loads_record

__all__ = ["ALIASES", "FALSE_WORDS", "TRUE_WORDS", "import_table"]

ALIASES: dict[str, tuple[str, ...]] = {
    "model": ("model",),
    "item_id": ("item_id", "id"),
    "input": ("input", "question"),
    "prediction": ("prediction", "answer"),
    "gold": ("gold", "target"),
    "correct": ("correct", "is_correct"),
    "score": ("score",),
    "p_correct": ("p_correct",),
    "seed": ("seed", "fewshot_seed"),
    "permutation_seed": ("permutation_seed",),
    "template": ("template", "template_id"),
    "run": ("run", "sample_idx", "sample"),
    "model_version": ("model_version",),
    "benchmark": ("benchmark",),
    "subject": ("subject",),
    "choices": ("choices",),
    "decoding": ("decoding",),
    "temperature": ("temperature",),
}
TRUE_WORDS = {"true", "1", "yes", "y", "t", "1.0"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "0.0"}


def _read(p: Path) -> pd.DataFrame:
    suffix = p.suffix.lower()
    try:
        check_file(p)  # regular file within the size limit (benchtrust.readlimits)
    except LimitError as e:
        raise ImportFormatError(str(p), e.rule, e.detail) from None
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            n_cols = len(pq.read_schema(p).names)
            if n_cols > LIMITS.max_fields:
                raise ImportFormatError(
                    str(p), "too_many_columns", f"{n_cols:,} columns > the limit of {LIMITS.max_fields:,}"
                )
            return pd.read_parquet(p)
        if suffix in (".jsonl", ".ndjson"):
            return _read_jsonl(p)
        sep = "\t" if suffix in (".tsv", ".tab") else ","
        # the items reader's CSV parser first: a ragged row or a bad encoding is a corrupt file, named by row,
        # not a silently padded prediction
        from benchtrust.sources.files import iter_csv

        bad = next((r for r in iter_csv(p, sep) if r.error), None)
        if bad is not None and bad.error is not None:
            raise ImportFormatError(str(p), bad.error[0], bad.error[1], row=bad.row)
        return pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ImportFormatError(str(p), "not_found", "no such file") from None
    except ImportFormatError:
        raise
    except SourceError as e:  # whole-file problems found by the CSV reader (encoding, empty, csv_parse)
        raise ImportFormatError(str(p), e.rule, e.detail, row=e.row) from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ImportFormatError(str(p), "unreadable", str(e).splitlines()[0] if str(e) else type(e).__name__) from None


def _read_jsonl(p: Path) -> pd.DataFrame:
    """JSON Lines, one object per line, each within the record limits (size, duplicate keys, nesting, fields)."""
    rows = []
    with open(p, "rb") as fh:
        for ln, raw in iter_lines_bounded(fh):
            if raw is None:
                raise ImportFormatError(
                    str(p), "record_too_large", f"line longer than {LIMITS.max_record_bytes:,} bytes", line=ln
                )
            if not raw.strip():
                continue
            try:
                rec = loads_record(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise ImportFormatError(str(p), "encoding", f"line is not UTF-8: {e.reason}", line=ln) from None
            except json.JSONDecodeError as e:
                raise ImportFormatError(str(p), "bad_json", f"{e.msg} at column {e.colno}", line=ln) from None
            except RecordError as e:
                raise ImportFormatError(str(p), e.rule, e.detail, line=ln) from None
            if not isinstance(rec, dict):
                raise ImportFormatError(str(p), "bad_record", f"a JSON {type(rec).__name__}, not an object", line=ln)
            rows.append(rec)
    return pd.DataFrame(rows)


def _resolve_columns(df: pd.DataFrame, file: str) -> tuple[dict[str, str], list[str]]:
    lower = {c.lower().strip(): c for c in df.columns}
    found: dict[str, str] = {}
    for canon, names in ALIASES.items():
        for n in names:
            if n in lower:
                found[canon] = lower[n]
                break
    missing = [c for c in ("model", "prediction") if c not in found]
    if "item_id" not in found and "input" not in found:
        missing.append("item_id or input")
    if missing:
        raise ImportFormatError(file, "missing_column", f"required column(s) {missing} absent; have {list(df.columns)}")
    ignored = [c for c in df.columns if c not in found.values()]
    return found, ignored


def _text(v: Any) -> str | None:
    if is_missing(v):
        return None
    s = str(v).strip()
    return s if s != "" else None


def _bool(v: Any, file: str, row: int, col: str) -> bool | None:
    if is_missing(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    s = str(v).strip().lower()
    if s == "":
        return None
    if s in TRUE_WORDS:
        return True
    if s in FALSE_WORDS:
        return False
    raise ImportFormatError(file, "bad_value", f"{col} {v!r} is not true/false/1/0/yes/no", row=row)


def _natural(v: Any, file: str, row: int, col: str, default: int = 0) -> int:
    if is_missing(v) or str(v).strip() == "":
        return default
    try:
        x = float(str(v).strip())
    except ValueError:
        x = float("nan")
    if not math.isfinite(x) or x < 0 or x != int(x):
        raise ImportFormatError(file, "bad_value", f"{col} {v!r} is not a natural number", row=row)
    return int(x)


def _float(v: Any, file: str, row: int, col: str) -> float | None:
    if is_missing(v) or str(v).strip() == "":
        return None
    try:
        x = float(str(v).strip())
    except ValueError:
        raise ImportFormatError(file, "bad_value", f"{col} {v!r} is not a number", row=row) from None
    if not math.isfinite(x):
        raise ImportFormatError(file, "bad_value", f"{col} {v!r} is not finite", row=row)
    return x


def _choices(v: Any, file: str, row: int) -> list[str]:
    if is_missing(v):
        return []
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x) for x in v]
    s = str(v).strip()
    if not s:
        return []
    try:
        out = json.loads(s)
    except json.JSONDecodeError:
        raise ImportFormatError(file, "bad_value", f"choices {s[:60]!r} is not a JSON list", row=row) from None
    if not isinstance(out, list):
        raise ImportFormatError(file, "bad_value", "choices is not a JSON list", row=row)
    return [str(x) for x in out]


def _row(
    get: dict[str, list[Any]], cols: dict[str, str], i: int, file: str, default_bench: str, model_version: str | None
) -> dict[str, Any]:
    """Row ``i`` of the file as a canonical prediction (item id from the text when absent, answer indices from the
    gold letter or the choices, correctness when no column gives it); errors name the file, row and rule."""
    r = i + 1
    model = _text(get["model"][i])
    if model is None:
        raise ImportFormatError(file, "missing_value", "empty model", row=r)
    item_id = _text(get["item_id"][i]) if "item_id" in get else None
    text = _text(get["input"][i]) if "input" in get else None
    if item_id is None:
        if text is None:
            raise ImportFormatError(file, "missing_value", "neither item_id nor input", row=r)
        item_id = "item-" + hash_strings([normalise_for_dedup(text)], 12)
    pred_raw = get["prediction"][i]
    pred = None if is_missing(pred_raw) else str(pred_raw).strip()
    gold = _text(get["gold"][i]) if "gold" in get else None
    choices = _choices(get["choices"][i], file, r) if "choices" in get else []
    correct = _bool(get["correct"][i], file, r, cols["correct"]) if "correct" in get else None
    pidx = None
    gidx = -1
    if gold is not None and len(gold) == 1 and gold in LETTERS:
        gidx = LETTERS.index(gold)
        pidx = letter_answer(pred, len(choices) or None, lenient=True)
        if correct is None and "correct" not in get:
            correct = pidx == gidx
    elif gold is not None:
        if choices and gold in choices:
            gidx = choices.index(gold)
        if correct is None and "correct" not in get:
            correct = (pred or "") == gold
    if pidx is None and choices and pred in choices:
        pidx = choices.index(pred)
    decoding = _text(get["decoding"][i]) if "decoding" in get else None
    if decoding is not None and decoding not in ("greedy", "sample", "loglikelihood"):
        raise ImportFormatError(file, "bad_value", f"decoding {decoding!r} is not greedy/sample/loglikelihood", row=r)
    return {
        "model": model,
        "model_version": (_text(get["model_version"][i]) if "model_version" in get else None) or model_version,
        "benchmark": (_text(get["benchmark"][i]) if "benchmark" in get else None) or default_bench,
        "item_id": item_id,
        "input": text,
        "choices": choices,
        "gold": gold,
        "gold_index": gidx,
        "subject": (_text(get["subject"][i]) if "subject" in get else None) or "",
        "task_type": "multiple_choice"
        if choices or (gold is not None and len(gold) == 1 and gidx >= 0)
        else "generation",
        "template_id": (_text(get["template"][i]) if "template" in get else None) or "default",
        "fewshot_seed": _natural(get["seed"][i], file, r, cols.get("seed", "seed")) if "seed" in get else 0,
        "permutation_seed": (
            _natural(get["permutation_seed"][i], file, r, "permutation_seed") if "permutation_seed" in get else 0
        ),
        "sample_idx": _natural(get["run"][i], file, r, cols.get("run", "run")) if "run" in get else 0,
        "decoding": decoding or "greedy",
        "temperature": (_float(get["temperature"][i], file, r, "temperature") if "temperature" in get else None) or 0.0,
        "prediction": pred,
        "predicted_index": pidx,
        "is_correct": correct,
        "score": _float(get["score"][i], file, r, "score") if "score" in get else None,
        "p_correct": _float(get["p_correct"][i], file, r, "p_correct") if "p_correct" in get else None,
        "source_row": r,
    }


def _frame(rows: list[dict[str, Any]], file: str) -> pd.DataFrame:
    """The rows as a frame with the headline cells marked; a p_correct outside [0, 1] fails with its row."""
    df = pd.DataFrame(rows)
    first_template = df["template_id"].iloc[0]
    df["is_headline"] = (
        (df["template_id"] == first_template)
        & (df["fewshot_seed"] == 0)
        & (df["permutation_seed"] == 0)
        & (df["sample_idx"] == 0)
    )
    bad_p = df["p_correct"].notna() & ~df["p_correct"].between(0.0, 1.0)
    if bad_p.any():
        r = int(df.loc[bad_p, "source_row"].iloc[0])
        raise ImportFormatError(file, "bad_value", "p_correct outside [0, 1]", row=r)
    return df


def _items_and_versions(
    df: pd.DataFrame, has_text: bool, file: str, dataset_version: str | None, warnings: list[str]
) -> pd.DataFrame | None:
    """Items where the file has text (the first text of an item wins; a conflict is a warning), and the dataset
    version and item hash of every row, in place (the version from the item ids when there is no text)."""
    if has_text:
        first = df.drop_duplicates(["benchmark", "item_id"])
        conflicting = df.groupby(["benchmark", "item_id"])["input"].nunique()
        if (conflicting > 1).any():
            b, iid = conflicting[conflicting > 1].index[0]
            warnings.append(f"item {iid!r} of {b!r} has different input texts in different rows; the first is kept")
        items = build_items(
            pd.DataFrame(
                {
                    "benchmark": first["benchmark"],
                    "item_id": first["item_id"],
                    "task_type": first["task_type"],
                    "input": first["input"].fillna(""),
                    "choices": first["choices"],
                    "gold": first["gold"].fillna(""),
                    "gold_index": first["gold_index"],
                    "subject": first["subject"],
                    "metadata": [as_json({}) for _ in range(len(first))],
                    "source_file": file,
                    "source_row": first["source_row"],
                }
            )
        )
        dv = dataset_versions_from_items(items)
        if dataset_version:
            items["dataset_version"] = dataset_version
            dv = dict.fromkeys(dv, dataset_version)
        df["dataset_version"] = df["benchmark"].map(dv)
        hashes = items.set_index(["benchmark", "item_id"])["item_hash"]
        df["item_hash"] = [hashes[(b, i)] for b, i in zip(df["benchmark"], df["item_id"])]
    else:
        items = None
        dv = {b: dataset_version or dataset_version_from_ids(g["item_id"]) for b, g in df.groupby("benchmark")}
        df["dataset_version"] = df["benchmark"].map(dv)
    return items


def import_table(
    path: str | Path,
    *,
    benchmark: str | None = None,
    model_version: str | None = None,
    dataset_version: str | None = None,
    **_: Any,
) -> ImportResult:
    """Read a CSV / TSV / Parquet / JSONL file in the documented layout (module docstring).

    Args:
        path: the file; the format follows the suffix (``.parquet``/``.pq``, ``.jsonl``, ``.tsv``, else CSV).
        benchmark: default benchmark for rows without a ``benchmark`` column (default: the file's stem).
        model_version: default model version for rows without one (default: the model name).
        dataset_version: override (default: hash of the imported items).
    """
    p = Path(path)
    raw = _read(p)
    file = str(p)
    if raw.empty:
        raise ImportFormatError(file, "empty", "no rows")
    cols, ignored = _resolve_columns(raw, file)
    warnings = [f"ignored column(s): {ignored}"] if ignored else []
    get = {k: raw[v].tolist() for k, v in cols.items()}
    n = len(raw)
    default_bench = benchmark or p.stem
    rows = [_row(get, cols, i, file, default_bench, model_version) for i in range(n)]
    df = _frame(rows, file)
    items = _items_and_versions(df, "input" in get, file, dataset_version, warnings)
    try:
        df["grid_version"] = content_version([p], "table")
        out = finish_predictions(df, "table", file, extra_columns=["subject", "source_row"])
    except ImportFormatError as e:
        raise ImportFormatError(file, e.rule, e.detail) from None
    return ImportResult(
        format="table",
        source=file,
        predictions=out,
        items=items,
        extra_columns=["subject", "source_row"],
        files=[file],
        warnings=warnings,
        meta={"columns": cols, "rows": n},
    )
