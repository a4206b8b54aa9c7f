"""Shared pieces of the importers: the result type, the error type, canonical frames and cell keys.

Every importer turns a foreign layout into the two canonical shapes of the project:

- predictions: exactly :data:`benchtrust.inference.runner.PREDICTION_COLUMNS` (columns the source cannot
  fill are null), followed by a few source-specific extra columns listed in
  :attr:`ImportResult.extra_columns` (e.g. ``subject`` and ``mmlu_test_index`` for HELM, ``answer_status``
  for llm_stability).  :meth:`ImportResult.canonical_predictions` drops the extras.
- items (when the source carries item text): :data:`benchtrust.items.ITEM_COLUMNS` plus extras, with the
  same ``item_hash`` / ``dataset_version`` formulas as :func:`benchtrust.items.normalise`.

``cell_key`` of an imported row is the hash of ("import", format, model_version, grid_version, item_id,
template_id, fewshot_seed, permutation_seed, decoding, temperature, sample_idx), where ``grid_version``
is the hash of the imported files' names and contents (:func:`content_version`; llm_stability: of the
run folder), so re-importing the same files — from any folder — gives the same keys, and two rows of one
import never share a key (a duplicate raises :class:`ImportFormatError`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.hashing import hash_file, hash_obj, hash_strings
from benchtrust.inference.types import PREDICTION_COLUMNS
from benchtrust.items import ITEM_COLUMNS, LETTERS, SourceError, normalise_for_dedup

__all__ = [
    "ITEM_COLUMNS",
    "PREDICTION_COLUMNS",
    "ImportFormatError",
    "ImportResult",
    "letter_answer",
    "slug",
]


class ImportFormatError(SourceError):
    """The input cannot be imported; the message names the file and, where known, the line/row.

    A :class:`benchtrust.items.SourceError` (so callers that already report source errors report these
    too) whose message reads ``<file>:<line>: <rule>: <detail>`` for line-oriented inputs (JSONL) and
    ``<file>: row <n>: <rule>: <detail>`` for tables (``row`` is the 1-based data row, header excluded).
    """

    def __init__(self, file: str, rule: str, detail: str, line: int | None = None, row: int | None = None):
        super().__init__(str(file), rule, detail, row=row)
        self.line = line
        if line is not None:
            self.args = (f"{file}:{line}: {rule}: {detail}",)

    def __str__(self) -> str:  # SourceError formats through args
        return str(self.args[0])


@dataclass
class ImportResult:
    """What an importer returns.

    Attributes:
        format: canonical format name (``lm-eval``, ``helm``, ``table``, ``llm-stability``).
        source: the path that was read (file or folder).
        predictions: PREDICTION_COLUMNS, then ``extra_columns``.
        items: canonical items (ITEM_COLUMNS + extras) or None when the source has no item text.
        extra_columns: the non-canonical columns appended to ``predictions``.
        files: the files actually read.
        warnings: things the user should know (columns ignored, rows without gold, …).
        meta: format-specific facts (models, tasks, counts).
    """

    format: str
    source: str
    predictions: pd.DataFrame
    items: pd.DataFrame | None = None
    extra_columns: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def canonical_predictions(self) -> pd.DataFrame:
        """The predictions restricted to PREDICTION_COLUMNS (what the lake's predictions table holds)."""
        return self.predictions[PREDICTION_COLUMNS]

    @property
    def n_rows(self) -> int:
        return int(len(self.predictions))

    @property
    def models(self) -> list[str]:
        return sorted(self.predictions["model"].dropna().unique().tolist())

    @property
    def n_items(self) -> int:
        return int(self.predictions["item_id"].nunique())

    def summary(self) -> dict[str, Any]:
        """Small JSON-able summary (for the CLI to print)."""
        scored = self.predictions["is_correct"].notna()
        return {
            "format": self.format,
            "source": self.source,
            "files": len(self.files),
            "rows": self.n_rows,
            "models": self.models,
            "benchmarks": sorted(self.predictions["benchmark"].dropna().unique().tolist()),
            "items": self.n_items,
            "scored_rows": int(scored.sum()),
            "accuracy": float(self.predictions.loc[scored, "is_correct"].astype(bool).mean()) if scored.any() else None,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------------- helpers


def slug(s: str) -> str:
    """Lower-case, non-alphanumerics to ``_`` (the same rule as item ids in :mod:`benchtrust.items`)."""
    return re.sub(r"[^a-z0-9]+", "_", str(s).lower()).strip("_") or "all"


def is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return v is pd.NA or v is pd.NaT


_PAREN = re.compile(r"^\(?\s*([A-Za-z])\s*[\).:]?$")


def letter_answer(value: Any, n_choices: int | None = None, lenient: bool = False) -> int | None:
    """Index of a multiple-choice answer letter, or None when ``value`` is not a valid letter.

    Strict (default): after stripping whitespace the value must be one upper-case letter, ``A`` … the
    ``n_choices``-th letter (HELM writes exactly that; "To", "The", "" and a lone lower-case "i" are
    invalid answers).  ``lenient=True`` also accepts ``(B)``, ``B)``, ``B.`` and ``B:`` (upper case only:
    a lone "a" or "I" is as likely a word as an answer).
    """
    if is_missing(value):
        return None
    s = str(value).strip()
    if lenient:
        m = _PAREN.match(s)
        s = m.group(1) if m else s
    if len(s) != 1 or s not in LETTERS:
        return None
    idx = LETTERS.index(s)
    if n_choices is not None and idx >= n_choices:
        return None
    return idx


def cell_keys(df: pd.DataFrame, fmt: str) -> list[str]:
    """Content key of each imported row (see the module docstring)."""
    cols = [
        "model_version",
        "grid_version",
        "item_id",
        "template_id",
        "fewshot_seed",
        "permutation_seed",
        "decoding",
        "temperature",
        "sample_idx",
    ]
    parts = [df[c].astype(object).where(df[c].notna(), None).tolist() for c in cols]
    out = []
    prefix = f"import\x1f{fmt}"
    for row in zip(*parts):
        s = prefix + "".join(f"\x1f{'' if v is None else v}" for v in row)
        out.append(hashlib.sha256(s.encode("utf-8")).hexdigest()[:24])
    return out


_INT_COLS = ("n_fewshot", "fewshot_seed", "permutation_seed", "sample_idx", "predicted_index", "batch_tokens")
_FLOAT_COLS = ("temperature", "top_p", "score", "p_correct", "logprob_gold")


def finish_predictions(
    df: pd.DataFrame, fmt: str, source: str, extra_columns: Sequence[str] = (), defaults: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Fill defaults, compute cell keys, order and type the columns like ``rows_to_frame``.

    Raises:
        ImportFormatError: when two rows get the same cell key (the same model × item × configuration
            imported twice), naming one such item.
    """
    out = df.copy()
    base = {
        "model_version": None,
        "benchmark": None,
        "dataset_version": None,
        "grid_version": None,
        "task_type": "multiple_choice",
        "template_id": "default",
        "n_fewshot": None,
        "fewshot_seed": 0,
        "permutation_seed": 0,
        "decoding": "greedy",
        "temperature": 0.0,
        "top_p": None,
        "sample_idx": 0,
        "device": None,
        "dtype": None,
        "attn_implementation": None,
        "batch_tokens": None,
        "library_versions": None,
        "computed_at": None,
    }
    base.update(defaults or {})
    for col, val in base.items():
        if col not in out.columns:
            out[col] = val
        elif val is not None:
            out[col] = out[col].where(out[col].notna(), val)
    out["model_version"] = out["model_version"].where(out["model_version"].notna(), out["model"])
    if out["grid_version"].isna().any():
        missing = out["grid_version"].isna()
        out.loc[missing, "grid_version"] = "import-" + hash_obj([fmt, source], 12)
    # primary coordinates (as the grid runner marks them): original answer order, seed 0, first sample —
    # every template there is comparable; the headline is primary and, unless the importer says which
    # template leads, every primary row; an importer's own is_primary can only narrow them (lm-eval: the
    # task's primary filter)
    primary = (
        (pd.to_numeric(out["permutation_seed"]) == 0)
        & (pd.to_numeric(out["fewshot_seed"]) == 0)
        & (pd.to_numeric(out["sample_idx"]) == 0)
    )
    if "is_primary" in out.columns:
        primary = primary & out["is_primary"].astype("boolean").fillna(True).astype(bool)
    out["is_primary"] = primary
    out["is_headline"] = (
        out["is_headline"].astype("boolean").fillna(True) if "is_headline" in out.columns else True
    ) & out["is_primary"].astype(bool)
    for col in PREDICTION_COLUMNS:
        if col not in out.columns:
            out[col] = None
    for c in _INT_COLS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    for c in _FLOAT_COLS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    out["is_correct"] = out["is_correct"].astype("boolean")
    out["is_headline"] = out["is_headline"].astype("boolean")
    out["is_primary"] = out["is_primary"].astype("boolean")
    out["cell_key"] = cell_keys(out, fmt)
    dup = out["cell_key"].duplicated(keep=False)
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise ImportFormatError(
            source,
            "duplicate_prediction",
            f"{int(dup.sum())} rows share a (model, item, template, seeds, decoding, sample) cell, e.g. model "
            f"{first['model']!r} item {first['item_id']!r} sample {first['sample_idx']}",
        )
    extras = [c for c in extra_columns if c in out.columns and c not in PREDICTION_COLUMNS]
    return out[PREDICTION_COLUMNS + extras].reset_index(drop=True)


def content_version(files: Iterable[str | Path], fmt: str) -> str:
    """``grid_version`` of an import: hash of the format and the (name, content hash) of the files read,
    so the same files imported from another folder get the same cell keys."""
    return "import-" + hash_obj([fmt, sorted((Path(f).name, hash_file(f)) for f in files)], 12)


def build_items(
    rows: pd.DataFrame, benchmark_col: str = "benchmark", extra_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """Canonical items from a frame with item_id, input, choices (list), gold, gold_index, subject, ….

    ``item_hash`` = hash_strings([task_type, input, *choices, gold]) and ``dataset_version`` =
    hash_obj(sorted((item_id, item_hash))) per benchmark, the formulas of :func:`benchtrust.items.normalise`,
    so an imported item with the same content and id as a loaded one gets the same hash.
    """
    it = rows.copy()
    for col, val in {
        "task_type": "multiple_choice",
        "choices": None,
        "gold": "",
        "gold_index": -1,
        "subject": "",
        "metadata": "{}",
        "source_file": "",
        "source_row": 0,
    }.items():
        if col not in it.columns:
            it[col] = [val if not isinstance(val, list) else list(val) for _ in range(len(it))]
    it["choices"] = [list(c) if isinstance(c, (list, tuple, np.ndarray)) else [] for c in it["choices"]]
    it["input"] = it["input"].fillna("").astype(str)
    it["gold"] = it["gold"].fillna("").astype(str)
    it["item_hash"] = [
        hash_strings([t, i, *c, g]) for t, i, c, g in zip(it["task_type"], it["input"], it["choices"], it["gold"])
    ]
    versions = {
        b: hash_obj(sorted(zip(g["item_id"], g["item_hash"]))) for b, g in it.groupby(benchmark_col, sort=False)
    }
    it["dataset_version"] = it[benchmark_col].map(versions)
    first: dict[tuple[str, str], str] = {}
    dup_of = []
    for b, iid, inp, ch in zip(it[benchmark_col], it["item_id"], it["input"], it["choices"]):
        key = (b, hash_strings([normalise_for_dedup(inp), *map(normalise_for_dedup, ch)]))
        f = first.setdefault(key, iid)
        dup_of.append(f if f != iid else None)
    it["duplicate_of"] = dup_of
    it["is_duplicate"] = it["duplicate_of"].notna()
    it["gold_index"] = pd.to_numeric(it["gold_index"], errors="coerce").fillna(-1).astype("int32")
    it["source_row"] = pd.to_numeric(it["source_row"], errors="coerce").fillna(0).astype("int64")
    extras = [c for c in extra_columns if c in it.columns and c not in ITEM_COLUMNS]
    return it[ITEM_COLUMNS + extras].reset_index(drop=True)


def dataset_versions_from_items(items: pd.DataFrame) -> dict[str, str]:
    versions: dict[str, str] = items.drop_duplicates("benchmark").set_index("benchmark")["dataset_version"].to_dict()
    return versions


def dataset_version_from_ids(item_ids: Iterable[str]) -> str:
    """Fallback dataset version when the source has no item text: hash of the sorted item ids."""
    return hash_obj(sorted(set(item_ids)))


def as_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)
